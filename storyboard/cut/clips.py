"""What the cut asks of each clip before it writes anything: that it is a video
it can read, and that its picture lasts about as long as the plan says.

Generated clips routinely run a few frames long or short. A longer clip is
cut to its planned frames. A shorter one, by at most ``HOLD_LIMIT``, has its
last frame held to the planned length and its sound padded with silence, in
both engines: the film keeps the planned timeline, so every later shot starts
with its own sound. Half a second covers the few frames providers are off by
(twelve at 24 fps) and is still a held beat, not a stalled picture; a limit
that grew with the shot would freeze a 15 s shot for 1.5 s. A clip shorter
than that is refused, with the shot, its take, both lengths and what to do.

A file that is not a readable video (empty, a web page, cut short, not a
video at all) is named by its shot and take, never by its cache path alone.
Every problem of every shot is reported at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .errors import ProbeError, StitchError
from .mp4 import read_moov, tracks
from .probe import ClipInfo, probe

HOLD_LIMIT = 0.5  # seconds of a clip's last frame the cut holds, at most, where the clip runs short


@dataclass(frozen=True)
class ShotClip:
    """One shot's clip as the cut will use it."""

    name: str  # how messages name it: "shot two (take 1)"
    path: Path
    planned: float  # seconds (0: the clip's own length)


def shot_name(shot: str, take: int) -> str:
    return f"shot {shot} (take {take})"


def unreadable(path: Path) -> str | None:
    """Why ``path`` is not a video the cut can read (in a few words), or None."""
    return examined(path)[1]


def examined(path: Path) -> tuple[ClipInfo | None, str | None]:
    """The clip's facts, or why ``path`` is not a video the cut can read (in a few words)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as exc:
        return None, f"it cannot be opened: {exc.strerror or exc}"
    if size == 0:
        return None, "the file is empty"
    try:
        info = probe(path)
    except ProbeError:
        return None, _what_it_is(path, head)
    if info.frames == 0:
        return None, "it holds no picture"
    end = max((offset + length for track in tracks(path).values() for offset, length in track.samples), default=0)
    if end > size:
        return None, f"it stops after {size} bytes, before the {end} its index describes: a download cut short"
    return info, None


def _what_it_is(path: Path, head: bytes) -> str:
    if head[4:8] == b"ftyp" and read_moov(path) is None:
        return "an MP4 file without its index (moov): a download cut short"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        return "it is a web page or other text, not a video"
    if text.startswith((b"{", b"[")):
        return "it is JSON text, not a video"
    return "ffmpeg cannot read a picture from it"


def checked(clips: list[ShotClip], advice: str) -> list[ClipInfo]:
    """Each clip's facts, once every clip is known to be a readable video long enough to cut
    (``HOLD_LIMIT``); else a StitchError naming every shot that is not, then ``advice``."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda c: examined(c.path), clips))
    problems = [f"{c.name}: its clip is not a readable video ({reason})"
                for c, (_, reason) in zip(clips, found) if reason]
    infos = [info for info, _ in found]
    for c, info in zip(clips, infos):
        short = c.planned - info.picture if info is not None and c.planned else 0.0
        if short > HOLD_LIMIT + 1e-6:
            problems.append(f"{c.name}: its clip is {info.picture:.2f} s long, {short:.2f} s shorter than the "
                            f"{c.planned:g} s planned (the cut holds a last frame for {HOLD_LIMIT:g} s at most)")
    if problems:
        raise StitchError("\n".join(problems) + "\n" + advice)
    return infos


def held_frames(info: ClipInfo, frames: int) -> int:
    """How many of ``frames`` (at the clip's own rate) are its last frame held, because it has fewer."""
    if info.frames is None:
        return max(0, frames - round(info.duration * info.fps))
    return max(0, frames - info.frames)
