"""What a render checks before it spends or relies on anything: the budget
(before any request), the cached clips that uncached jobs build on (before any
submit), and each download (whole, readable, and long enough for the cut)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ..cut.clips import HOLD_LIMIT, examined, unreadable
from ..format.media import MediaInfo, inspect_file
from ..plan.types import Job, Plan
from ..store.cache import ClipCache
from ..errors import BudgetExceeded
from ..plan.prices import dollars
from .inputs import upstream_keys
from .journal import Journal


def check_clip(path: Path, planned: float) -> tuple[str | None, MediaInfo | None, str | None]:
    """Why the downloaded file is not a whole, readable clip (or None): a problem another
    download may cure; its facts when they could be read (its digest among them); and why
    the cut would refuse it as too short (or None), judged as the cut judges: its picture
    counted in frames, at most ``HOLD_LIMIT`` short. A longer clip is cut to its plan."""
    if not path.exists() or path.stat().st_size == 0:
        return "the download is empty", None, None
    info = inspect_file(path)
    if info.kind != "video":
        return f"the download is not a video ({info.format})", info, None
    if info.duration is None:
        return "the download is not a complete MP4 (no length could be read)", info, None
    clip, reason = examined(path)
    if reason:
        return f"the download is not a readable video ({reason})", info, None
    short = planned - clip.picture if planned else 0.0
    if short > HOLD_LIMIT + 1e-6:
        return None, info, (f"its clip is {clip.picture:.2f} s long, {short:.2f} s shorter than the {planned:g} s "
                            f"planned (the cut holds a last frame for {HOLD_LIMIT:g} s at most)")
    return None, info, None


def unusable_upstreams(uncached: list[Job], plan: Plan, cache: ClipCache) -> dict[str, str]:
    """Job key → why it cannot be made, for each uncached job that takes a frame or a clip from a
    cached clip that is not a readable video (blocking: it reads the clips)."""
    rendered = {job.key for job in uncached}
    takes = {j.key: j.take for j in plan.all_jobs}
    found: dict[str, str] = {}
    for job in uncached:
        for shot, key in upstream_keys(job):
            clip = None if key in rendered else cache.get(key)
            problem = unreadable(clip.path) if clip is not None else None
            if problem:  # the words materialize uses: named by shot and take, not by cache path
                found[job.key] = (f"shot `{shot}` (take {takes.get(key, 1)}), whose output it takes: "
                                  f"its clip is not a readable video ({problem})")
                break
    return found


def short_message(job: Job, short: str, command: str) -> str:
    """What the user is told of a paid clip the cut would refuse as too short."""
    paid = f" ({dollars(job.cost)})" if job.cost is not None else ""
    return (f"{short}. The task was paid for{paid}: its clip is kept in the cache and the lock as take "
            f"{job.take}, so it is never paid for again by itself. To replace it, render another take of the "
            f"shot (`take: N` in the shot, then `{command}`)")


def budget_check(uncached: list[Job], journal: Journal | None, max_cost: Decimal | None,
                 name: str = "--max-cost") -> Decimal:
    """The money this render may spend; refuses, before any request, above ``max_cost``
    (``name``: where the budget was set, for the message)."""
    to_pay = [j for j in uncached if journal is None or journal.get(j.key) is None]
    unpriced = [j.label for j in to_pay if j.cost is None]
    cost = sum((j.cost for j in to_pay if j.cost is not None), Decimal(0))
    if max_cost is not None:
        if unpriced:
            raise BudgetExceeded(
                f"cannot keep to {name}: the cost of {', '.join(unpriced)} is unknown (no price in the price "
                f"list, or a URL video of unknown length); "
                f"the priced jobs alone would cost {dollars(cost)}"
            )
        if cost > max_cost:
            raise BudgetExceeded(
                f"this render would spend {dollars(cost)} on {len(to_pay)} job(s), more than {name} "
                f"{dollars(max_cost)}; nothing was sent"
            )
    return cost
