"""The timeline model both engines share; it imports no engine.

Shot i occupies film time [S_i, S_i + d_i] with S_i = S_{i-1} + d_{i-1} - t_i,
where d is the planned duration (every clip is trimmed to it) and t_i the
transition into shot i.

- cut: nothing overlaps (t = 0).
- crossfade: over the t seconds of overlap the picture dissolves linearly.
- fade: through black, darkest at the midpoint: the first shot fades out over
  the first half of the overlap, the second fades in over the second half.
- sound: over any transition the two clips' sound crossfades linearly; a
  music bed runs under the film, lowered under shots with their own sound,
  and the mix is brought to the loudness target.
- music: a bed shorter than the film repeats (``loop``, the default), each
  copy crossfading linearly into the next over ``LOOP_CROSSFADE`` seconds;
  with ``loop: false`` it plays once. The fade-out ends the music wherever it
  stops: at the film's end, or at the bed's own end when it stops sooner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..plan.types import CutPlan
from .clips import held_frames
from .errors import StitchError as StitchError  # the engines and the render find it here
from .probe import ClipInfo

AUDIO_RATE = 48000
LOOP_CROSSFADE = 1.0  # seconds each repeat of a looping music bed overlaps the one before


@dataclass(frozen=True)
class MusicLayout:
    """Where the copies of a music bed start in the film, and where the music stops."""

    starts: tuple[float, ...]
    overlap: float  # the crossfade between copies
    stop: float  # film time at which the music ends (its fade-out ends here)


def music_layout(bed: float, film: float, loop: bool) -> MusicLayout:
    if not loop or bed >= film or bed <= 0:
        return MusicLayout((0.0,), 0.0, min(bed, film) if bed > 0 else film)
    overlap = min(LOOP_CROSSFADE, bed / 4)
    step = bed - overlap
    count = 1 + math.ceil((film - bed) / step - 1e-9)  # enough copies to reach the film's end
    return MusicLayout(tuple(round(k * step, 6) for k in range(count)), overlap, film)


@dataclass(frozen=True)
class Target:
    width: int
    height: int
    fps: Fraction
    quality: int


@dataclass(frozen=True)
class Piece:
    """One shot's part in the film."""

    shot: str
    key: str
    path: Path
    info: ClipInfo
    duration: float  # planned: the clip is trimmed to it
    start: float  # film time at which this shot's span starts (its sound starts here)
    source_in: float  # picture: where in the clip the visible part starts
    source_out: float  # picture: where it ends
    fade_in: float  # picture fades in from black over this long (a fade transition)
    fade_out: float  # picture fades out to black over this long
    crossfade_in: float  # picture dissolves in from the previous shot over this long
    sound_in: float  # sound fades in over this long (any transition)
    sound_out: float
    sound: bool  # the clip's own sound is heard
    hold: float = 0.0  # the last seconds of the visible part, past the clip's own picture: its last frame held

    @property
    def visible(self) -> float:
        return self.source_out - self.source_in


def pieces(cut: CutPlan, clips: list[Path], infos: list[ClipInfo]) -> list[Piece]:
    out = []
    start = 0.0
    shots = cut.shots
    for i, (cs, path, info) in enumerate(zip(shots, clips, infos)):
        t_in = cs.transition.duration if i else 0.0
        t_out = shots[i + 1].transition.duration if i + 1 < len(shots) else 0.0
        kind_in = cs.transition.type if i else "cut"
        kind_out = shots[i + 1].transition.type if i + 1 < len(shots) else "cut"
        if i:
            start += shots[i - 1].duration - t_in
        source_out = cs.duration - (t_out / 2 if kind_out == "fade" else 0.0)
        out.append(Piece(
            shot=cs.shot, key=cs.key, path=path, info=info, duration=cs.duration, start=start,
            source_in=t_in / 2 if kind_in == "fade" else 0.0,
            source_out=source_out,
            fade_in=t_in / 2 if kind_in == "fade" else 0.0,
            fade_out=t_out / 2 if kind_out == "fade" else 0.0,
            crossfade_in=t_in if kind_in == "crossfade" else 0.0,
            sound_in=t_in, sound_out=t_out,
            sound=info.has_audio and not cs.mute,
            hold=float(held_frames(info, round(source_out * info.fps)) / info.fps) if info.fps else 0.0,
        ))
    return out


def choose_target(cut: CutPlan, infos: list[ClipInfo]) -> Target:
    """The cut's format where given, else the most common among the clips (first wins a tie)."""
    fmt = cut.format
    sizes = [(i.width, i.height) for i in infos]
    rates = [i.fps for i in infos]
    width, height = (fmt.width, fmt.height) if fmt.width and fmt.height else max(sizes, key=sizes.count)
    fps = Fraction(fmt.fps).limit_denominator(1001) if fmt.fps else max(rates, key=rates.count)
    return Target(width - width % 2, height - height % 2, fps, fmt.quality)
