"""The preview provider: each shot as an animatic card, offline and free.

A card shows the shot id, the rendered prompt (wrapped), the reference
images as thumbnails and a running timer, for the planned duration at the
planned aspect ratio, with a soft tone when the shot has sound. Frames are
drawn with Pillow and encoded by the ffmpeg that moviepy ships.
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


def card(job: Job, images: list[Path], size: tuple[int, int]) -> Image.Image:
    """The still part of the card: id, prompt, thumbnails."""
    width, height = size
    img = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(img)
    margin = width // 20
    draw.text((margin, margin), job.shot, fill=ACCENT, font=_font(max(16, width // 18)))
    draw.text((margin, margin + width // 14), job.model.split("/", 1)[-1], fill=DIM, font=_font(max(10, width // 48)))
    body_font = _font(max(11, width // 34))
    chars = max(20, int(width / (body_font.size * 0.55))) if hasattr(body_font, "size") else 60
    prompt = str(job.request.get("prompt", ""))
    lines = textwrap.wrap(prompt, chars)[: max(3, height // 60)]
    y = margin + width // 8
    for line in lines:
        draw.text((margin, y), line, fill=INK, font=body_font)
        y += int(getattr(body_font, "size", 12) * 1.35)
    thumb = max(32, min(height // 4, width // 8))
    x = margin
    for path in images[:7]:
        try:
            with Image.open(path) as ref:
                ref = ref.convert("RGB")
                ref.thumbnail((thumb, thumb))
                img.paste(ref, (x, height - margin - thumb - 24))
                x += thumb + 8
        except OSError:
            continue
    return img


def frames(base: Image.Image, seconds: float):
    """Each frame's RGB bytes: the card with a timer and a progress bar."""
    width, height = base.size
    font = _font(max(10, width // 40))
    total = int(round(seconds * FPS))
    for i in range(total):
        frame = base.copy()
        draw = ImageDraw.Draw(frame)
        t = i / FPS
        draw.rectangle((0, height - 6, int(width * (i + 1) / total), height), fill=ACCENT)
        draw.text((width - width // 4, height - 26), f"{t:05.2f} / {seconds:.2f} s", fill=INK, font=font)
        yield frame.tobytes()


def render_card(job: Job, images: list[Path], dest: Path) -> None:
    """Write the job's animatic card to ``dest`` (MP4, H.264, AAC when it has sound)."""
    import imageio_ffmpeg

    size = SIZES.get(str(job.request.get("aspect_ratio", "16:9")), SIZES["16:9"])
    seconds = float(job.duration)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", str(FPS), "-i", "-"]
    if has_sound(job):
        cmd += ["-f", "lavfi", "-i", f"sine=f=330:r=48000:d={seconds}", "-af", "volume=0.15",
                "-c:a", "aac", "-b:a", "64k", "-ac", "2"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p", "-t", f"{seconds}",
            "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1", "-f", "mp4", str(dest)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
        try:
            for frame in frames(card(job, images, size), seconds):
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
