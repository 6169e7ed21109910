"""Title and end cards: drawn locally, encoded as clips of the film's setup.

A card is drawn with Pillow in the font Pillow carries (Aileron, built into
its FreeType support: the same letters on every machine, no system font) at
the film's size, then encoded at the film's frame rate, pixel format and time
base, with silent sound at the film's rate and channels when the film has
sound. The cut then treats it as any clip (trimmed by copy, conformed to the
film's H.264 setup once, blended by a transition), and keeps it in the cache
by what it is made of and the setup it was made for: a re-cut draws nothing.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from ..plan.finishing import CardPlan
from ..plan.types import CutShot
from ..store.cache import ClipCache
from .errors import StitchError
from .ffmpeg_tools import BITEXACT
from .probe import ClipInfo, ffmpeg_exe, probe
from .sound import kept_name

CARD_VERSION = 1


@dataclass(frozen=True)
class Setup:
    """What a card must match to join the film: the target picture, and the clips' sound."""

    width: int
    height: int
    fps: Fraction
    quality: int
    tbn: int
    rate: int | None  # None: the film's clips have no sound, nor has the card
    layout: str | None


def setup_for(target, infos: list[ClipInfo]) -> Setup:
    """The card setup of a film of ``target`` cut from clips ``infos`` (their most common time base and sound)."""
    sized = [i for i in infos if (i.width, i.height, i.fps) == (target.width, target.height, target.fps)] or infos
    tbns = [i.tbn for i in sized if i.tbn]
    sounds = [(i.rate, i.layout) for i in infos if i.has_audio and i.acodec == "aac" and i.rate]
    rate, layout = max(sounds, key=sounds.count) if sounds else (None, None)
    tbn = max(tbns, key=tbns.count) if tbns else 0
    return Setup(target.width, target.height, target.fps, target.quality, tbn, rate, layout)


def font(size: int):
    return ImageFont.load_default(size=max(8, size))


def wrapped(text: str, face, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` (a word wider than that has a line to itself)."""
    lines: list[str] = []
    for word in text.split():
        if lines and face.getlength(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _background(card: CardPlan, size: tuple[int, int], root: Path) -> Image.Image:
    if card.image:
        try:
            with Image.open(root / card.image) as img:
                return ImageOps.fit(img.convert("RGB"), size, Image.Resampling.LANCZOS)
        except OSError as exc:
            raise StitchError(f"the title's background image {card.image} cannot be read ({exc})") from None
    return Image.new("RGB", size, card.background)


def _block(lines: list[tuple[str, int]], width: int) -> list[tuple[str, object, int]]:
    """Each (text, size) wrapped to ``width``: (line, face, line height) top to bottom."""
    out = []
    for text, size in lines:
        face = font(size)
        out += [(line, face, int(size * 1.3)) for line in wrapped(text, face, width)]
    return out


def _draw_block(draw: ImageDraw.ImageDraw, block, size: tuple[int, int], top: float, color: str) -> None:
    width = size[0]
    y = top
    for line, face, height in block:
        draw.text(((width - face.getlength(line)) / 2, y), line, fill=color, font=face)
        y += height


def title_image(card: CardPlan, size: tuple[int, int], root: Path) -> Image.Image:
    """The title card, laid out for this frame: the short side sets the letters' size, the width the wrapping."""
    width, height = size
    unit = min(width, height)
    img = _background(card, size, root)
    sizes = [unit // 9] + [unit // 20] * (len(card.lines) - 1)
    block = _block(list(zip(card.lines, sizes)), int(width * 0.84))
    total = sum(h for _, _, h in block)
    _draw_block(ImageDraw.Draw(img), block, size, (height - total) / 2, card.color)
    return img


def credits_strip(card: CardPlan, size: tuple[int, int]) -> Image.Image:
    """The credits' lines on the background, as tall as they need (the whole frame at least)."""
    width, height = size
    block = _block([(line, min(width, height) // 18) for line in card.lines], int(width * 0.84))
    total = sum(h for _, _, h in block)
    img = Image.new("RGB", (width, max(height, total)), card.background)
    _draw_block(ImageDraw.Draw(img), block, img.size, (img.height - total) / 2, card.color)
    return img


def frames(card: CardPlan, size: tuple[int, int], count: int, root: Path):
    """Each frame of the card as an image (a still card: one image, repeated), in order."""
    if card.kind == "title":
        still = title_image(card, size, root)
        return [still] * count
    strip = credits_strip(card, size)
    if not card.rolling:
        top = (strip.height - size[1]) // 2  # too many lines for the frame: the middle of them
        still = strip.crop((0, top, size[0], top + size[1]))
        return [still] * count
    # Rolling: the lines enter at the bottom and leave at the top, at a steady pace.
    tall = Image.new("RGB", (size[0], strip.height + 2 * size[1]), card.background)
    tall.paste(strip, (0, size[1]))
    travel = tall.height - size[1]
    return (tall.crop((0, y, size[0], y + size[1]))  # one frame at a time: a tall film's frames are large
            for y in (round(travel * n / max(1, count - 1)) for n in range(count)))


def card_clip(cs: CutShot, setup: Setup, root: Path, cache: ClipCache, work: Path) -> Path:
    """The card's clip for this film setup, drawn and encoded once and kept in the cache."""
    spec = {"v": CARD_VERSION, "key": cs.key, "w": setup.width, "h": setup.height,
            "fps": f"{setup.fps.numerator}/{setup.fps.denominator}", "q": setup.quality, "tbn": setup.tbn,
            "sound": [setup.rate, setup.layout] if setup.rate else None}
    name = kept_name("cards", spec, ".mp4")
    kept = cache.storage.local_copy(name)
    if kept is not None:
        return kept
    made = work / f"card-{cs.key[:12]}-{setup.width}x{setup.height}.mp4"
    encode(cs, setup, root, made)
    cache.storage.put_file_if_absent(name, made)
    return cache.storage.local_copy(name) or made


def encode(cs: CutShot, setup: Setup, root: Path, out: Path) -> None:
    """Draw the card's frames and encode them (H.264 yuv420p, AAC silence when the film has sound)."""
    count = round(cs.duration * setup.fps)
    images = frames(cs.card, (setup.width, setup.height), count, root)
    rate = f"{setup.fps.numerator}/{setup.fps.denominator}"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{setup.width}x{setup.height}", "-r", rate, "-i", "-"]
    if setup.rate:
        layout = setup.layout or "stereo"
        cmd += ["-f", "lavfi", "-i", f"anullsrc=r={setup.rate}:cl={layout}", "-map", "0:v:0", "-map", "1:a:0",
                "-c:a", "aac", "-b:a", "64k", "-t", f"{float(count / setup.fps):.6f}"]
    cmd += ["-frames:v", str(count), "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage",
            "-crf", str(setup.quality), "-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "bt709",
            "-color_primaries", "bt709", "-color_trc", "bt709", "-vf", "scale=out_color_matrix=bt709:out_range=tv",
            "-threads", "1", "-x264-params", "threads=1"]
    if setup.tbn:
        cmd += ["-video_track_timescale", str(setup.tbn)]
    cmd += [*BITEXACT, "-f", "mp4", str(out)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.PIPE, stderr=err)
        try:
            last = None
            for image in images:
                if image is not last:
                    data, last = image.tobytes(), image
                proc.stdin.write(data)
        except BrokenPipeError:
            pass
        finally:
            proc.stdin.close()
        proc.wait()
        err.seek(0)
        message = err.read().decode(errors="replace").strip()[:300]
    if proc.returncode != 0:
        raise StitchError(f"drawing the {cs.card.kind} card failed: {message}")


def with_cards(cut, clips: list[Path], infos: list[ClipInfo], target, root: Path, cache: ClipCache,
               work: Path) -> tuple[list[Path], list[ClipInfo]]:
    """The film's clips and their facts with each card's clip in its place, made for ``target``."""
    if all(cs.card is None for cs in cut.shots):
        return clips, infos
    setup = setup_for(target, infos)
    shot_clips, shot_infos = iter(clips), iter(infos)
    all_clips, all_infos = [], []
    for cs in cut.shots:
        if cs.card is None:
            all_clips.append(next(shot_clips))
            all_infos.append(next(shot_infos))
        else:
            path = card_clip(cs, setup, root, cache, work)
            all_clips.append(path)
            all_infos.append(probe(path))
    return all_clips, all_infos
