"""What a render will pay for now, known before the first request: the jobs
whose clip is nowhere (not cached, not paid for, not in flight), once per job
key, and their cost. The command line shows it and asks before spending; the
take limit is checked against it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..errors import UsageError
from ..plan.prices import dollars, exact
from ..plan.takes import MAX_TAKES
from ..plan.types import ElementJob, Job, Plan
from ..store.cache import ClipCache
from .elements import needed_elements
from .journal import Journal


@dataclass(frozen=True)
class Quote:
    """The jobs a render submits (and pays for) unless something fails, and what they cost."""

    jobs: list[Job]
    cost: Decimal  # of the priced ones
    unpriced: list[str]  # labels of jobs whose cost is unknown

    @property
    def text(self) -> str:
        """``$1.680 for 3 jobs`` (``$0.560 and an unknown amount for 2 jobs``)."""
        n = len(self.jobs)
        if len(self.unpriced) == n:  # an unknown cost is never shown as $0
            amount = "an unknown amount"
        else:
            amount = dollars(self.cost) + (" and an unknown amount" if self.unpriced else "")
        return f"{amount} for {n} job{'s' if n != 1 else ''}"


def quote(plan: Plan, cache: ClipCache, journal: Journal | None, paid: set[str],
          paid_elements: set[str] = frozenset()) -> Quote:
    """The jobs of ``plan`` to be paid for now: not cached, not paid for (``paid``: job keys a
    lock holds; recovered for free, or refused), not journalled (resumed for free); and the
    Kling elements those jobs send that no lock of the folder holds (``paid_elements``: keys)."""
    jobs: dict[str, Job | ElementJob] = {}
    for job in plan.all_jobs:
        if job.key in jobs or job.key in paid or (journal is not None and journal.get(job.key) is not None):
            continue
        if cache.record(job.key) is None:
            jobs[job.key] = job
    elements = [e for e in needed_elements(plan, list(jobs.values())) if e.key not in paid_elements
                and (journal is None or journal.get(e.key) is None)]
    chosen = elements + list(jobs.values())  # elements are made first
    cost = exact(sum((j.cost for j in chosen if j.cost is not None), Decimal(0)))
    return Quote(chosen, cost, [j.label for j in chosen if j.cost is None])


def check_take_limit(plan: Plan, to_pay: Quote, takes: dict[str, int], yes: bool) -> None:
    """A take past ``MAX_TAKES`` is paid for only when asked for twice over: named (``--takes
    SHOT=N``, or the shot's ``take: N``) and confirmed with ``--yes``. A typo must not multiply
    the bill. Takes already rendered are not counted."""
    if yes:
        return
    beyond = [job for job in to_pay.jobs if getattr(job, "take", 1) > MAX_TAKES]  # elements have no takes
    if not beyond:
        return
    film = {id(job) for job in plan.jobs}
    chosen = [job for job in beyond if id(job) in film and max(takes.get(job.shot, 0), takes.get("all", 0)) < job.take]
    if chosen:
        job = chosen[0]
        raise UsageError(f"shot `{job.shot}` chooses take {job.take}, past {MAX_TAKES} takes of a shot, and it is not "
                         f"rendered yet: render it with `--yes`, or ask for takes 1–{job.take} that are missing with "
                         f"`--takes {job.shot}={job.take} --yes`, or choose a take that exists; nothing was sent")
    shot = beyond[0].shot
    mine = [job for job in beyond if job.shot == shot]
    cost = exact(sum((j.cost for j in mine if j.cost is not None), Decimal(0)))
    last = max(job.take for job in mine)
    raise UsageError(f"--takes {shot}={takes.get(shot, last)} asks for {len(mine)} take{'s' if len(mine) != 1 else ''} "
                     f"of `{shot}` past the limit of {MAX_TAKES} (up to take {last}, {dollars(cost)}): add `--yes` "
                     "to pay for them; nothing was sent")
