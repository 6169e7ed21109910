"""Review operations: status against the lock, diffs between two versions of a
film, and the check that a saved plan still holds. Nothing here needs the
network or an API key."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..store.cache import ClipCache, cache_dir
from .diff import ADDED, CHANGED, REMOVED, PlanDiff, diff_plans
from ..errors import StoryboardError
from .gitio import checkout, relative_to_repo, split_revision
from ..render.lock import lock_path, read_lock
from ..plan.types import Plan
from ..plan.project import Compiled, compile_project, find_storyboard

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


def compile_side(spec: str, stack: ExitStack, **options) -> Compiled:
    """A storyboard path, or ``REV:path`` from git, compiled with ``options``."""
    revision = split_revision(spec)
    if revision is None:
        return compile_project(spec, **options)
    rev, path = revision
    local = stack.enter_context(checkout(rev, path, Path.cwd()))
    return compile_project(str(local), display=spec, **options)


def diff_sides(old: str, new: str, *, provider: str, base_url: str | None, prices: str | None) -> PlanDiff:
    """Both sides compiled with their own media and the same price list."""
    with ExitStack() as stack:
        new_side = compile_side(new, stack, provider=provider, base_url=base_url, prices=prices)
        if prices is None and new_side.plan.price_list.source != "built-in":
            prices = str(new_side.root / new_side.plan.price_list.source)
        old_side = compile_side(old, stack, provider=provider, base_url=base_url, prices=prices)
        return diff_plans(old_side.plan, new_side.plan)


def base_spec(rev: str, path: str) -> str:
    """``--base REV PATH`` → ``REV:<PATH relative to the repository root>``."""
    file, _ = find_storyboard(path)
    return f"{rev}:{relative_to_repo(file, Path.cwd())}"


def check_saved_plan(saved: Plan, current: Plan) -> None:
    """Refuse, naming what changed, when ``current`` is not exactly ``saved``."""
    if saved.to_json() == current.to_json():
        return
    d = diff_plans(saved, current)
    changed = [f"{s.shot} ({s.status})" for s in d.shots if s.status in (ADDED, CHANGED, REMOVED)]
    recut = [s.shot for s in d.shots if s.status == "re-cut only"]
    what = []
    if changed:
        what.append("shots " + ", ".join(changed))
    if recut:
        what.append("the cut of " + ", ".join(recut))
    if d.film:
        what.append("the film's " + ", ".join(c.field for c in d.film))
    if saved.price_list != current.price_list or (not what and saved.total_cost != current.total_cost):
        what.append(f"the price list ({saved.price_list.name} → {current.price_list.name})")
    if not what:
        what.append("the plan's details")
    raise StoryboardError(
        f"the saved plan is stale: the storyboard now compiles differently in {'; '.join(what)}. "
        "Make and review a new plan with `storyboard plan PATH --out FILE`."
    )


def load_saved_plan(path: str) -> Plan:
    try:
        return Plan.model_validate_json(Path(path).read_bytes())
    except FileNotFoundError:
        raise StoryboardError(f"{path}: no such plan file") from None
    except ValueError as exc:
        raise StoryboardError(f"{path}: not a plan saved by `storyboard plan --out` ({str(exc).splitlines()[0]})") from None


def cache_for(compiled: Compiled, override: str | None) -> ClipCache:
    return ClipCache.at(cache_dir(compiled.root, override))
