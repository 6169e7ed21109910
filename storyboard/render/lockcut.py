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
                f"(this shell's API address is {self.plan.origin}; {_variable(self.plan)}): "
                + ", ".join(self.from_lock))

    def advice(self, storyboard: str) -> str | None:
        """What to do when shots paid at another address have no clip here, or None."""
        if not self.elsewhere:
            return None
        origin = sorted(set(self.elsewhere.values()))[0]
        return (f"{', '.join(self.elsewhere)} {'were' if len(self.elsewhere) > 1 else 'was'} paid at {origin} "
                f"(the lock), not at {self.plan.origin}: `storyboard pull {storyboard}` fetches the clips from the "
                f"team's remote, or `{_variable(self.plan)}={origin} storyboard render {storyboard}` gets them back "
                "from there without paying again")


def lock_plan(compiled, compile_at: Callable[[str], Plan]) -> tuple[Plan, dict[str, str]]:
    """``compiled.plan`` with each film job paid at another API address, and unchanged since, replaced by
    the job its lock entry names; and those jobs' labels → their origin. ``compile_at(origin)``: the
    storyboard's plan at that API origin. No cache, no network: the lock alone says what the film is made of.
    A rendered deliverable's shots are in the lock as ``SHOT@NAME``; a reframed one cuts the master's clips."""
    plan = compiled.plan
    try:
        lock = read_lock(lock_path(compiled.path))
    except StoryboardError:  # a lock mid-merge: the clips of this address are cut, the lock's commands say why
        return plan, {}
    films = [("", plan.cut)] + [(d.name, d.cut) for d in plan.deliverables if d.method == "render"]
    wanted: dict[str, str] = {}  # job label → origin of its lock entry, when it is not this shell's
    for film, cut in films:
        for cs in cut.shots:
            entry = lock.entry(_label(film, cs), _take(plan, film, cs))
            if entry is not None and entry.origin != plan.origin:
                wanted[_label(film, cs)] = entry.origin
    taken: dict[str, str] = {}
    swapped: dict[str, CutShot] = {}  # this address's key → the lock's cut shot
    jobs = list(plan.jobs)
    deliverables = {d.name: d for d in plan.deliverables}
    for origin in sorted(set(wanted.values())):
        try:
            other = compile_at(origin)
        except StoryboardError:  # a hand-edited origin that is no address: its entries decide nothing
            continue
        theirs = {"": other.cut, **{d.name: d.cut for d in other.deliverables}}
        for film, cut in films:
            by_shot = {cs.shot: cs for cs in theirs.get(film, other.cut).shots}
            for cs in cut.shots:
                label = _label(film, cs)
                there, entry = by_shot.get(cs.shot), lock.entry(label, _take(plan, film, cs))
                if wanted.get(label) != origin or there is None or entry is None or there.key != entry.key:
                    continue  # the shot changed since it was paid: the lock's clip is not this shot any more
                swapped[cs.key] = there
                taken[label] = origin
                if film:
                    d = deliverables[film]
                    deliverables[film] = d.model_copy(update={"jobs": [_swap(j, other.job(label)) if j.shot == label
                                                                       else j for j in d.jobs]})
                else:
                    jobs = [_swap(j, other.job(cs.shot)) if j.shot == cs.shot else j for j in jobs]
    if not taken:
        return plan, {}

    def recut(cut):
        return cut.model_copy(update={"shots": [swapped.get(cs.key, cs) for cs in cut.shots]})

    films_now = [d.model_copy(update={"cut": recut(d.cut)}) for d in deliverables.values()]
    return plan.model_copy(update={"cut": recut(plan.cut), "jobs": jobs, "deliverables": films_now}), taken


def _variable(plan: Plan) -> str:
    from ..plan.types import BASE_URL_VARIABLES

    return BASE_URL_VARIABLES.get(plan.provider, "WAVESPEED_BASE_URL")


def _label(film: str, cs: CutShot) -> str:
    return f"{cs.shot}@{film}" if film else cs.shot


def cut_from_lock(compiled, cache: ClipCache, compile_at: Callable[[str], Plan]) -> LockCut:
    """The plan to cut (``lock_plan``), and which of the lock's clips neither the cache nor the remote has."""
    plan, taken = lock_plan(compiled, compile_at)
    result = LockCut(plan, from_lock=taken)
    cuts = [("", plan.cut)] + [(d.name, d.cut) for d in plan.deliverables if d.method == "render"]
    for film, cut in cuts:
        for cs in cut.shots:
            if _label(film, cs) in taken and cache.get(cs.key) is None:
                result.elsewhere[_label(film, cs)] = taken[_label(film, cs)]
    return result


def compiled_at(path: str, provider: str = "wavespeed") -> Callable[[str], Plan]:
    """``compile_at`` for the storyboard at ``path`` on ``provider``: its plan at another API origin of that
    host (prices do not change keys); fal's address is FAL_BASE_URL's, as WaveSpeed's is WAVESPEED_BASE_URL's."""
    import os

    from ..plan.project import compile_project
    from ..plan.types import BASE_URL_VARIABLES

    variable = BASE_URL_VARIABLES.get(provider, "WAVESPEED_BASE_URL")
    return lambda origin: compile_project(path, provider=provider, base_url=origin,
                                          env={**os.environ, variable: origin}).plan


def _take(plan: Plan, film: str, cs: CutShot) -> int:
    job = plan.job(_label(film, cs))
    return job.take if job is not None and job.key == cs.key else 1


def _swap(job: Job, other: Job | None) -> Job:
    return other if other is not None and other.take == job.take else job
