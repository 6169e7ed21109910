"""``plan`` as Terraform's: each row marked cached, paid or to pay, and the money
``render`` would pay now at the end ("No changes." when there is none)."""

from __future__ import annotations

import sys

from ..errors import StoryboardError
from ..plan.prices import dollars


def print_plan_owed(compiled) -> None:
    """The plan's table with each job's mark, then what is left to pay. A lock or cache that
    cannot be read leaves the marks out, with a warning: the plan itself is still right."""
    from ..review.status import cache_for, owed_now, pay_marks
    from .display import print_plan

    try:
        marked = pay_marks(compiled, cache_for(compiled, None, warn=_warn))
    except StoryboardError as exc:
        _warn(f"cannot tell what is paid for: {exc}")
        print_plan(compiled.plan)
        return
    print_plan(compiled.plan, marks=[mark for _, mark in marked])
    print(owed_text(*owed_now(marked), len(marked)))
    lost = [job.label for job, mark in marked if mark.endswith("lost")]
    if lost:
        print(f"Paid and lost (no cache, remote or provider has the clip): {', '.join(lost)}; "
              "`storyboard render --repay SHOT` pays again.")


def owed_text(count: int, cost, unpriced: list[str], jobs: int) -> str:
    if not count:
        return (f"No changes. Every job{'' if jobs == 1 else ' of the plan'} is cached or paid for: "
                f"nothing to pay now ({dollars(0)}).")
    jobs_text = f"{count} job{'s' if count != 1 else ''}"
    if len(unpriced) == count:  # an unknown cost is never shown as $0
        return f"To pay now: an unknown amount for {jobs_text} ({', '.join(unpriced)})."
    text = f"To pay now: {dollars(cost)} for {jobs_text}"
    if unpriced:
        text += f", and an unknown amount for {', '.join(unpriced)}"
    return text + "."


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
