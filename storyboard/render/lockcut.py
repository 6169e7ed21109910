"""The film the lock says was made: the clips to cut, whatever API address this shell points at.

Every job key holds the API origin, so a clone of a film rendered on the
emulator (or any other address) computes other keys when
``WAVESPEED_BASE_URL`` is unset, and the cache holds none of them. The lock
names the clips the film is made of, each with the origin it was paid at.
A shot whose clip is not here under this shell's address is cut from the
clip its lock entry names, when the storyboard compiled at that entry's
origin gives the very key the lock recorded (the shot has not changed since)
and that clip is in the cache or the remote. ``stitch`` needs no provider, so
the address only matters when it decides which clip a shot is: then the
message says so, as ``status`` does, and never advises paying again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import StoryboardError
from ..plan.types import CutShot, Job, Plan
from ..store.cache import ClipCache
from .lock import read_lock
from ..format.files import lock_path


@dataclass
class LockCut:
    """The plan to cut, and what was taken from the lock (shot → origin) or could not be."""

    plan: Plan
    from_lock: dict[str, str] = field(default_factory=dict)
    elsewhere: dict[str, str] = field(default_factory=dict)  # shot → the origin its paid clip came from (absent here)

    def note(self) -> str:
        """One line for stderr when the lock decided which clips are cut, else ''."""
        if not self.from_lock:
            return ""
        origins = sorted(set(self.from_lock.values()))
        return (f"cut from the clips the lock names, paid at {', '.join(origins)} "
                f"(this shell's API address is {self.plan.origin}; WAVESPEED_BASE_URL): "
                + ", ".join(self.from_lock))

    def advice(self, storyboard: str) -> str | None:
        """What to do when shots paid at another address have no clip here, or None."""
        if not self.elsewhere:
            return None
        origin = sorted(set(self.elsewhere.values()))[0]
        return (f"{', '.join(self.elsewhere)} {'were' if len(self.elsewhere) > 1 else 'was'} paid at {origin} "
                f"(the lock), not at {self.plan.origin}: `storyboard pull {storyboard}` fetches the clips from the "
                f"team's remote, or `WAVESPEED_BASE_URL={origin} storyboard render {storyboard}` gets them back "
                "from there without paying again")


def lock_plan(compiled, compile_at: Callable[[str], Plan]) -> tuple[Plan, dict[str, str]]:
    """``compiled.plan`` with each film job paid at another API address, and unchanged since, replaced by
    the job its lock entry names; and those shots → their origin. ``compile_at(origin)``: the storyboard's
    plan at that API origin. No cache, no network: the lock alone says what the film is made of."""
    plan = compiled.plan
    try:
        lock = read_lock(lock_path(compiled.path))
    except StoryboardError:  # a lock mid-merge: the clips of this address are cut, the lock's commands say why
        return plan, {}
    wanted: dict[str, str] = {}  # shot → origin of its lock entry, when it is not this shell's
    for cs in plan.cut.shots:
        entry = lock.entry(cs.shot, _take(plan, cs))
        if entry is not None and entry.origin != plan.origin:
            wanted[cs.shot] = entry.origin
    taken: dict[str, str] = {}
    shots, jobs = list(plan.cut.shots), list(plan.jobs)
    for origin in sorted(set(wanted.values())):
        try:
            other = compile_at(origin)
        except StoryboardError:  # a hand-edited origin that is no address: its entries decide nothing
            continue
        by_shot = {cs.shot: cs for cs in other.cut.shots}
        for i, cs in enumerate(shots):
            there, entry = by_shot.get(cs.shot), lock.entry(cs.shot, _take(plan, cs))
            if wanted.get(cs.shot) != origin or there is None or entry is None or there.key != entry.key:
                continue  # the shot changed since it was paid: the lock's clip is not this shot any more
            shots[i] = there
            jobs = [_swap(j, other.job(cs.shot)) if j.shot == cs.shot else j for j in jobs]
            taken[cs.shot] = origin
    if not taken:
        return plan, {}
    cut = plan.cut.model_copy(update={"shots": shots})
    return plan.model_copy(update={"cut": cut, "jobs": jobs}), taken


def cut_from_lock(compiled, cache: ClipCache, compile_at: Callable[[str], Plan]) -> LockCut:
    """The plan to cut (``lock_plan``), and which of the lock's clips neither the cache nor the remote has."""
    plan, taken = lock_plan(compiled, compile_at)
    result = LockCut(plan, from_lock=taken)
    for cs in plan.cut.shots:
        if cs.shot in taken and cache.get(cs.key) is None:
            result.elsewhere[cs.shot] = taken[cs.shot]
    return result


def compiled_at(path: str) -> Callable[[str], Plan]:
    """``compile_at`` for the storyboard at ``path``: its plan at another API origin (prices do not change keys)."""
    from ..plan.project import compile_project

    return lambda origin: compile_project(path, base_url=origin).plan


def _take(plan: Plan, cs: CutShot) -> int:
    job = plan.job(cs.shot)
    return job.take if job is not None and job.key == cs.key else 1


def _swap(job: Job, other: Job | None) -> Job:
    return other if other is not None and other.take == job.take else job
