"""Takes: the same request rendered more than once, each a job of its own.

Video generation is a dice roll, so a film-maker renders a shot several times
and keeps the best. A take is told apart by its number in the job key (take
1's key is the shot's key from before takes existed); the request is the same,
unless the catalog names a seed parameter for the model, which then carries
the take number. ``take: N`` in a shot chooses the take the film uses;
``--takes SHOT=N`` asks for takes 1..N of a shot to exist.
"""

from __future__ import annotations

import difflib

from ..catalog import Catalog
from ..format.model import MAX_TAKES, TAKE_LIMIT
from ..errors import UsageError
from .prices import exact
from .types import Job, Plan, job_key

# The most takes of one shot that `--takes all=N` asks for, and the highest
# `take:` a render makes without `--takes SHOT=N` naming it. Twenty already
# multiplies a shot's cost by twenty, and is the most a contact sheet shows
# legibly (a 5×4 grid of tiles at a fifth of the clip's width). The limits
# live with the format, which checks `take:` against them at its position.
HARD_LIMIT = TAKE_LIMIT  # no take beyond this, however it is asked for


def take_of(job: Job, n: int, provider: str, origin: str, catalog: Catalog) -> Job:
    """Take ``n`` of ``job`` (any take of the same shot), on the job's own host when it has one."""
    provider, origin = job.provider or provider, job.origin or origin
    seed = _seed(job, catalog)
    request = {k: v for k, v in job.request.items() if k != seed}
    if seed and n > 1:
        request[seed] = n
    return job.model_copy(update={"take": n, "request": request,
                                  "key": job_key(provider, origin, job.model, request, take=n)})


def _seed(job: Job, catalog: Catalog) -> str | None:
    spec = catalog.get(job.model)
    return spec.seed if spec else None


def parse_takes(values: list[str] | tuple[str, ...]) -> dict[str, int]:
    """``["s1=3", "all=2"]`` → ``{"s1": 3, "all": 2}``; a usage error names a bad one."""
    wanted: dict[str, int] = {}
    for value in values:
        shot, sep, number = value.partition("=")
        shot = shot.strip()
        if not sep or not shot or not number.strip().isdigit() or int(number) < 1:
            raise UsageError(f"--takes {value}: write SHOT=N (or all=N) with N a whole number of at least 1")
        n = int(number)
        if n > HARD_LIMIT:
            raise UsageError(f"--takes {value}: at most {HARD_LIMIT} takes of a shot")
        if shot == "all" and n > MAX_TAKES:
            raise UsageError(f"--takes {value}: more than {MAX_TAKES} takes of every shot is refused; "
                             f"name the shots that need more, e.g. --takes SHOT={n}")
        wanted[shot] = max(n, wanted.get(shot, 0))
    return wanted


def with_takes(plan: Plan, wanted: dict[str, int], catalog: Catalog) -> Plan:
    """``plan`` with takes 1..N of each shot ``wanted`` names (``all``: every shot) among its jobs."""
    if not wanted:
        return plan
    shots = {job.shot for job in plan.jobs}
    unknown = [shot for shot in wanted if shot != "all" and shot not in shots]
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(shots), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else f"; the shots are: {', '.join(sorted(shots))}"
        raise UsageError(f"--takes {unknown[0]}=…: there is no such shot in {plan.storyboard}{hint}")
    extra: list[Job] = []
    for job in plan.jobs:
        n = max(wanted.get(job.shot, 0), wanted.get("all", 0))
        extra += [take_of(job, t, plan.provider, plan.origin, catalog) for t in range(1, n + 1) if t != job.take]
    priced = [j.cost for j in extra if j.cost is not None]
    return plan.model_copy(update={
        "takes": extra,
        "total_cost": exact(plan.total_cost + sum(priced)),
        "unpriced": plan.unpriced + [j.label for j in extra if j.cost is None],
    })


def beyond_limit(plan: Plan, wanted: dict[str, int]) -> list[Job]:
    """The film's jobs whose chosen take is past ``MAX_TAKES`` and not named by ``--takes SHOT=N``."""
    return [job for job in plan.jobs if job.take > MAX_TAKES and wanted.get(job.shot, 0) < job.take]
