"""A clip readied for the cut as it lands, while the provider renders the others.

A render spends minutes waiting on the provider. The part of the cut that
depends on one clip alone is done in that time, one clip at a time in the
background, and kept in the cache where the cut looks for it: the clip's
loudness (when the film is levelled without a music bed) and, for a clip with
B-frames in a film of hard cuts, the re-encoded tail of its smart render. The
cut that follows the render then finds them and does only what needs the
whole film: the gain, the stretches of sound, the file.

Readying is only ahead-of-time work: if it fails or is not finished, the cut
does it as it always would."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..plan.types import CutPlan
from ..format.files import work_dir
from ..store.cache import ClipCache
from .avcc import read_avcc
from .ffmpeg_engine import fps_text, smart_trimmed, tail_id_for
from .probe import ProbeError, probe
from .sound import analyses
from .timeline import StitchError


def ready_clip(path: Path, duration: float, cut: CutPlan, cache: ClipCache) -> None:
    """What the cut of ``cut`` will want from the clip at ``path`` (planned ``duration`` s), made and kept."""
    info = probe(path)
    if cut.loudness is not None and cut.music is None and info.acodec:
        analyses([path], cache)
    hard_cuts = all(not cs.transition.duration for cs in cut.shots)
    if hard_cuts and info.vcodec == "h264" and info.reordered and info.fps:
        setup = read_avcc(path)
        if setup is not None:
            with work_dir("ready") as work:
                smart_trimmed(path, round(duration * info.fps), fps_text(info.fps), Path(work), cache,
                              tail_id_for(setup))


class Readying:
    """Clips readied one at a time in the background; ``finish`` waits for them (never raises)."""

    def __init__(self, cut: CutPlan, cache: ClipCache):
        self.cut, self.cache = cut, cache
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ready")

    def landed(self, path: Path, duration: float) -> None:
        self.pool.submit(self._quietly, path, duration)

    def also(self, work, *args) -> None:
        """Other work on a landed clip (a deliverable's reframe), in the same queue, as quietly."""
        self.pool.submit(self._quietly, None, 0.0, lambda: work(*args))

    def _quietly(self, path: Path | None, duration: float, work=None) -> None:
        try:
            work() if work is not None else ready_clip(path, duration, self.cut, self.cache)
        except (StitchError, ProbeError, OSError, ValueError):
            pass  # the cut will do it

    def finish(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)
