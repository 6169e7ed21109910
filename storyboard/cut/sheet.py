"""Contact sheets of a shot's takes, to choose one from.

``video_sheet``: every take playing side by side in a grid, each tile
labelled with its take number (the chosen one marked and framed), as long as
the longest take (a shorter one holds its last frame), with the chosen take's
sound. ``still_sheet``: one PNG, a row per take of its first, middle and last
frames. Both are made from files in the cache; labels are drawn with Pillow
and laid over the picture by ffmpeg, so no font is needed by ffmpeg."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..format.files import work_dir
from .ffmpeg_tools import BITEXACT, ffmpeg
from ..plan.frames import frame_number
from .frames import extract_frame
from .clips import examined, shot_name
from .probe import ClipInfo
from .stitch import written_atomically
from .timeline import StitchError

MAX_WIDTH = 1920  # the sheet's widest: tiles shrink to fit
LABEL_BG, LABEL_INK, CHOSEN = (20, 22, 28, 200), (242, 239, 230, 255), (224, 168, 74, 255)


@dataclass(frozen=True)
class Tile:
    take: int
    clip: Path
    chosen: bool = False
    shot: str | None = None  # named in messages when given

    @property
    def name(self) -> str:
        return shot_name(self.shot, self.take) if self.shot else f"take {self.take}"


def _facts(tiles: list[Tile]) -> list[ClipInfo]:
    """Each take's facts, once every take is known to be a readable video (else an error naming them)."""
    found = [examined(t.clip) for t in tiles]
    problems = [f"{t.name}: its clip is not a readable video ({reason})" for t, (_, reason) in zip(tiles, found) if reason]
    if problems:
        raise StitchError("\n".join(problems) + "\nNo sheet was written; render another take to replace it.")
    return [info for info, _ in found]


def grid(count: int) -> tuple[int, int]:
    """(columns, rows) for ``count`` tiles: as square as it gets, wider than tall."""
    columns = max(1, math.ceil(math.sqrt(count)))
    return columns, max(1, math.ceil(count / columns))


def tile_size(infos: list[ClipInfo], columns: int) -> tuple[int, int]:
    """The largest take's size, shrunk so the grid is at most ``MAX_WIDTH`` wide; even numbers."""
    width = max(i.width for i in infos)
    height = max(i.height for i in infos)
    scale = min(1.0, MAX_WIDTH / (columns * width))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def label_text(tile: Tile) -> str:
    return f"take {tile.take}" + (" (chosen)" if tile.chosen else "")


def _label(draw: ImageDraw.ImageDraw, x: int, y: int, w: int, h: int, text: str, chosen: bool) -> None:
    font = _font(max(12, h // 10))
    size = getattr(font, "size", 12)
    pad = max(3, size // 3)
    box = (x + pad, y + pad, x + pad * 3 + int(draw.textlength(text, font=font)), y + pad * 3 + size)
    draw.rectangle(box, fill=CHOSEN if chosen else LABEL_BG)
    draw.text((box[0] + pad, box[1] + pad // 2), text, fill=(20, 22, 28, 255) if chosen else LABEL_INK, font=font)
    if chosen:
        border = max(2, w // 100)
        for i in range(border):
            draw.rectangle((x + i, y + i, x + w - 1 - i, y + h - 1 - i), outline=CHOSEN)


def _overlay(tiles: list[Tile], columns: int, size: tuple[int, int], canvas: tuple[int, int], dest: Path) -> Path:
    img = Image.new("RGBA", canvas, (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    w, h = size
    for n, tile in enumerate(tiles):
        _label(draw, n % columns * w, n // columns * h, w, h, label_text(tile), tile.chosen)
    img.save(dest)
    return dest


def video_sheet(tiles: list[Tile], dest: Path) -> Path:
    """Write the takes side by side to ``dest`` (MP4); returns ``dest``."""
    infos = _facts(tiles)
    columns, rows = grid(len(tiles))
    w, h = tile_size(infos, columns)
    fps = max(i.fps for i in infos)
    length = max(i.duration for i in infos)
    chosen = next((n for n, t in enumerate(tiles) if t.chosen and infos[n].has_audio), None)
    with work_dir("sheet") as tmp:
        overlay = _overlay(tiles, columns, (w, h), (columns * w, rows * h), Path(tmp) / "labels.png")
        args: list = []
        for tile in tiles:
            args += ["-i", tile.clip]
        args += ["-loop", "1", "-framerate", str(fps), "-i", overlay]
        parts, names = [], []
        for n, info in enumerate(infos):
            parts.append(f"[{n}:v]fps={fps},scale={w}:{h}:force_original_aspect_ratio=decrease,"
                         f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p,"
                         f"tpad=stop_mode=clone:stop_duration={length:.3f},trim=duration={length:.3f}[t{n}]")
            names.append(f"[t{n}]")
        if len(tiles) == 1:
            parts.append(f"{names[0]}null[grid]")
        else:
            layout = "|".join(f"{n % columns * w}_{n // columns * h}" for n in range(len(tiles)))
            parts.append(f"{''.join(names)}xstack=inputs={len(tiles)}:layout={layout}:fill=black[grid]")
        parts.append(f"[grid][{len(tiles)}:v]overlay=0:0:shortest=1,format=yuv420p[v]")
        maps = ["-map", "[v]"]
        if chosen is not None:
            parts.append(f"[{chosen}:a]apad,atrim=duration={length:.3f}[a]")
            maps += ["-map", "[a]", "-c:a", "aac", "-b:a", "128k"]
        args += ["-filter_complex", ";".join(parts), *maps, "-t", f"{length:.3f}", "-c:v", "libx264",
                 "-preset", "veryfast", "-crf", "23", "-threads", "2", *BITEXACT, "-movflags", "+faststart",
                 "-f", "mp4"]
        with written_atomically(dest) as out:
            ffmpeg(args + [out], "making the contact sheet")
    return dest


def still_sheet(tiles: list[Tile], dest: Path) -> Path:
    """Write one PNG to ``dest``: a row per take of its first, middle and last frames."""
    infos = _facts(tiles)
    w, h = tile_size(infos, 3)
    sheet = Image.new("RGB", (3 * w, len(tiles) * h), (0, 0, 0))
    with work_dir("sheet") as tmp:
        for row, (tile, info) in enumerate(zip(tiles, infos)):
            last = max(0, frame_number(info.duration, info.fps) - 1)
            for col, (name, number) in enumerate((("first", 0), ("middle", last // 2), ("last", last))):
                png = extract_frame(tile.clip, number, Path(tmp) / f"{row}-{col}.png")
                with Image.open(png) as frame:
                    frame = frame.convert("RGB")
                    frame.thumbnail((w, h))
                    sheet.paste(frame, (col * w + (w - frame.width) // 2, row * h + (h - frame.height) // 2))
        overlay = Image.new("RGBA", sheet.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for row, tile in enumerate(tiles):
            for col, name in enumerate(("first", "middle", "last")):
                _label(draw, col * w, row * h, w, h, f"{label_text(tile)} · {name}", tile.chosen)
        sheet = Image.alpha_composite(sheet.convert("RGBA"), overlay).convert("RGB")
    with written_atomically(dest) as out:
        sheet.save(out, format="PNG")
    return dest
