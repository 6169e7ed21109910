"""The preview provider: each shot as an animatic card, offline and free.

A card shows what the paid render will be asked for, for the planned duration
at the planned aspect ratio: the shot id, its take number and model, the rendered prompt, each
multi-prompt beat during its own seconds (the current one lit), what sound
the shot will have (generated, the reference video's own, or none), the
reference video it follows, and the reference images as thumbnails, the
first and last frames labelled as such; a running timer and a progress bar.
A shot with generated sound gets a soft tone; one that keeps its reference
video's sound gets that sound. Frames are drawn with Pillow and encoded by
the ffmpeg that moviepy ships.
"""

from __future__ import annotations

import subprocess
import tempfile
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..plan.types import Job
from . import ProviderError

SIZES = {"16:9": (640, 360), "9:16": (360, 640), "1:1": (480, 480)}
FPS = 24
BACKGROUND, INK, DIM, ACCENT = "#14161c", "#f2efe6", "#8a8f9c", "#e0a84a"


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def has_sound(job: Job) -> bool:
    request = job.request
    return bool(request.get("sound")) or bool(request.get("video") and request.get("keep_original_sound"))


def sound_label(job: Job) -> str:
    request = job.request
    if request.get("video") and request.get("keep_original_sound"):
        return "sound: the reference video's own"
    if request.get("sound"):
        return "sound: generated"
    return "sound: none"


def _thumbs(job: Job, root: Path) -> list[tuple[Path, str]]:
    """(image, label) for each reference image: first and last frames named."""
    request, out = job.request, []
    for slot, label in (("image", "first frame"), ("end_image", "last frame")):
        if request.get(slot) in job.media:
            out.append((root / job.media[request[slot]], label))
    for digest in request.get("images") or []:
        if digest in job.media:
            out.append((root / job.media[digest], "reference"))
    return out


def card(job: Job, root: Path, size: tuple[int, int], beat: int | None = None) -> Image.Image:
    """The still part of the card for one beat (or the whole shot)."""
    width, height = size
    img = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(img)
    margin = width // 20
    title = _font(max(16, width // 18))
    draw.text((margin, margin), job.shot, fill=ACCENT, font=title)
    take = f"take {job.take}"  # a take is the same request again: the number tells the cards apart
    draw.text((width - margin - draw.textlength(take, font=title), margin), take, fill=INK, font=title)
    small = _font(max(10, width // 48))
    draw.text((margin, margin + width // 14), f"{job.model.split('/', 1)[-1]} · {sound_label(job)}", fill=DIM, font=small)
    if job.request.get("video") in job.media:
        draw.text((margin, margin + width // 14 + int(getattr(small, "size", 10) * 1.4)),
                  f"follows the video {job.media[job.request['video']]}", fill=DIM, font=small)
    body_font = _font(max(11, width // 34))
    line_height = int(getattr(body_font, "size", 12) * 1.35)
    chars = max(20, int(width / (body_font.size * 0.55))) if hasattr(body_font, "size") else 60
    thumbs = _thumbs(job, root)
    # The text keeps clear of what sits below it: the thumbnails, else the timer and the progress bar.
    bottom = (_thumb_top(width, height, margin) if thumbs else height - 30) - 4
    y = margin + width // 8
    beats = len(job.request.get("multi_prompt") or [])
    beat_height = int(getattr(small, "size", 10) * 1.5)
    room = (bottom - y - line_height // 2 - min(beats, 3) * beat_height) // line_height  # at least 3 beats shown
    lines = textwrap.wrap(str(job.request.get("prompt", "")), chars)
    keep = max(1, min(max(2, height // 90), room))
    if len(lines) > keep:  # the rest of the prompt is cut, and says so
        lines = lines[:keep - 1] + [textwrap.shorten(" ".join(lines[keep - 1:]), chars, placeholder=" …")]
    for line in lines:
        draw.text((margin, y), line, fill=INK, font=body_font)
        y += line_height
    _beats(draw, job, beat, (margin, y + line_height // 2), chars, small, bottom)
    _paste_thumbs(img, draw, thumbs, width, height, margin, small)
    return img


def _beats(draw, job: Job, beat: int | None, at: tuple[int, int], chars: int, font, bottom: int) -> int:
    """The beats, the current one lit; as many as fit above ``bottom``, around the current one."""
    x, y = at
    step = int(getattr(font, "size", 10) * 1.5)
    rows, start = [], 0
    for n, segment in enumerate(job.request.get("multi_prompt") or []):
        end = start + int(segment.get("duration", 0))
        rows.append(f"{n + 1}. {start}-{end} s  {segment.get('prompt', '')}")
        start = end
    fits = max(1, (bottom - y) // step)
    first = min(max(0, (beat or 0) - fits // 2), max(0, len(rows) - fits))
    for n in range(first, min(len(rows), first + fits)):
        draw.text((x, y), textwrap.shorten(rows[n], chars + 10), fill=ACCENT if n == beat else DIM, font=font)
        y += step
    return y


def _thumb_size(width: int, height: int) -> int:
    return max(32, min(height // 4, width // 8))


def _thumb_top(width: int, height: int, margin: int) -> int:
    return height - margin - _thumb_size(width, height) - 24


def _paste_thumbs(img, draw, thumbs, width: int, height: int, margin: int, font) -> None:
    thumb = _thumb_size(width, height)
    x = margin
    for path, label in thumbs[:7]:
        try:
            with Image.open(path) as ref:
                ref = ref.convert("RGB")
                ref.thumbnail((thumb, thumb))
                top = _thumb_top(width, height, margin)
                img.paste(ref, (x, top))
                if label != "reference":
                    draw.text((x, top + ref.height + 3), label, fill=ACCENT, font=font)
                x += thumb + 8
        except OSError:
            continue


def beat_at(job: Job, t: float) -> int | None:
    """The multi-prompt segment playing at ``t`` seconds, if the shot has segments."""
    start = 0.0
    segments = job.request.get("multi_prompt") or []
    for n, segment in enumerate(segments):
        start += float(segment.get("duration", 0))
        if t < start:
            return n
    return len(segments) - 1 if segments else None


def frames(job: Job, root: Path, size: tuple[int, int], seconds: float):
    """Each frame's RGB bytes: the card of the current beat, with a timer and a progress bar."""
    width, height = size
    font = _font(max(10, width // 40))
    total = int(round(seconds * FPS))
    bases: dict[int | None, Image.Image] = {}
    for i in range(total):
        t = i / FPS
        beat = beat_at(job, t)
        if beat not in bases:
            bases[beat] = card(job, root, size, beat)
        frame = bases[beat].copy()
        draw = ImageDraw.Draw(frame)
        draw.rectangle((0, height - 6, int(width * (i + 1) / total), height), fill=ACCENT)
        draw.text((width - width // 4, height - 26), f"{t:05.2f} / {seconds:.2f} s", fill=INK, font=font)
        yield frame.tobytes()


def render_card(job: Job, root: Path, dest: Path) -> None:
    """Write the job's animatic card to ``dest`` (MP4, H.264, AAC when it has sound)."""
    import imageio_ffmpeg

    size = SIZES.get(str(job.request.get("aspect_ratio", "16:9")), SIZES["16:9"])
    seconds = float(job.duration)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", str(FPS), "-i", "-"]
    video = job.media.get(job.request.get("video", ""))
    if video and job.request.get("keep_original_sound"):  # the reference video's own sound, as the render keeps it
        cmd += ["-i", str(root / video), "-map", "0:v:0", "-map", "1:a:0?", "-af", f"apad,atrim=0:{seconds}",
                "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-ar", "48000"]
    elif has_sound(job):
        cmd += ["-f", "lavfi", "-i", f"sine=f=330:r=48000:d={seconds}", "-af", "volume=0.15",
                "-c:a", "aac", "-b:a", "64k", "-ac", "2"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p", "-t", f"{seconds}",
            "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1", "-f", "mp4", str(dest)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
        try:
            for frame in frames(job, root, size, seconds):
                proc.stdin.write(frame)
        except BrokenPipeError:
            pass
        finally:
            proc.stdin.close()
        proc.wait()
        err.seek(0)
        message = err.read().decode(errors="replace").strip()[:300]
    if proc.returncode != 0:
        raise ProviderError(f"preview: ffmpeg failed: {message}")
