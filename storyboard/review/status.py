"""``storyboard status``: for each shot, where its clip is.

``here`` (in the local cache, intact), ``remote`` (in the team's remote),
``provider (until DATE)`` (paid, and the provider still keeps the task's
output: ``render`` fetches it again for free), ``lost`` (paid, and none of
those has it: only ``render --repay`` gets it back, at a cost), ``in flight``
(a task this machine submitted and has not collected yet), and ``new`` or
``changed`` (to render, at a cost). No API key and no request to the provider."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from ..format.media import STATE_DIR
from ..plan.deliverables import film_jobs
from ..plan.prices import exact
from ..plan.project import Compiled
from ..catalog import load_catalog
from ..plan.types import BASE_URL_VARIABLES, BASE_URLS, Job, origin_of
from ..render.elements import folder_elements
from ..render.journal import Journal
from .element_status import CREATED, element_reason, element_rows
from ..render.lock import Lock, lock_path, read_lock
from ..render.recover import kept_until, project_paid
from ..store.cache import ClipCache, project_cache
from ..store.storage import LocalStorage

HERE, REMOTE, PROVIDER, LOST, IN_FLIGHT, NEW, STALE = "here", "remote", "provider", "lost", "in flight", "new", "changed"
CARD = "drawn"  # a title or end card: drawn at the cut, $0


@dataclass
class ShotStatus:
    shot: str
    state: str
    cost: Decimal | None  # what bringing it up to date costs (0 for cached/paid)
    key: str
    reason: str = ""  # why a shot is changed, when something other than the storyboard explains it
    until: str = ""  # provider: the date until which it keeps the clip
    host: str = ""  # the host the clip came from (wavespeed, fal, preview); "" for a shot with none yet
    take: int = 1  # the take the film uses

    @property
    def name(self) -> str:
        """How ``render`` names the job: ``meet``, or ``meet#3`` for take 3."""
        return self.shot if self.take == 1 else f"{self.shot}#{self.take}"

    @property
    def owed(self) -> bool:
        """Whether bringing it up to date is paid for now (``render`` submits it)."""
        return self.state in (NEW, STALE)

    @property
    def label(self) -> str:
        if self.state == PROVIDER:
            return f"provider (until {self.until})" if self.until else "provider (until unknown)"
        return self.state


def status(compiled: Compiled, cache: ClipCache, now: dt.datetime | None = None) -> list[ShotStatus]:
    """Each shot and where its clip is (see the module's docstring)."""
    where = Locator(compiled, cache, now)
    return where.element_rows() + [where.locate(job) for job in film_jobs(compiled.plan)] + card_status(compiled)


def card_status(compiled: Compiled) -> list[ShotStatus]:
    """The title and end cards: nothing to pay, drawn (or taken from the cache) at the cut."""
    return [ShotStatus(cs.shot, CARD, Decimal(0), cs.key) for cs in compiled.plan.cut.shots if cs.card is not None]


class Locator:
    """Where a job's clip is, from the cache, the remote, the lock and the journal."""

    def __init__(self, compiled: Compiled, cache: ClipCache, now: dt.datetime | None = None):
        self.compiled, self.cache = compiled, cache
        self.lock = read_lock(lock_path(compiled.path))
        self.paid = project_paid(compiled.path, self.lock)  # by key: a renamed shot keeps its key
        self.journal = Journal(LocalStorage(compiled.root / STATE_DIR))
        self.now = now or dt.datetime.now(dt.timezone.utc)
        self.elements = folder_elements(compiled.path, self.lock) if compiled.plan.elements else {}

    def element_rows(self) -> list[ShotStatus]:
        """The plan's elements, like shots (``element:KEY``): created, in flight, new or changed."""
        return [ShotStatus(*row) for row in element_rows(self.compiled.plan, self.lock, self.elements, self.journal)]

    def locate(self, job: Job, *, remote: bool = True) -> ShotStatus:
        """``remote``: also ask the remote (a request) when the clip is not here."""
        entry = self.lock.entry(job.shot, job.take)
        until, reason, cost = "", "", Decimal(0)
        host, origin = self.compiled.plan.host(job)  # a key names its host: a clip found by it came from there
        if (clip := self.cache.get_local(job.key)) is not None:
            state, host = HERE, clip.record.provider or host
        elif remote and self.cache.remote is not None and self.cache.in_remote(job.key):
            state = REMOTE
        elif job.key in self.paid:
            kept = kept_until(self.paid[job.key])
            if kept is not None and kept <= self.now:
                state, cost = LOST, job.cost
            else:
                state, until = PROVIDER, f"{kept:%Y-%m-%d}" if kept else ""
        elif self.journal.get(job.key) is not None:
            state = IN_FLIGHT
        elif entry is not None:
            state, cost = STALE, job.cost
            now, host = host, host_of(entry.origin, entry.model)
            if host and host != now:
                reason = f"the host differs: paid on {host} ({entry.origin}), now {now} ({origin})"
            elif entry.origin != origin:
                variable = BASE_URL_VARIABLES.get(now, "WAVESPEED_BASE_URL")  # the host's own address variable
                reason = f"the API address differs: paid at {entry.origin}, now {origin} ({variable})"
            elif job.depends_on:
                reason = self._upstream_reason(job)
            if not reason and self.compiled.plan.elements:
                reason = element_reason(job.request, self.elements)
        else:
            state, cost, host = NEW, job.cost, ""
            if job.take != 1:
                reason = f"take {job.take} is not rendered yet"
        return ShotStatus(job.shot, state, cost, job.key, reason, until, host, job.take)

    def _upstream_reason(self, job: Job) -> str:
        """A dependent is stale because a shot it takes an output of changed (its own fields may not have)."""
        changed = []
        for shot in job.depends_on:
            upstream = self.compiled.plan.job(shot)
            entry = self.lock.entry(shot, upstream.take) if upstream else None
            if upstream is not None and (entry is None or entry.key != upstream.key):
                changed.append(shot)
        return f"because {', '.join(f'`{s}`' for s in changed)} changed" if changed else ""


def host_of(origin: str, model: str = "") -> str:
    """The host a lock entry was paid on: by its API origin when that is a host's own address, else
    by the model it names (fal's endpoints are fal's own); "" when neither tells."""
    by_origin = next((name for name, url in BASE_URLS.items() if origin_of(url) == origin), "")
    if by_origin:
        return by_origin
    if model in load_catalog("wavespeed").models:
        return "wavespeed"
    return "fal" if load_catalog("fal").by_endpoint(model) is not None else ""


def left_to_pay(compiled: Compiled, cache: ClipCache) -> tuple[int, Decimal, list[str]]:
    """How many shots still need paying for, what they cost, and which of them cost an unknown amount."""
    todo = [r for r in status(compiled, cache) if r.state in (NEW, STALE)]
    owed = sum((r.cost for r in todo if r.cost is not None), Decimal(0))
    return len(todo), exact(owed), [r.shot for r in todo if r.cost is None]


def cache_for(compiled: Compiled, override: str | None, remote: str | None = None, warn=lambda message: None) -> ClipCache:
    return project_cache(compiled.root, cache=override, remote=remote, storyboard_remote=compiled.storyboard.remote,
                         warn=warn)


# What ``plan`` marks each row with: the clip is in a cache (here or the remote), paid for (the provider
# keeps it or a task is running: ``render`` fetches it for free; or lost: only ``--repay`` pays again),
# or to pay for now.
CACHED, PAID, TO_PAY = "cached", "paid", "to pay"
_MARK = {HERE: CACHED, REMOTE: CACHED, PROVIDER: PAID, IN_FLIGHT: PAID, LOST: "paid, lost", NEW: TO_PAY, STALE: TO_PAY}


def pay_marks(compiled: Compiled, cache: ClipCache) -> list[tuple[Job, str]]:
    """Every job of the plan (its Kling elements, the film's jobs, other takes, the deliverables' jobs)
    and its mark: cached, paid or to pay. An element made already is paid: its id is in a lock."""
    where = Locator(compiled, cache)
    elements = [(job, PAID if row.state in (CREATED, IN_FLIGHT) else CARD if row.state == CARD else TO_PAY)
                for job, row in zip(compiled.plan.elements, where.element_rows())]
    return elements + [(job, _MARK[where.locate(job).state]) for job in compiled.plan.all_jobs]


def owed_now(marked: list[tuple[Job, str]]) -> tuple[int, Decimal, list[str]]:
    """The jobs ``render`` would pay for now (once per job key), their cost, and those of unknown cost."""
    owed: dict[str, Job] = {}
    for job, mark in marked:
        if mark == TO_PAY:
            owed.setdefault(job.key, job)
    jobs = list(owed.values())
    cost = exact(sum((j.cost for j in jobs if j.cost is not None), Decimal(0)))
    return len(jobs), cost, [j.label for j in jobs if j.cost is None]


@dataclass(frozen=True)
class Spent:
    """What the film has cost so far: every clip its lock holds (chosen, other takes, retired), once per key."""

    clips: int
    cost: Decimal
    unpriced: int
    elements: int = 0  # Kling elements made for it (paid too, and kept in the lock)


def spent(lock: Lock) -> Spent:
    entries = {entry.key: entry for _, _, entry in lock.paid()}
    made = lock.paid_elements()
    priced = [e.cost for e in list(entries.values()) + list(made.values()) if e.cost is not None]
    return Spent(len(entries), exact(sum(priced, Decimal(0))), len(entries) + len(made) - len(priced), len(made))
