"""``storyboard status``: each shot against the lock and the clip cache.
Nothing here needs the network or an API key."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..plan.prices import exact
from ..plan.project import Compiled
from ..render.lock import lock_path, read_lock
from ..store.cache import ClipCache, project_cache

CACHED, PAID, NEW, STALE = "cached", "paid", "new", "changed"


@dataclass
class ShotStatus:
    shot: str
    state: str
    cost: Decimal | None  # what bringing it up to date costs (0 for cached/paid)
    key: str
    reason: str = ""  # why a shot is changed, when something other than the storyboard explains it


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
        reason = ""
        if state == STALE and entry.origin != compiled.plan.origin:
            reason = f"the API address differs: paid at {entry.origin}, now {compiled.plan.origin} (WAVESPEED_BASE_URL)"
        out.append(ShotStatus(job.shot, state, cost, job.key, reason))
    return out


def left_to_pay(compiled: Compiled, cache: ClipCache) -> tuple[int, Decimal, list[str]]:
    """How many shots still need paying for, what they cost, and which of them cost an unknown amount."""
    todo = [r for r in status(compiled, cache) if r.state in (NEW, STALE)]
    owed = sum((r.cost for r in todo if r.cost is not None), Decimal(0))
    return len(todo), exact(owed), [r.shot for r in todo if r.cost is None]


def cache_for(compiled: Compiled, override: str | None, remote: str | None = None, warn=lambda message: None) -> ClipCache:
    return project_cache(compiled.root, cache=override, remote=remote, storyboard_remote=compiled.storyboard.remote,
                         warn=warn)
