"""The film's captions in the plan: each shot's dialogue and captions, timed within the shot.

Times here are seconds into the shot's clip (its planned length). The cut
places them on the film's timeline (``cut/captions``), where transitions move
the shots. Lines without times share their shot's (or segment's) time evenly;
a shot whose length is known only from its clip (a URL video) keeps them
untimed, and the cut shares its clip's length.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..format.captions import CaptionStyle, DialogueLine, caption_style
from ..format.model import Segment, Shot, Storyboard
from ..format.source import Reporter


class CaptionItem(BaseModel):
    """One caption of a shot: its text and its seconds within the shot (None: shared at the cut)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    start: float | None = Field(description="Seconds into the shot; null: the shot's length shared evenly.")
    end: float | None
    kind: Literal["dialogue", "caption"] = "dialogue"
    speaker: str | None = None


class CaptionsPlan(BaseModel):
    """How the film shows its captions, and each shot's captions by shot id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    style: CaptionStyle
    shots: dict[str, list[CaptionItem]]


def captions_plan(sb: Storyboard, durations: dict[str, float], reporter: Reporter) -> CaptionsPlan | None:
    """The captions of the cut's shots (``durations``: each cut shot's planned length, 0 if
    unknown); None when no shot has any or the cut shows none."""
    style = caption_style(sb.cut.captions)
    shots: dict[str, list[CaptionItem]] = {}
    names = {key: c.name if c.name is not None else key for key, c in sb.characters.items()}
    for n, shot in enumerate(sb.shots):
        if shot.id not in durations or shot.id in shots:
            continue
        items = _shot_items(shot, n, durations[shot.id], names, style.speakers, reporter)
        if items:
            shots[shot.id] = items
    if not shots or style.mode == "off":
        return None
    return CaptionsPlan(style=style, shots=shots)


def _shot_items(shot: Shot, n: int, duration: float, names: dict[str, str], speakers: bool,
                reporter: Reporter) -> list[CaptionItem]:
    spans: list[tuple[Shot | Segment, float, float | None, tuple]] = [(shot, 0.0, duration or None, ("shots", n))]
    at = 0.0
    for i, segment in enumerate(shot.multi_prompt or []):
        spans.append((segment, at, at + segment.duration, ("shots", n, "multi_prompt", i)))
        at += segment.duration
    out = []
    for holder, start, end, path in spans:
        if holder.caption:
            out.append(CaptionItem(text=holder.caption, start=start if end else None, end=end, kind="caption"))
        out += _lines(holder.dialogue, start, end, path, names, speakers, reporter)
    return out


def _lines(lines: list[DialogueLine], start: float, end: float | None, path: tuple, names: dict[str, str],
           speakers: bool, reporter: Reporter) -> list[CaptionItem]:
    """Each line's item: its own times moved to the span's start, or an even share of the span."""
    shared = [d for d in lines if d.start is None and d.end is None]
    length = (end - start) if end is not None else None
    out, k = [], 0
    for i, d in enumerate(lines):
        name = names.get(d.speaker, d.speaker)
        text = f"{name}: {d.line}" if speakers else d.line
        if d.start is None and d.end is None:
            a = None if length is None else start + length * k / len(shared)
            b = None if length is None else start + length * (k + 1) / len(shared)
            k += 1
        else:
            a, b = start + (d.start or 0.0), start + d.end if d.end is not None else end
            if not _fits(d, length, path + ("dialogue", i), reporter):
                continue
        out.append(CaptionItem(text=text, start=_r(a), end=_r(b), speaker=name))
    return out


def _fits(d: DialogueLine, length: float | None, path: tuple, reporter: Reporter) -> bool:
    start = d.start or 0.0
    if d.end is not None and d.end <= start:
        reporter.error(path + ("end",), f"the line ends ({d.end:g} s) before it starts ({start:g} s)")
        return False
    if length is None:
        if d.end is None:
            reporter.error(path, "this shot's length is known only from its clip: give the line an `end` too")
            return False
        return True
    for key, value in (("start", d.start), ("end", d.end)):
        if value is not None and value > length + 1e-9:
            reporter.error(path + (key,), f"{key} {value:g} s is past the end of its "
                           f"{'segment' if 'multi_prompt' in path else 'shot'} ({length:g} s)")
            return False
    return True


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
