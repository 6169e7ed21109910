"""The music bed under the film: looped, ducked under shots with their own
sound, faded in and out, all on the film's timeline.

``sound`` mixes it stretch by stretch: each stretch of the film's sound gets
the bed's sound over the same seconds of the film (cut from the whole film's
bed, made once a cut when a stretch needs it), is measured for loudness with
it, and encoded with it. Each stretch is kept by what it
is made of, and the bed's filters for a stretch name only the shots whose
ducking reaches it: choosing another take of one shot mixes and encodes that
shot's stretch again, not the film's."""

from __future__ import annotations

from pathlib import Path

from ..plan.types import CutPlan
from .ffmpeg_tools import audio_length
from .sound import FORMAT, Bed, digest_of
from .timeline import Piece, music_layout

REACH = 0.1  # s: the ducking is decided a frame of sound at a time; spans this near a stretch count


def bed(cut: CutPlan, timeline: list[Piece], music: Path) -> Bed:
    """The bed of ``cut.music`` (read from ``music``) under the film of ``timeline``."""
    m = cut.music
    length = cut.duration
    layout = music_layout(audio_length(music), length, m.loop)
    fade_at = max(0.0, layout.stop - m.fade_out)  # the fade-out ends where the music ends

    def chain(start: float, end: float, source: str, label: str) -> str:
        parts, head = [], f"[{source}]{FORMAT}"
        copies = len(layout.starts)
        if copies > 1:  # copies of the bed, each crossfading linearly into the next
            parts.append(head + f",asplit={copies}" + "".join(f"[{label}c{k}]" for k in range(copies)))
            acc = f"{label}c0"
            for k in range(1, copies):
                parts.append(f"[{acc}][{label}c{k}]acrossfade=d={layout.overlap:.6f}:c1=tri:c2=tri[{label}l{k}]")
                acc = f"{label}l{k}"
            head = f"[{acc}]anull"
        parts.append(f"{head},apad,atrim=0:{length:.6f},asetpts=PTS-STARTPTS,"
                     f"volume='{music_gain_expr(cut, timeline, start, end)}':eval=frame,"
                     f"afade=t=in:d={m.fade_in:.6f},afade=t=out:st={fade_at:.6f}:d={m.fade_out:.6f},"
                     f"atrim={start:.6f}:{end:.6f},asetpts=PTS-STARTPTS[{label}]")
        return ";".join(parts)

    return Bed(music, m.digest or digest_of(music), chain, length)


def music_gain_expr(cut: CutPlan, timeline: list[Piece], start: float = 0.0, end: float = float("inf")) -> str:
    """The bed's gain at time ``t`` of the film, for times in [start, end]: ducked under shots with sound."""
    spans = [f"between(t,{p.start:.6f},{p.start + p.duration:.6f})" for p in timeline
             if p.sound and p.start < end + REACH and p.start + p.duration > start - REACH]
    if not spans or cut.music.duck == 1:
        return f"{cut.music.volume:.6f}"
    return f"{cut.music.volume:.6f}*if({'+'.join(spans)},{cut.music.duck:.6f},1)"
