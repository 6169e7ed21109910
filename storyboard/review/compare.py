"""Two versions of a film, each a path or ``REV:path`` in git, compiled side by
side with one price list and compared (``storyboard diff``)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from ..plan.project import Compiled, compile_project, find_storyboard
from .diff import PlanDiff, diff_plans
from .gitio import checkout, relative_to_repo, split_revision


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
