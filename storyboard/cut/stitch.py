"""The final cut: find the cached clips, probe them, lay out the timeline,
pick the engine, and write the film atomically (and the OTIO timeline).

The timeline model is in ``timeline``; the engines sit below this module and
never import it.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from ..format.files import TEMP_PREFIX, remove_stale, work_dir
from ..plan.types import Plan
from ..store.cache import ClipCache
from .burn import finish_captions
from .captions import write_sidecars
from .clips import ShotClip, checked, shot_name
from .probe import ClipInfo
from .timeline import StitchError, choose_target, pieces
from .cards import with_cards

ENGINES = ("ffmpeg", "moviepy")

__all__ = ["ENGINES", "StitchError", "find_clips", "stitch"]


def find_clips(plan: Plan, cache: ClipCache, storyboard: str) -> list[Path]:
    """Each cut shot's clip from the cache, or an error naming every missing shot."""
    paths, missing = [], []
    for cs in plan.cut.shots:
        if cs.card is not None:
            continue  # drawn at the cut (cards)
        cached = cache.get(cs.key)
        if cached is None:
            missing.append(cs.shot)
        else:
            paths.append(cached.path)
    if missing:
        raise MissingClips(plan, missing, storyboard)
    return paths


class MissingClips(StitchError):
    """Some shots have no clip in the cache; the message says how to get them."""

    def __init__(self, plan: Plan, shots: list[str], storyboard: str, advice: str | None = None):
        self.shots, self.provider, self.storyboard = shots, plan.provider, storyboard
        how = advice or ("render {them} first: `storyboard render " + storyboard +
                         ("" if plan.provider == "wavespeed" else f" --provider {plan.provider}") + "`")
        them = "them" if len(shots) > 1 else "it"
        super().__init__(f"no clip in the cache for shot{'s' if len(shots) > 1 else ''} {', '.join(shots)} "
                         f"(provider {plan.provider}, {plan.origin}); " + how.format(them=them))


def shot_clips(plan: Plan, clips: list[Path]) -> list[ShotClip]:
    """Each cut shot's clip, named by its shot and take, with its planned length."""
    out = []
    for cs, path in zip((cs for cs in plan.cut.shots if cs.card is None), clips):
        job = plan.job(cs.shot)
        out.append(ShotClip(shot_name(cs.shot, job.take if job is not None and job.key == cs.key else 1),
                            path, cs.duration))
    return out


def _replace_advice(plan: Plan, storyboard: str) -> str:
    render = f"storyboard render {shlex.quote(storyboard)}" + ("" if plan.provider == "wavespeed" else f" --provider {plan.provider}")
    return (f"Nothing was written. To replace a clip, render another take of its shot (`take: N` in the shot, "
            f"then `{render}`); `storyboard takes {shlex.quote(storyboard)} SHOT --sheet takes.mp4` shows its takes side by side.")


def with_clip_lengths(plan: Plan, infos: list[ClipInfo]) -> Plan:
    """The plan with each shot of unknown planned length (a model that edits a
    URL video) given its clip's own length, in whole frames."""
    if all(cs.duration for cs in plan.cut.shots):
        return plan
    lengths = iter(infos)  # the film's shots' clips, in order; a card has its own length
    shots = []
    for cs in plan.cut.shots:
        info = next(lengths) if cs.card is None else None
        shots.append(cs if cs.duration or info is None else cs.model_copy(update={"duration": _frames(info)}))
    total = sum(Decimal(str(cs.duration)) for cs in shots) - sum(Decimal(str(cs.transition.duration)) for cs in shots)
    return plan.model_copy(update={"cut": plan.cut.model_copy(update={"shots": shots, "duration": float(total)})})


def _frames(info: ClipInfo) -> float:
    whole = int(info.duration * info.fps)  # only whole frames of the clip
    return round(float(whole / info.fps), 6)


def _check_not_in_cache(output: Path, cache: ClipCache) -> None:
    folder = getattr(cache.storage, "root", None)
    if folder is not None and output.resolve().is_relative_to(Path(folder).resolve()):
        raise StitchError(f"{output}: inside the clip cache ({folder}); write the film elsewhere")


def clean_leftovers(folder: Path, output: Path) -> None:
    """Remove what a cut killed with -9 left: half-written films beside the
    output (``.<name>-<pid>-*<suffix>``) and work folders in the temp dir."""
    remove_stale(folder.glob(f".{output.stem}-*{output.suffix}"))
    remove_stale(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"))


@contextmanager
def written_atomically(output: Path) -> Iterator[Path]:
    """A temporary file beside ``output`` (``.<name>-<pid>-…``, which ``clean_leftovers`` finds if
    the process is killed) that becomes ``output`` only when the block completes."""
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.stem}-{os.getpid()}-", suffix=output.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stitch(plan: Plan, root: Path, cache: ClipCache, *, storyboard: str, engine: str = "ffmpeg",
           output: Path | None = None, otio: Path | None = None, reframe=None) -> Path:
    """Cut the film the plan describes from cached clips; returns the output path.
    ``reframe(plan, clips, infos, work) -> (plan, clips, infos)`` makes another frame of them first."""
    if engine not in ENGINES:
        raise StitchError(f"unknown engine `{engine}`; choose ffmpeg or moviepy")
    clips = find_clips(plan, cache, storyboard)
    infos = checked(shot_clips(plan, clips), _replace_advice(plan, storyboard))
    plan = with_clip_lengths(plan, infos)
    music = root / plan.cut.music.file if plan.cut.music else None
    output = output or root / plan.cut.output
    _check_not_in_cache(output, cache)
    output.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(output.parent, output)
    with written_atomically(output) as tmp, work_dir("stitch") as work:
        if reframe is not None:
            plan, clips, infos = reframe(plan, clips, infos, Path(work))
        target = choose_target(plan.cut, infos)
        clips, infos = with_cards(plan.cut, clips, infos, target, root, cache, Path(work))
        timeline = pieces(plan.cut, clips, infos)
        if engine == "ffmpeg":
            from .ffmpeg_engine import cut_film
        else:
            from .moviepy_engine import cut_film
        cut_film(plan.cut, timeline, target, music, Path(work), tmp, cache)
        found = finish_captions(plan.cut, timeline, target, tmp, Path(work), cache)
    if found:
        write_sidecars(output, found)
    if otio is not None:
        from .otio_export import write_otio

        write_otio(plan, timeline, target, music, otio)
    return output
