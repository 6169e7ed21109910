"""Paid clips the film does not use, and forgetting them on purpose.

A lock keeps every key it ever paid for: takes not chosen, earlier versions of
a shot, shots taken out (``retired``). Those not in the film are shown by
``status`` and kept until a person runs ``storyboard lock prune``, which says
what money it abandons. A clip is "in the film" when its key is the key the
storyboard now gives to that shot's take (any take the lock holds, chosen or
not): restoring a shot or a prompt brings its paid clip back into the film.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from ..catalog import load_catalog
from ..plan.prices import exact
from ..plan.project import Compiled
from ..plan.takes import take_of
from ..render.lock import Lock, LockEntry, lock_path, read_lock, write_lock


@dataclass(frozen=True)
class PaidClip:
    shot: str
    take: int
    entry: LockEntry

    @property
    def label(self) -> str:
        return self.shot if self.take == 1 else f"{self.shot}#{self.take}"


def not_in_film(compiled: Compiled, lock: Lock) -> list[PaidClip]:
    """The lock's paid clips that no take of the storyboard's shots is keyed to now."""
    plan = compiled.plan
    catalog = load_catalog(plan.provider)
    jobs = {job.shot: job for job in plan.jobs}
    film = {job.key for job in plan.all_jobs}
    out = []
    for shot, take, entry in lock.paid():
        if entry.key in film:
            continue
        job = jobs.get(shot)
        if job is not None and take_of(job, take, plan.provider, plan.origin, catalog).key == entry.key:
            continue
        out.append(PaidClip(shot, take, entry))
    return sorted(out, key=lambda c: (c.shot, c.take, c.entry.key))


def total(clips: list[PaidClip]) -> Decimal:
    return exact(sum((c.entry.cost for c in clips if c.entry.cost is not None), Decimal(0)))


@dataclass
class Pruned:
    forgotten: list[PaidClip]
    kept_young: list[PaidClip]  # younger than --older-than, or of unknown age
    kept_elsewhere: list[PaidClip]  # paid at another API address than the plan's

    @property
    def cost(self) -> Decimal:
        return total(self.forgotten)


def prune(compiled: Compiled, *, older_than_days: float | None = None, now: dt.datetime | None = None,
          dry_run: bool = False) -> Pruned:
    """Forget the paid clips not in the film (older than ``older_than_days`` when given). Clips paid at
    another API address are kept: this plan's keys cannot say whether they are in the film there."""
    path = lock_path(compiled.path)
    lock = read_lock(path)
    now = now or dt.datetime.now(dt.timezone.utc)
    result = Pruned([], [], [])
    for clip in not_in_film(compiled, lock):
        if clip.entry.origin not in {compiled.plan.host(job)[1] for job in compiled.plan.jobs} | {compiled.plan.origin}:
            result.kept_elsewhere.append(clip)
        elif older_than_days is not None and not _older(clip.entry, now, older_than_days):
            result.kept_young.append(clip)
        else:
            result.forgotten.append(clip)
    if result.forgotten and not dry_run:
        lock.forget({c.entry.key for c in result.forgotten})
        write_lock(path, lock)
    return result


def _older(entry: LockEntry, now: dt.datetime, days: float) -> bool:
    done = entry.completed()
    return done is not None and now - done > dt.timedelta(days=days)
