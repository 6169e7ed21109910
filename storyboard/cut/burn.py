"""Captions burned into the picture (``cut.captions: burn``).

Each cue is drawn once with Pillow — white text, a black outline, wrapped to
nine tenths of the frame's width — in the font Pillow itself ships (Aileron,
embedded in the library: no system font is read), and laid over the film's
frames from the cue's first frame to its last by ffmpeg's ``overlay``,
counted in frames (``n``), not seconds. Only the caption's box changes; but
the picture is encoded once more as a whole, which costs about what
conforming every clip would (the README gives the measured cost). The burned
film is kept in the cache by the film's bytes and its captions, so a re-cut
that changes neither encodes nothing. Both engines burn the same way, after
their cut, so they agree.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..format.captions import CaptionStyle
from ..plan.types import CutPlan
from ..store.cache import ClipCache, file_sha256
from .captions import Cue, cues
from .ffmpeg_tools import BITEXACT, ffmpeg
from .mp4 import tracks
from .sound import kept_name
from .timeline import Piece, Target

WRAP = 0.9  # of the frame's width
BURN_VERSION = 1  # of how captions are drawn: a new one draws them again


@dataclass(frozen=True)
class Drawn:
    """A cue's caption as an RGBA image, and where its top left corner sits in the frame."""

    image: object  # PIL.Image.Image
    x: int
    y: int


def _font(px: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=px)  # Pillow's own FreeType font (Pillow >= 10.1)


def _wrapped(text: str, font, width: float) -> list[str]:
    lines = []
    for paragraph in text.splitlines():
        words, line = paragraph.split(), ""
        for word in words:
            trial = f"{line} {word}".strip()
            if line and font.getlength(trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def draw(text: str, style: CaptionStyle, width: int, height: int) -> Drawn:
    """The caption drawn for a ``width`` × ``height`` frame, cropped to its box."""
    from PIL import Image, ImageDraw

    px = max(8, round(style.size * height))
    stroke = round(style.outline * px)
    font = _font(px)
    text = "\n".join(_wrapped(text, font, width * WRAP - 2 * stroke))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    spacing = px // 4
    left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font, align="center", spacing=spacing,
                                                        stroke_width=stroke)
    w, h = int(right - left) + 2, int(bottom - top) + 2
    w, h = min(w + w % 2, width), min(h + h % 2, height)  # even: the picture's colours are halved
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(image).multiline_text((1 - int(left), 1 - int(top)), text, font=font, fill=(255, 255, 255, 255),
                                         align="center", spacing=spacing, stroke_width=stroke,
                                         stroke_fill=(0, 0, 0, 255))
    margin = round(style.margin * height)
    y = {"bottom": height - margin - h, "top": margin, "middle": (height - h) // 2}[style.position]
    x = (width - w) // 2
    return Drawn(image, x - x % 2, max(0, y - y % 2))


def box(text: str, style: CaptionStyle, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the caption's box in the frame: the only pixels burning changes."""
    d = draw(text, style, width, height)
    return d.x, d.y, d.x + d.image.width, d.y + d.image.height


def burn(film: Path, found: list[Cue], style: CaptionStyle, target: Target, work: Path,
         cache: ClipCache | None = None) -> None:
    """Draw ``found`` into ``film``'s picture in place; its sound and its timing are kept. The
    result is kept in the cache by the film's bytes and the captions, so a re-cut that changes
    neither costs a copy."""
    if not found:
        return
    spec = {"v": BURN_VERSION, "film": file_sha256(film), "style": style.model_dump(mode="json"),
            "cues": [[c.first, c.last, c.text] for c in found], "target": [target.width, target.height, target.quality]}
    name = kept_name("burned", spec, film.suffix)
    kept = cache.storage.local_copy(name) if cache is not None else None
    if kept is not None:
        shutil.copyfile(kept, film)
        return
    _burn(film, found, style, target, work)
    if cache is not None:
        cache.storage.put_file_if_absent(name, film)


def _burn(film: Path, found: list[Cue], style: CaptionStyle, target: Target, work: Path) -> None:
    from .ffmpeg_engine import x264

    inputs, graph, last = ["-i", film], [], "0:v:0"
    for n, cue in enumerate(found):
        drawn = draw(cue.text, style, target.width, target.height)
        png = work / f"caption{n:04d}.png"
        drawn.image.save(png)
        inputs += ["-i", png]
        label = f"c{n}"
        graph.append(f"[{last}][{n + 1}:v:0]overlay=x={drawn.x}:y={drawn.y}:eof_action=repeat"
                     f":enable='between(n,{cue.first},{cue.last - 1})'[{label}]")
        last = label
    graph.append(f"[{last}]format=yuv420p[picture]")
    video = tracks(film).get(b"vide")
    timescale = ["-video_track_timescale", video.timescale] if video is not None else []
    burned = work / f"burned{film.suffix}"
    script = work / "burn.filter"
    script.write_text(";".join(graph))
    ffmpeg([*inputs, "-/filter_complex", script, "-map", "[picture]", "-map", "0:a?", "-c:a", "copy",
            "-fps_mode", "passthrough", *x264(target), *timescale, "-movflags", "+faststart", *BITEXACT, burned],
           "burning the captions into the picture")
    os.replace(burned, film)


def finish_captions(cut: CutPlan, timeline: list[Piece], target: Target, film: Path, work: Path,
                    cache: ClipCache | None = None) -> list[Cue]:
    """The film's cues, burned into ``film`` when the cut says ``burn`` (the engines wrote the soft
    track already); the caller writes them beside the film."""
    if cut.captions is None:
        return []
    found = cues(cut.captions, timeline, target.fps, cut.duration)
    if cut.captions.style.mode == "burn":
        burn(film, found, cut.captions.style, target, work, cache)
    return found
