"""Captions on the film's timeline: cues to the frame, and the ``.srt`` and ``.vtt`` files.

Each caption is timed in its shot's clip (``plan/captions``); a clip's time c
plays at film time S + c, where S is where the shot's span starts on the
timeline (``timeline.pieces``: transitions overlap the spans, a fade's first
half still counts as the shot's). Times are rounded to the film's frames.
Within one shot, captions that overlap are shown together (one cue, a line
each); where a shot's captions run into the next shot's, the later shot's
start ends the earlier one, so no two cues overlap (a soft subtitle track
cannot show two samples at once).

``place`` works on plain spans, so anything that adds to the timeline (a
title card before the first shot) moves the cues by giving its own spans.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..plan.captions import CaptionItem, CaptionsPlan
from .timeline import Piece


@dataclass(frozen=True)
class Cue:
    """Text shown from frame ``first`` of the film up to (not including) frame ``last``."""

    first: int
    last: int
    text: str
    shot: str
    fps: Fraction

    @property
    def start(self) -> float:
        return float(self.first / self.fps)

    @property
    def end(self) -> float:
        return float(self.last / self.fps)


@dataclass(frozen=True)
class Span:
    """Where a shot's clip time 0 plays in the film, and its planned length."""

    shot: str
    start: float
    duration: float


def cues(captions: CaptionsPlan | None, timeline: list[Piece], fps: Fraction, length: float) -> list[Cue]:
    """The film's cues, in order and never overlapping."""
    return place(captions, [Span(p.shot, p.start, p.duration) for p in timeline], fps, length)


def place(captions: CaptionsPlan | None, spans: list[Span], fps: Fraction, length: float) -> list[Cue]:
    if captions is None:
        return []
    end_of_film = round(length * fps)
    out: list[Cue] = []
    for span in spans:
        items = captions.shots.get(span.shot)
        if not items:
            continue
        timed = []
        for item, (a, b) in zip(items, seconds_in_shot(items, span.duration)):
            first = min(max(round((span.start + a) * fps), 0), end_of_film)
            last = min(max(round((span.start + b) * fps), 0), end_of_film)
            text = _clean(item.text)
            if last > first and text:
                timed.append((first, last, text))
        for cue in _flattened(timed, span.shot, fps):
            while out and out[-1].last > cue.first:  # the later shot's caption ends the earlier one's
                cut = out.pop()
                if cue.first > cut.first:
                    out.append(Cue(cut.first, cue.first, cut.text, cut.shot, fps))
                    break
            out.append(cue)
    return out


def seconds_in_shot(items: list[CaptionItem], duration: float) -> list[tuple[float, float]]:
    """Each item's (start, end) in its shot, clipped to the shot; untimed items share it evenly."""
    shared = [i for i, item in enumerate(items) if item.start is None]
    out = []
    for i, item in enumerate(items):
        if item.start is None:
            k = shared.index(i)
            a, b = duration * k / len(shared), duration * (k + 1) / len(shared)
        else:
            a, b = item.start, item.end if item.end is not None else duration
        out.append((max(0.0, min(a, duration)), max(0.0, min(b, duration))))
    return out


def _flattened(timed: list[tuple[int, int, str]], shot: str, fps: Fraction) -> list[Cue]:
    """One shot's captions as cues that do not overlap: where several play, one cue shows them all."""
    edges = sorted({f for first, last, _ in timed for f in (first, last)})
    out: list[Cue] = []
    for a, b in zip(edges, edges[1:]):
        text = "\n".join(t for first, last, t in timed if first <= a and last >= b)
        if not text:
            continue
        if out and out[-1].last == a and out[-1].text == text:
            out[-1] = Cue(out[-1].first, b, text, shot, fps)
        else:
            out.append(Cue(a, b, text, shot, fps))
    return out


def _clean(text: str) -> str:
    # an empty line ends a cue in SRT and VTT: keep the text's lines, not its blank ones
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


# -- files --

def _clock(cue_frame: int, fps: Fraction, comma: bool) -> str:
    ms = round(cue_frame * 1000 / fps)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{',' if comma else '.'}{ms:03d}"


def srt(found: list[Cue]) -> str:
    return "".join(f"{n}\n{_clock(c.first, c.fps, True)} --> {_clock(c.last, c.fps, True)}\n{c.text}\n\n"
                   for n, c in enumerate(found, 1))


def vtt(found: list[Cue]) -> str:
    body = "".join(f"{_clock(c.first, c.fps, False)} --> {_clock(c.last, c.fps, False)}\n{_escaped(c.text)}\n\n"
                   for c in found)
    return "WEBVTT\n\n" + body


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sidecars(film: Path) -> tuple[Path, Path]:
    """The ``.srt`` and ``.vtt`` files beside ``film``."""
    return film.with_suffix(".srt"), film.with_suffix(".vtt")


def write_sidecars(film: Path, found: list[Cue]) -> tuple[Path, Path]:
    """``found`` as ``<film>.srt`` and ``<film>.vtt``, each written atomically."""
    out = sidecars(film)
    for path, text in zip(out, (srt(found), vtt(found))):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-{os.getpid()}-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return out

