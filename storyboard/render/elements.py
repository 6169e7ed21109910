"""Kling elements, made before the shots that send them: each at most once, ever.

An element a shot still to be rendered sends is looked up by its key in the
locks of the folder (made already: its id, for free). Else it is made by the
rules every paid job follows: claimed, its files uploaded, journalled before
its submit is sent and again with its task id, polled (a journalled task is
resumed, never submitted again; one in doubt is reported and waits for
``--resubmit element:KEY``). Its id is written into the lock, synced, before
its journal entry and claim go, so a kill at any point leaves either the
lock's id or the journal's task id. The shots then go to the executor with
``{"element_id": "…"}`` in place of each element they send; a shot whose
element could not be made is not started, and says why.

Unlike a clip's, an element's claim is kept once the element is made: it
holds the task id, and the team's remote has no other record of an element,
so a teammate whose lock does not have it yet follows that task (a free
poll) and gets the same id. ``--repay``/``--resubmit element:KEY`` drop it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..errors import StoryboardError
from ..plan.elements import used_elements, with_element_ids
from ..plan.types import ElementJob, Plan
from ..providers import CONTENT_TYPES, MaybeTask, NoTask, ProviderError, Retryable
from .claiming import ClaimInDoubt, ClaimSteps
from .element_lock import ElementEntry, element_id_of
from .executor import in_doubt
from .journal import SUBMITTING, JournalFull
from .lock import read_lock, sibling_locks, write_lock
from .outcomes import Outcome
from .timing import Clock, RateLimiter, backoff, poll_interval, retrying
from .uploads import media_digests, with_urls

MAX_ATTEMPTS = 6
MAX_POLL_SECONDS = 3600.0


class ElementFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class ElementOutcome:
    job: ElementJob
    state: str  # cached (in a lock already) | done (made now) | failed
    element_id: str = ""
    task_id: str = ""
    message: str = ""
    paid: Decimal = Decimal(0)
    resumed: bool = False


def folder_elements(storyboard: Path, lock) -> dict[str, ElementEntry]:
    """Every element paid for in the storyboard's folder, by key (this storyboard's lock wins)."""
    paid: dict[str, ElementEntry] = {}
    for path in sibling_locks(storyboard):
        try:
            paid.update(read_lock(path).paid_elements())
        except StoryboardError:
            continue
    paid.update(lock.paid_elements())
    return paid


def needed_elements(plan: Plan, unmade: list) -> list[ElementJob]:
    """The element jobs that the jobs still to be made (``unmade``) send."""
    wanted = {key for job in unmade for key in used_elements(job.request)}
    return [e for e in plan.elements if e.character in wanted]


class ElementMaker:
    def __init__(self, *, root: Path, provider, journal, claims, cache, uploads, paid: dict[str, ElementEntry],
                 repaying: set[str], options, events, clock: Clock | None = None):
        self.root, self.provider, self.journal, self.uploads = root, provider, journal, uploads
        self.paid, self.repaying, self.options, self.events = paid, repaying, options, events
        self.clock = clock or Clock()
        self.claiming = ClaimSteps(claims, cache, events, self.clock)
        self.limiter = RateLimiter(options.rate, self.clock)
        self.rng = random.Random()

    async def run(self, jobs: list[ElementJob]) -> list[ElementOutcome]:
        return list(await asyncio.gather(*(self._one(job) for job in jobs)))

    async def _one(self, job: ElementJob) -> ElementOutcome:
        entry = self.paid.get(job.key)
        if entry is not None and job.label not in self.repaying:
            self.events(job.label, "cached", f"element {entry.element_id}")
            return ElementOutcome(job, "cached", entry.element_id, entry.task_id)
        outcome = ElementOutcome(job, "failed")
        try:
            outcome.task_id = await self._task(job, outcome)
            outcome.element_id = await self._poll(job, outcome.task_id)
            outcome.state = "done"
            self.events(job.label, "done", f"element {outcome.element_id}")
        except (ElementFailed, ProviderError) as exc:
            outcome.message = getattr(exc, "message", None) or str(exc)
            self.events(job.label, "failed", outcome.message)
        except OSError as exc:  # the machine said no (a full disk): a task id already known stays in the journal
            outcome.message = (f"{exc.strerror or exc}; a task already submitted stays in the journal: fix that and "
                               "run the same render again")
            self.events(job.label, "failed", outcome.message)
        return outcome

    async def _task(self, job: ElementJob, outcome: ElementOutcome) -> str:
        """The task id of the element's task: journalled, another render's, or submitted now."""
        command = self.options.command
        entry = self.journal.get(job.key)
        if entry is not None and await self.claiming.held_by_another(job.key):
            entry = None  # another live render journalled it: follow its claim
        if entry is not None:
            if entry.state == SUBMITTING:
                raise ElementFailed(in_doubt(job, "an earlier run sent its submit but stopped before the task id "
                                                  "came back", command))
            outcome.resumed = True
            self.events(job.label, "processing", "resumed")
            return entry.task_id
        try:
            followed = await self.claiming.claim(job.key, job.label)
        except ClaimInDoubt as exc:
            raise ElementFailed(in_doubt(job, str(exc), command)) from None
        if isinstance(followed, str):  # another render's task: polls are free, a second submit is not
            outcome.resumed = True
            return followed
        async with self.claiming.heartbeat(job.key, lambda: self.journal.get(job.key) is None):
            return await self._submit(job, outcome)

    async def _retrying(self, what: str, job: ElementJob, call):
        return await retrying(call, self.clock, self.rng, lambda exc: self.events(job.label, "retrying", str(exc)),
                              lambda exc: ElementFailed(f"{what} kept failing: {exc}"), attempts=MAX_ATTEMPTS)

    async def _prepare(self, job: ElementJob) -> dict:
        urls = {}
        for digest in dict.fromkeys(media_digests(job.request)):
            url = self.uploads.get(self.provider.origin, digest)
            if url is None:
                self.events(job.label, "uploading", job.media.get(digest, ""))
                path = self.root / job.media[digest]
                ctype = CONTENT_TYPES.get(path.suffix[1:].lower(), "application/octet-stream")
                url = await self._retrying("upload", job, lambda p=path, c=ctype: self.provider.upload(p, c))
                self.uploads.put(self.provider.origin, digest, url)
            urls[digest] = url
        return with_urls(job.request, urls)

    async def _submit(self, job: ElementJob, outcome: ElementOutcome) -> str:
        body = await self._prepare(job)
        await self.limiter.acquire(lambda wait: self.events(job.label, "waiting", self.limiter.waiting_text(wait))
                                   if wait >= 1 else None)  # as a clip says why it waits
        self.events(job.label, "submitting", "")
        origin = self.provider.origin
        try:
            await asyncio.to_thread(self.journal.submitting, job.key, job.label, job.model, origin)
        except JournalFull as exc:
            raise ElementFailed(str(exc)) from None
        sent = False  # only a Retryable answer proves that no task came of a request

        async def send() -> str:
            nonlocal sent
            sent = True
            try:
                return await self.provider.submit(job.model, body)
            except Retryable:
                sent = False
                raise

        try:
            task_id = await self._retrying("submit", job, send)
        except asyncio.CancelledError:
            if not sent:
                self.journal.forget(job.key)
            raise
        except (NoTask, ElementFailed) as exc:  # certainly no task
            await asyncio.to_thread(self.journal.forget, job.key)
            raise ElementFailed(getattr(exc, "message", None) or str(exc)) from None
        except MaybeTask as exc:
            raise ElementFailed(in_doubt(job, str(exc), self.options.command)) from None
        await asyncio.to_thread(self._task_known, job, origin, task_id)
        outcome.paid = job.cost or Decimal(0)
        self.events(job.label, "submitted", task_id)
        return task_id

    def _task_known(self, job: ElementJob, origin: str, task_id: str) -> None:
        self.journal.submitted(job.key, job.label, job.model, origin, task_id)
        try:
            self.claiming.set_task_now(job.key, task_id)
        except OSError:
            pass  # the journal has it

    async def _poll(self, job: ElementJob, task_id: str) -> str:
        started, failures = self.clock.now(), 0
        while True:
            elapsed = self.clock.now() - started
            if elapsed > MAX_POLL_SECONDS:
                raise ElementFailed(f"task {task_id} is still running after {elapsed:.0f} s; run again to resume it")
            try:
                state = await self.provider.result(task_id)
            except Retryable as exc:
                failures += 1
                if failures >= MAX_ATTEMPTS * 2:
                    raise ElementFailed(f"polling task {task_id} kept failing ({exc}); run again to resume it") from None
                await self.clock.sleep(backoff(failures, self.rng))
                continue
            if state.final:
                break
            self.events(job.label, state.status or "processing", "")
            await self.clock.sleep(poll_interval(elapsed))
        if state.status != "completed":
            await asyncio.to_thread(self.journal.forget, job.key)  # a failed task is refunded and is no more
            await self.claiming.task_failed(job.key, task_id)
            raise ElementFailed(f"the provider says: {state.error or f'the task ended as {state.status}'}")
        ids = [element_id_of(o.get("element_id")) for o in state.objects]
        if not ids or ids[0] is None:
            raise ElementFailed(f"task {task_id} completed without an element id this tool can keep exactly (a "
                                "whole number); it stays in the journal: nothing is paid again by itself")
        return ids[0]

    def settle(self, outcomes: list[ElementOutcome], lock_file: Path, origin: str, now: float) -> None:
        """Every element made or found into this storyboard's lock, synced; only then the journal entries and
        claims of the ones made now go."""
        lock = read_lock(lock_file)
        when = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds")
        for o in outcomes:
            if o.state == "failed":
                continue
            before = self.paid.get(o.job.key)
            if o.state == "cached" and before is not None:
                lock.put_element(o.job.character, before)
                continue
            lock.put_element(o.job.character, ElementEntry(
                key=o.job.key, model=o.job.model, origin=origin, task_id=o.task_id, element_id=o.element_id,
                name=o.job.name, cost=o.job.cost, completed_at=when))
        try:
            write_lock(lock_file, lock)
        except OSError as exc:  # the journal keeps the task ids: a rerun records them without paying
            raise StoryboardError(f"{lock_file}: the lock could not be written ({exc.strerror or exc}); the elements "
                                  "made are journalled: free some space and run the same render again (nothing "
                                  "is paid again)") from None
        for o in outcomes:  # the claim stays, with its task id: a teammate without this lock follows that task
            if o.state == "done":  # (polls are free) instead of making the element again
                self.journal.forget(o.job.key)


def resolved(plan: Plan, outcomes: list[ElementOutcome], unmade: list, keep_going: bool = True
             ) -> tuple[Plan, list[Outcome]]:
    """The plan as its shots are sent (each element swapped for its id), less the shots to be made whose element
    could not be; those come back as outcomes that say why. Without ``keep_going`` a failed element stops every
    shot still to be made, as a failed shot does."""
    ids = {o.job.key: o.element_id for o in outcomes if o.element_id}
    why = {o.job.character: o.message or "it was not made" for o in outcomes if not o.element_id}
    unmade_keys = {job.key for job in unmade}
    blocked: list[Outcome] = []

    def send(jobs):
        out = []
        for job in jobs:
            missing = [c for c in used_elements(job.request) if c in why]
            if missing and job.key in unmade_keys:
                blocked.append(Outcome(job, "skipped", message=f"not started: element `{missing[0]}`, whose output "
                                                               f"it takes, could not be made: {why[missing[0]]}"))
                continue
            if why and not keep_going and job.key in unmade_keys:
                blocked.append(Outcome(job, "skipped", message="not started: an element failed"))
                continue
            request = with_element_ids(job.request, ids)
            out.append(job if request is job.request else job.model_copy(update={"request": request}))
        return out

    # a rendered deliverable's shots (`SHOT@NAME`) send the same elements as the master's
    films = [d.model_copy(update={"jobs": send(d.jobs)}) if d.jobs else d for d in plan.deliverables]
    return plan.model_copy(update={"jobs": send(plan.jobs), "takes": send(plan.takes), "deliverables": films}), blocked
