"""``storyboard takes``: each shot's takes, where their clips are, and a
contact sheet of them to choose from.

A take is listed when something has it (the cache, the remote, the lock) or
when the storyboard chooses it. Clips come from the cache (and the team's
remote, when one is set), never from the provider: like ``stitch``, a sheet
needs no network and no key."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..catalog import load_catalog
from ..errors import StoryboardError, UsageError
from ..plan.deliverables import film_jobs
from ..plan.project import Compiled
from ..plan.takes import HARD_LIMIT, MAX_TAKES, take_of
from ..plan.types import Job
from ..store.cache import ClipCache
from .status import NEW, STALE, Locator


@dataclass
class TakeRow:
    shot: str
    take: int
    where: str  # here, remote, provider (until …), lost, in flight, changed, new
    state: str
    length: float | None  # the clip's own length, when it is known
    cost: Decimal | None  # what it cost (paid), or what rendering it costs (not yet)
    chosen: bool
    key: str

    @property
    def paid(self) -> bool:
        return self.state not in (NEW, STALE)


def shot_jobs(compiled: Compiled, shots: list[str]) -> list[Job]:
    """The film's job of each shot named (all, when none is), in the film's order."""
    jobs = {job.shot: job for job in compiled.plan.jobs}
    unknown = [shot for shot in shots if shot not in jobs]
    if unknown:
        raise UsageError(f"`{unknown[0]}`: there is no such shot in {compiled.path.name} "
                         f"(the shots are: {', '.join(jobs)})")
    wanted = set(shots)
    return [job for job in compiled.plan.jobs if not wanted or job.shot in wanted]


class Known:
    """What the lock and the cache hold, gathered once for every shot listed: asked
    per shot, the lock's entries (read whole) and twenty cache look-ups a shot
    made ``takes`` quadratic (338 s at 10,000 shots)."""

    def __init__(self, compiled: Compiled, cache: ClipCache, locator: Locator):
        self.locator, self.cache = locator, cache
        self.lock_takes: dict[str, set[int]] = {}
        for shot, n, _ in locator.lock.entries():
            if n <= HARD_LIMIT:
                self.lock_takes.setdefault(shot, set()).add(n)
        self.cached = {name.rsplit("/", 1)[-1].removesuffix(".json") for name in cache.storage.list("keys/")}
        films = film_jobs(compiled.plan)  # a rendered deliverable's clips (SHOT@NAME) are the films' too
        shots = {job.shot for job in films}
        known = {job.key for job in films}
        known |= {e.key for shot, _, e in locator.lock.entries() if shot in shots}
        # A cached take that neither the film nor the lock (under a shot of the film)
        # accounts for is found only by working out every shot's take keys, twenty a
        # shot; without such a key in the cache that is skipped. (A shot renamed keeps
        # its keys: its lock entries under the old name do not count as accounted for.)
        self.strangers = bool(self.cached - known)


def takes_of(compiled: Compiled, job: Job, known: Known) -> list[TakeRow]:
    """Every take of ``job``'s shot that exists somewhere, and the chosen one."""
    plan, locator, cache = compiled.plan, known.locator, known.cache
    catalog = load_catalog(plan.provider)
    variants = {job.take: job}
    if known.strangers:
        variants |= {n: take_of(job, n, plan.provider, plan.origin, catalog)
                     for n in range(1, max(MAX_TAKES, job.take) + 1) if n != job.take}
    numbers = {job.take} | known.lock_takes.get(job.shot, set())
    numbers |= {n for n, variant in variants.items() if variant.key in known.cached}
    rows = []
    for n in sorted(numbers):
        variant = variants.get(n) or take_of(job, n, plan.provider, plan.origin, catalog)
        where = locator.locate(variant)
        entry = locator.lock.entry(job.shot, n)
        record = cache.record(variant.key) if variant.key in known.cached else None
        length = record.duration if record else entry.duration if entry and entry.key == variant.key else None
        paid_cost = locator.paid[variant.key].cost if variant.key in locator.paid else variant.cost
        rows.append(TakeRow(job.shot, n, where.label, where.state, length,
                            where.cost if where.state in (NEW, STALE) else paid_cost, n == job.take, variant.key))
    return rows


def list_takes(compiled: Compiled, cache: ClipCache, shots: list[str]) -> list[TakeRow]:
    known = Known(compiled, cache, Locator(compiled, cache))
    return [row for job in shot_jobs(compiled, shots) for row in takes_of(compiled, job, known)]


@dataclass
class ElementRow:
    """A Kling element the listed shots send: one for every take of them (a take is the same request again)."""

    element: str  # the character's key
    state: str  # created, in flight, new, changed
    element_id: str  # once created
    cost: Decimal | None  # what making it costs (new, changed), or $0
    shots: list[str]


def list_elements(compiled: Compiled, cache: ClipCache, shots: list[str]) -> list[ElementRow]:
    """The elements that the shots ``takes`` lists send (every shot's when none is named)."""
    wanted = set(shots)
    rows = []
    for job, row in zip(compiled.plan.elements, Locator(compiled, cache).element_rows()):
        if wanted and not wanted & set(job.shots):
            continue
        made = row.reason.removeprefix("element ") if row.state == "created" else ""
        rows.append(ElementRow(job.character, row.state, made, row.cost, list(job.shots)))
    return rows


def write_sheet(compiled: Compiled, cache: ClipCache, shot: str, dest: Path) -> tuple[list[int], list[int]]:
    """The contact sheet of ``shot``'s takes at ``dest`` (.mp4: moving, .png: stills).
    Returns the takes on it and the takes left off (their clips are not here)."""
    from ..cut.sheet import Tile, still_sheet, video_sheet

    kind = dest.suffix.lower()
    if kind not in (".mp4", ".png"):
        raise UsageError(f"--sheet {dest}: name an .mp4 (the takes playing side by side) or a .png (their frames)")
    job = shot_jobs(compiled, [shot])[0]
    tiles, missing = [], []
    for row in takes_of(compiled, job, Known(compiled, cache, Locator(compiled, cache))):
        clip = cache.get(row.key) if row.paid or cache.record(row.key) else None
        if clip is None:
            missing.append(row.take)
        else:
            tiles.append(Tile(row.take, clip.path, row.chosen, shot=shot))
    if not tiles:
        raise StoryboardError(f"no take of `{shot}` is in the cache to make a sheet of; render some first "
                              f"(`storyboard render --takes {shot}=3`) or fetch them (`storyboard pull`)")
    (still_sheet if kind == ".png" else video_sheet)(tiles, dest)
    return [t.take for t in tiles], missing
