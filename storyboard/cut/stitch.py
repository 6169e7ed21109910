"""The final cut: cached clips to one film, by either engine, atomically.

The timeline model, shared by both engines: shot i occupies film time
[S_i, S_i + d_i] with S_i = S_{i-1} + d_{i-1} - t_i, where d is the planned
duration (every clip is trimmed to it) and t_i the transition into shot i.

- cut: nothing overlaps (t = 0).
- crossfade: over the t seconds of overlap the picture dissolves linearly.
- fade: through black, darkest at the midpoint: the first shot fades out over
  the first half of the overlap, the second fades in over the second half.
- sound: over any transition the two clips' sound crossfades linearly; a
  music bed runs under the film, lowered under shots with their own sound,
  and the mix is brought to the loudness target.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..store.cache import ClipCache
from ..errors import StoryboardError
from ..plan.types import CutPlan, Plan
from .probe import ClipInfo, ProbeError, probe

ENGINES = ("ffmpeg", "moviepy")
AUDIO_RATE = 48000


class StitchError(StoryboardError):
    pass


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
        out.append(Piece(
            shot=cs.shot, key=cs.key, path=path, info=info, duration=cs.duration, start=start,
            source_in=t_in / 2 if kind_in == "fade" else 0.0,
            source_out=cs.duration - (t_out / 2 if kind_out == "fade" else 0.0),
            fade_in=t_in / 2 if kind_in == "fade" else 0.0,
            fade_out=t_out / 2 if kind_out == "fade" else 0.0,
            crossfade_in=t_in if kind_in == "crossfade" else 0.0,
            sound_in=t_in, sound_out=t_out,
            sound=info.has_audio and not cs.mute,
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


def find_clips(plan: Plan, cache: ClipCache, storyboard: str) -> list[Path]:
    """Each cut shot's clip from the cache, or an error naming every missing shot."""
    paths, missing = [], []
    for cs in plan.cut.shots:
        cached = cache.get(cs.key)
        if cached is None:
            missing.append(cs.shot)
        else:
            paths.append(cached.path)
    if missing:
        how = f"storyboard render {storyboard}" + ("" if plan.provider == "wavespeed" else f" --provider {plan.provider}")
        raise StitchError(
            f"no clip in the cache for shot{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(provider {plan.provider}, {plan.origin}); render {'them' if len(missing) > 1 else 'it'} first: `{how}`"
        )
    return paths


def stitch(plan: Plan, root: Path, cache: ClipCache, *, storyboard: str, engine: str = "ffmpeg",
           output: Path | None = None, otio: Path | None = None) -> Path:
    """Cut the film the plan describes from cached clips; returns the output path."""
    if engine not in ENGINES:
        raise StitchError(f"unknown engine `{engine}`; choose ffmpeg or moviepy")
    clips = find_clips(plan, cache, storyboard)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            infos = list(pool.map(probe, clips))
    except ProbeError as exc:
        raise StitchError(f"a cached clip cannot be read: {exc}") from None
    target = choose_target(plan.cut, infos)
    timeline = pieces(plan.cut, clips, infos)
    music = root / plan.cut.music.file if plan.cut.music else None
    output = output or root / plan.cut.output
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.stem}-", suffix=output.suffix)
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory(prefix="storyboard-stitch-") as work:
            if engine == "ffmpeg":
                from .ffmpeg_engine import cut_film
            else:
                from .moviepy_engine import cut_film
            cut_film(plan.cut, timeline, target, music, Path(work), Path(tmp), cache)
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if otio is not None:
        from .otio_export import write_otio

        write_otio(plan, timeline, target, music, otio)
    return output
