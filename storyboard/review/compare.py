"""Two versions of a film, each a path or ``REV:path`` in git, compiled side by
side with one price list and compared (``storyboard diff``)."""

from __future__ import annotations

from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

from ..errors import StoryboardError
from ..plan.project import Compiled, compile_project, find_storyboard
from ..plan.deliverables import film_jobs
from ..plan.types import Plan
from ..render.lock import Lock, lock_path, read_lock
from .diff import PaidTake, PlanDiff, diff_plans
from .gitio import NotAtRevision, checkout, relative_to_repo, split_revision


def compile_side(spec: str, stack: ExitStack, **options) -> Compiled | None:
    """A storyboard path, or ``REV:path`` from git, compiled with ``options``;
    None when the film does not exist on that side (added or deleted)."""
    revision = split_revision(spec)
    if revision is None:
        if not Path(spec).exists() and Path(spec).suffix in (".yaml", ".yml"):
            return None  # a film deleted in the working tree
        return compile_project(spec, **options)
    rev, path = revision
    try:
        local = stack.enter_context(checkout(rev, path, Path.cwd()))
    except NotAtRevision:
        return None  # a film the change adds (or one it deletes)
    return compile_project(str(local), display=spec, **options)


def diff_sides(old: str, new: str, *, provider: str, base_url: str | None, prices: str | None) -> PlanDiff:
    """Both sides compiled with their own media and the same price list. A
    film missing on one side is all added, or all removed."""
    with ExitStack() as stack:
        new_side = compile_side(new, stack, provider=provider, base_url=base_url, prices=prices)
        if prices is None and new_side is not None and new_side.plan.price_list.source != "built-in":
            prices = str(new_side.root / new_side.plan.price_list.source)
        old_side = compile_side(old, stack, provider=provider, base_url=base_url, prices=prices)
        if old_side is None and new_side is None:
            raise StoryboardError(f"neither {old} nor {new} exists: nothing to compare")
        old_plan = old_side.plan if old_side is not None else empty(new_side.plan)
        new_plan = new_side.plan if new_side is not None else empty(old_side.plan)
        old_lock, new_lock = _lock(old_side), _lock(new_side)
        paid = frozenset(e.key for _, _, e in new_lock.paid())
        return diff_plans(old_plan, new_plan, paid, added_takes(old_lock, new_lock, new_plan))


def _lock(side: Compiled | None) -> Lock:
    """The side's lock; none (nothing paid) where it does not exist or cannot be read."""
    if side is None:
        return Lock()
    try:
        return read_lock(lock_path(side.path))
    except StoryboardError:
        return Lock()


def added_takes(old: Lock, new: Lock, plan: Plan) -> list[PaidTake]:
    """The clips the new lock has that the old one did not: what was paid for in between."""
    before = {e.key for _, _, e in old.paid()} | set(old.paid_elements())
    film = {job.key for job in film_jobs(plan)} | {e.key for e in plan.elements}  # the other films' too
    added = [PaidTake(shot, take, e.cost, e.key in film) for shot, take, e in new.paid() if e.key not in before]
    made = [*new.elements.items(), *((e.character, e) for e in new.retired_elements.values())]  # paid too
    added += [PaidTake(f"element:{c}", 1, e.cost, e.key in film) for c, e in made if e.key not in before]
    return sorted(added, key=lambda t: (t.shot, t.take))


def empty(plan: Plan) -> Plan:
    """The same film with no shots: the side of a diff where it does not exist."""
    cut = plan.cut.model_copy(update={"shots": [], "duration": 0.0, "music": None})
    return plan.model_copy(update={"jobs": [], "cut": cut, "total_cost": Decimal(0), "unpriced": [], "elements": []})


def base_spec(rev: str, path: str) -> str:
    """``--base REV PATH`` → ``REV:<PATH relative to the repository root>``
    (PATH may name a film deleted since REV)."""
    file = Path(path) if not Path(path).exists() else find_storyboard(path)[0]
    return f"{rev}:{relative_to_repo(file, Path.cwd())}"
