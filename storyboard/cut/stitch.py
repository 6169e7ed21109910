"""The final cut: find the cached clips, probe them, lay out the timeline,
pick the engine, and write the film atomically (and the OTIO timeline).

The timeline model is in ``timeline``; the engines sit below this module and
never import it.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..plan.types import Plan
from ..store.cache import ClipCache
from .probe import ProbeError, probe
from .timeline import StitchError, choose_target, pieces

ENGINES = ("ffmpeg", "moviepy")

__all__ = ["ENGINES", "StitchError", "find_clips", "stitch"]


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
