"""``render --only``: some shots of a plan, and the shots they are built on.

Like ``terraform -target``: the named shots (``meet``, the take the film uses;
``meet#2``, that take) and every shot whose output they take, transitively, so
a selected shot never waits for a clip nobody makes. The cut is not changed:
the film is cut only when every clip it needs exists.
"""

from __future__ import annotations

import difflib
from decimal import Decimal

from ..catalog import Catalog
from ..errors import UsageError
from .graph import dependencies_in
from .prices import exact
from .takes import HARD_LIMIT, take_of
from .types import Job, Plan


def parse_only(values: list[str]) -> list[str]:
    """``["a", "b,c"]`` → ``["a", "b", "c"]`` (repeated, spaced or comma-separated), in order, once each."""
    names = [name.strip() for value in values for name in value.split(",")]
    return list(dict.fromkeys(name for name in names if name))


def select(plan: Plan, names: list[str], catalog: Catalog) -> Plan:
    """``plan`` with only the jobs ``names`` asks for and the jobs they take inputs from.
    An unknown name is a usage error naming the close match, or the shots there are."""
    chosen: list[Job] = [job for name in names for job in _in_each_film(plan, name, catalog)]
    by_key = {job.key: job for job in plan.all_jobs}
    wanted: dict[str, Job] = {}
    todo = list(chosen)
    while todo:
        job = todo.pop()
        if job.label in wanted:
            continue
        wanted[job.label] = job
        for _, item in dependencies_in(job.request):  # upstream shots: the very take this job is keyed to
            upstream = by_key.get(item.get("key", "")) or plan.job(item["shot"])
            if upstream is not None:
                todo.append(upstream)
    film = [job for job in plan.jobs if wanted.get(job.label) is job]
    films = [d.model_copy(update={"jobs": [j for j in d.jobs if wanted.get(j.label) is j]}) if d.jobs else d
             for d in plan.deliverables]  # a rendered deliverable's jobs not asked for are not made either
    in_film = {id(job) for job in film + [j for d in films for j in d.jobs]}
    others = [job for job in wanted.values() if id(job) not in in_film]
    order = {job.label: n for n, job in enumerate(plan.all_jobs)}
    others.sort(key=lambda job: (order.get(job.label, len(order)), job.shot, job.take))
    made = film + others + [j for d in films for j in d.jobs]
    priced = [job.cost for job in made if job.cost is not None]
    return plan.model_copy(update={
        "jobs": film, "takes": others, "deliverables": films, "total_cost": exact(sum(priced, start=Decimal(0))),
        "unpriced": [job.label for job in made if job.cost is None],
    })


def _in_each_film(plan: Plan, name: str, catalog: Catalog) -> list[Job]:
    """``name``'s job in each film this plan makes: the master's (if it has the shot) and each rendered
    deliverable's ``SHOT@NAME``; ``SHOT@NAME`` or ``SHOT#N`` is that one job."""
    again = [j for d in plan.deliverables for j in d.jobs if "@" not in name and j.shot == f"{name}@{d.name}"]
    if again and plan.job(name) is None:  # `--deliverable NAME`: the master's jobs are not in this plan
        return again
    return [_job(plan, name, catalog)] + again


def _job(plan: Plan, name: str, catalog: Catalog) -> Job:
    """The job ``name`` names: a shot (its chosen take) or ``SHOT#N`` (take N, made if the plan lacks it)."""
    found = plan.job(name)
    if found is not None:
        return found
    shot, sep, number = name.partition("#")
    base = plan.job(shot) if sep else None
    if base is not None:
        if not (number.isascii() and number.isdigit()) or not 1 <= int(number) <= HARD_LIMIT:
            raise UsageError(f"--only {name}: write SHOT#N with N a take number from 1 to {HARD_LIMIT}")
        return take_of(base, int(number), plan.provider, plan.origin, catalog)
    shots = list(dict.fromkeys(job.shot for job in plan.jobs))
    close = difflib.get_close_matches(shot or name, shots, n=1)
    hint = f"did you mean `{close[0]}`?" if close else f"the shots are: {', '.join(shots)}"
    raise UsageError(f"--only {name}: there is no such shot in {plan.storyboard}; {hint}")
