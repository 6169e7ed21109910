"""``storyboard status``: each shot against the lock and the clip cache.
Nothing here needs the network or an API key."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..plan.project import Compiled
from ..render.lock import lock_path, read_lock
from ..store.cache import ClipCache, cache_dir

CACHED, PAID, NEW, STALE = "cached", "paid", "new", "changed"


@dataclass
class ShotStatus:
    shot: str
    state: str
    cost: Decimal | None  # what bringing it up to date costs (0 for cached/paid)
    key: str


def status(compiled: Compiled, cache: ClipCache) -> list[ShotStatus]:
    """Each shot: cached (clip here), paid (in the lock, clip elsewhere), new, or changed."""
    lock = read_lock(lock_path(compiled.path))
    paid = {entry.key for entry in lock.shots.values()}  # a renamed shot keeps its key
    out = []
    for job in compiled.plan.jobs:
        entry = lock.shots.get(job.shot)
        if cache.record(job.key) is not None and cache.get(job.key) is not None:
            state, cost = CACHED, Decimal(0)
        elif job.key in paid:
            state, cost = PAID, Decimal(0)
        elif entry is not None:
            state, cost = STALE, job.cost
        else:
            state, cost = NEW, job.cost
        out.append(ShotStatus(job.shot, state, cost, job.key))
    return out


def cache_for(compiled: Compiled, override: str | None) -> ClipCache:
    return ClipCache.at(cache_dir(compiled.root, override))
