"""The render executor: a plan's jobs to clips in the cache, each paid for once.

For every job not in the cache: upload its media, wait for a slot (at most
``concurrency`` tasks at once) and for the rate limit (``rate`` submits in any
60 s), journal it, submit, journal the task id, poll until the task ends,
download, verify and cache the clip, and only then forget the journal entry.
A rerun after a crash resumes every journalled task instead of paying again.
"""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from pathlib import Path
from typing import Callable

from ..store.cache import CachedClip, ClipCache
from ..store.claims import Claims
from .claiming import ClaimInDoubt, ClaimSteps
from .journal import SUBMITTING, Journal, JournalFull
from ..format.files import work_dir
from ..plan.types import Job, Plan
from ..providers import CONTENT_TYPES, MaybeTask, NoTask, ProviderError, RemoteProvider, Retryable
from .timing import Clock, PollPacer, RateLimiter, backoff, retrying
from .inputs import InputMissing, input_name, materialize, upstream_keys
from .uploads import UploadBook, media_digests, with_urls
from ..cut.timeline import StitchError
from .checks import budget_check, check_clip, short_message, unusable_upstreams
from .outcomes import Options, Outcome, Report

Events = Callable[[str, str, str], None]  # (shot, state, detail)

MAX_ATTEMPTS = 6
MAX_POLL_SECONDS = 3600.0
MAX_WAIT = 60.0  # seconds: the longest a Retry-After may hold a job (the provider client caps it too)
LocalRender = Callable[[Job, Path, Path], None]  # job, project root (for its media), destination


class _Slot:
    """One of ``concurrency`` places, held from submit until the task ends
    (not through the download), released once."""

    def __init__(self, semaphore: asyncio.Semaphore):
        self.semaphore = semaphore
        self.held = False

    async def __aenter__(self) -> "_Slot":
        await self.semaphore.acquire()
        self.held = True
        return self

    def release(self) -> None:
        if self.held:
            self.held = False
            self.semaphore.release()

    async def __aexit__(self, *exc) -> None:
        self.release()


class _Skipped(Exception):
    """Not started, because an earlier shot failed (without --keep-going)."""


class JobFailed(Exception):
    def __init__(self, message: str, *, stops: bool = True):
        super().__init__(message)
        self.message = message
        self.stops = stops  # without --keep-going, the shots not started yet are skipped


def _quiet_on_failure(events: Events) -> Events:
    """The display, made unable to stop the work: a closed pipe, a full disk for
    the log or a terminal gone away must never land between a submit and its
    journal entry. After the first failure the display is dropped."""
    broken = False

    def emit(shot: str, state: str, detail: str) -> None:
        nonlocal broken
        if broken:
            return
        try:
            events(shot, state, detail)
        except Exception:
            broken = True

    return emit


def in_doubt(job: Job, cause: str, command: str = "storyboard render PATH") -> str:
    return (
        f"{cause}: a task may exist and be paid for, so it is not resubmitted by itself. Check your "
        f"{'fal' if job.model.startswith('fal-ai/') else 'WaveSpeed'} dashboard; to submit again anyway (perhaps paying twice), run "
        f"`{command} --resubmit {job.label}`"
    )


class ShortClip(JobFailed):
    """A whole clip, paid for, that the cut would refuse as too short: it is kept
    (cached, and so in the lock: never paid for again by itself) and its shot fails."""

    def __init__(self, message: str, clip: CachedClip):
        super().__init__(message)
        self.clip = clip


class Renderer:
    def __init__(self, plan: Plan, root: Path, cache: ClipCache, *, options: Options, events: Events,
                 provider: RemoteProvider | None = None, local: LocalRender | None = None,
                 journal: Journal | None = None, uploads: UploadBook | None = None,
                 clock: Clock | None = None, rng: random.Random | None = None, paid: set[str] | None = None,
                 claims: Claims | None = None, landed: Callable[[Job, CachedClip], None] | None = None):
        self.plan, self.root, self.cache = plan, root, cache
        self.landed = landed  # told of each clip made, as it lands (the cut readies it meanwhile)
        self.paid = paid or set()  # job keys paid for already: never submitted again here
        self.options, self.events = options, _quiet_on_failure(events)
        self.provider, self.local, self.journal, self.uploads = provider, local, journal, uploads
        self.clock = clock or Clock()
        self.claiming = ClaimSteps(claims, cache, self.events, self.clock)
        self.rng = rng or random.Random()
        self.limiter = RateLimiter(options.rate, self.clock)
        self.pacer = PollPacer(now=self.clock.now)
        self.stopping = False
        self.unusable: dict[str, str] = {}  # job key → why it fails before any submit (run)

    async def run(self) -> Report:
        """Render every uncached job; refuses (BudgetExceeded) before any request."""
        report = Report()
        uncached = []
        for job in self.plan.all_jobs:
            clip = self.cache.get(job.key)
            if clip:
                report.outcomes.append(Outcome(job, "cached", clip))
                self.events(job.label, "cached", "")
            else:
                uncached.append(job)
        if not uncached:
            return report
        firsts: dict[str, Job] = {}
        for job in uncached:  # two shots with one job key: one job, rendered once
            firsts.setdefault(job.key, job)
        budget_check(list(firsts.values()), self.journal, self.options.max_cost, self.options.budget_name)
        # A cached clip an uncached job builds on is checked before anything is submitted: without
        # --keep-going its failure stops the render with nothing spent.
        self.unusable = await asyncio.to_thread(unusable_upstreams, list(firsts.values()), self.plan, self.cache)
        if self.unusable and not self.options.keep_going:
            self.stopping = True
        slots = asyncio.Semaphore(max(1, self.options.concurrency))
        loop = asyncio.get_running_loop()
        self.finished = {key: loop.create_future() for key in firsts}  # the graph: dependents wait on these
        results = await asyncio.gather(*(self._node(job, slots) for job in firsts.values()))
        report.outcomes += results
        by_key = {outcome.job.key: outcome for outcome in results}
        for job in uncached:
            if firsts[job.key] is not job:
                first = by_key[job.key]
                state = "cached" if first.clip is not None and first.state != "failed" else first.state
                report.outcomes.append(Outcome(job, state, first.clip, first.message))
                self.events(job.label, state, f"the same job as {first.job.label}")
        order = {job.label: i for i, job in enumerate(self.plan.all_jobs)}
        report.outcomes.sort(key=lambda o: order[o.job.label])
        return report

    async def _node(self, job: Job, slots: asyncio.Semaphore) -> Outcome:
        """One job of the graph: it starts when the clips it takes inputs from are made."""
        outcome = Outcome(job, "skipped", message="not started")
        try:
            if job.key in self.unusable:  # found before any submit (run)
                outcome = Outcome(job, "failed", message=self.unusable[job.key])
                self.events(job.label, "failed", outcome.message)
                return outcome
            blocked = await self._wait_for_inputs(job)
            if blocked:
                self.events(job.label, "skipped", blocked)
                outcome = Outcome(job, "skipped", message=f"not started: {blocked}")
            else:
                outcome = await self._guarded(job, slots)
            return outcome
        finally:
            future = self.finished[job.key]
            if not future.done():
                future.set_result(outcome)

    async def _wait_for_inputs(self, job: Job) -> str:
        """Wait until every shot this job takes an output of has its clip; why not, if one cannot."""
        for shot, key in upstream_keys(job):
            future = self.finished.get(key)
            if future is not None:
                if not future.done():
                    self.events(job.label, "waiting", f"for {shot}")
                upstream = await future
                if upstream.clip is None or upstream.state == "failed":
                    cause = "failed" if upstream.state == "failed" else "was not made"
                    return f"shot `{shot}`, whose output it takes, {cause}"
            elif await asyncio.to_thread(self.cache.get, key) is None:
                return f"the clip of shot `{shot}`, whose output it takes, is not in the cache"
        return ""

    async def _guarded(self, job: Job, slots: asyncio.Semaphore) -> Outcome:
        self.events(job.label, "queued", "")
        slot = _Slot(slots)
        async with slot:
            if self.stopping:
                self.events(job.label, "skipped", "an earlier shot failed")
                return Outcome(job, "skipped", message="not started: an earlier shot failed")
            outcome = Outcome(job, "failed")
            try:
                made = job
                if job.depends_on:  # other shots' outputs, made into files (the job's key is unchanged)
                    made, outcome.inputs = await asyncio.to_thread(materialize, job, self.plan, self.cache, self.root)
                if self.local is not None:
                    outcome.clip = await self._render_local(made)
                else:
                    outcome.clip = await self._render_remote(made, outcome, slot)
                outcome.state = "done"
                self.events(job.label, "done", "")
                if self.landed is not None:
                    self.landed(job, outcome.clip)
            except _Skipped:
                self.events(job.label, "skipped", "an earlier shot failed")
                return Outcome(job, "skipped", message="not started: an earlier shot failed")
            except OSError as exc:  # the machine said no (a full disk): this shot fails, its task id is journalled
                outcome.message = (f"{exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}; a task "
                                   "already submitted stays in the journal: fix that and run the same render again")
                self.events(job.label, "failed", outcome.message)
                self.stopping = self.stopping or not self.options.keep_going
            except (JobFailed, ProviderError, InputMissing, StitchError) as exc:
                outcome.message = getattr(exc, "message", None) or str(exc)
                outcome.clip = getattr(exc, "clip", None)  # a paid clip the cut refuses: kept, in the lock
                self.events(job.label, "failed", outcome.message)
                if not self.options.keep_going and getattr(exc, "stops", True):
                    self.stopping = True
            return outcome

    # -- local (preview) --

    async def _render_local(self, job: Job) -> CachedClip:
        self.events(job.label, "processing", "")
        with work_dir("render") as tmp:
            dest = Path(tmp) / "clip.mp4"
            await asyncio.to_thread(self.local, job, self.root, dest)
            problem, clip, short = await asyncio.to_thread(self._land, job, dest, "local")
            if problem or short:
                raise JobFailed(f"the preview clip is unusable: {problem or short}")
            return clip

    # -- remote (wavespeed, or the emulator) --

    async def _render_remote(self, job: Job, outcome: Outcome, slot: "_Slot") -> CachedClip:
        if self.provider is None:
            raise JobFailed("the cached clip is unusable and WAVESPEED_API_KEY is not set to fetch it again")
        entry = self.journal.get(job.key)
        if entry is not None and await self.claiming.held_by_another(job.key):
            entry = None  # another live render on this machine journalled it: follow its claim, not the journal
        if entry is None and job.key in self.paid:  # a safety net: recovery runs before, and refuses
            raise JobFailed("already paid for and not recovered; storyboard never pays twice by itself "
                            f"(`{self.options.command} --repay {job.label}` pays again)")
        if entry is None:
            try:
                followed = await self.claiming.claim(job.key, job.label)
            except ClaimInDoubt as exc:  # nothing was spent here: the other shots go on
                raise JobFailed(in_doubt(job, str(exc), self.options.command), stops=False) from None
            if isinstance(followed, CachedClip):  # another render made it while we waited
                return followed
            if followed is not None:  # another render's task: polls are free, a second submit is not
                task_id, outcome.resumed = followed, True
                self.events(job.label, "processing", "following another render's task")
            else:
                async with self.claiming.heartbeat(job.key, lambda: self.journal.get(job.key) is None):
                    task_id = await self._submit(job, outcome)
        elif entry.state == SUBMITTING:
            raise JobFailed(in_doubt(job, "an earlier run sent its submit but stopped before the task id came back",
                                    self.options.command))
        else:
            task_id, outcome.resumed = entry.task_id, True
            self.events(job.label, "processing", "resumed")
        state = await self._poll(job, task_id, outcome.resumed)
        if state.status != "completed" or not state.outputs:
            await asyncio.to_thread(self.journal.forget, job.key)  # a failed task is refunded and is no more
            await self.claiming.task_failed(job.key, task_id)
            reason = state.error or f"the task ended as {state.status}"
            raise JobFailed(f"the provider says: {reason}")  # keeps its slot until the failure is counted
        slot.release()  # the task is over: its place on the account is free while we download
        clip, short = await self._fetch(job, task_id, state.outputs[0])
        await asyncio.to_thread(self._forget, job.key)
        if short:  # downloading it again would give the same clip: another take is the cure
            raise ShortClip(short_message(job, short, self.options.command), clip)
        return clip


    def _remote(self, job: Job) -> RemoteProvider:
        """The client of the job's host: the render's provider, or the one for a shot's own `provider:`."""
        pick = getattr(self.provider, "for_job", None)
        return pick(job) if pick is not None else self.provider

    async def _retrying(self, what: str, job: Job, call):
        return await retrying(call, self.clock, self.rng, lambda exc: self.events(job.label, "retrying", str(exc)),
                              lambda exc: JobFailed(f"{what} kept failing: {exc}"), attempts=MAX_ATTEMPTS, cap=MAX_WAIT)

    async def _prepare(self, job: Job, inputs: dict[str, str]) -> dict:
        urls = {}
        for digest in dict.fromkeys(media_digests(job.request)):
            url = self.uploads.get(self._remote(job).origin, digest) if self.uploads else None
            if url is None:
                self.events(job.label, "uploading", input_name(job, digest, inputs))
                path = self.root / job.media[digest]
                ctype = CONTENT_TYPES.get(path.suffix[1:].lower(), "application/octet-stream")
                url = await self._retrying("upload", job, lambda p=path, c=ctype: self._remote(job).upload(p, c))
                if self.uploads:
                    self.uploads.put(self._remote(job).origin, digest, url)
            urls[digest] = url
        return with_urls(job.request, urls)

    async def _submit(self, job: Job, outcome: Outcome) -> str:
        body = await self._prepare(job, outcome.inputs)
        await self.limiter.acquire(lambda wait: self.events(job.label, "waiting", self.limiter.waiting_text(wait))
                                   if wait >= 1 else None)
        if self.stopping:  # another shot failed while this one waited: spend nothing more
            raise _Skipped
        self.events(job.label, "submitting", "")
        origin = self._remote(job).origin
        # Journal writes are synced to disk: off the event loop, but awaited before the request goes.
        # The entry reserves the room its task id needs: a disk that fills after the submit cannot lose it.
        try:
            await asyncio.to_thread(self.journal.submitting, job.key, job.label, job.model, origin)
        except JournalFull as exc:
            raise JobFailed(str(exc)) from None
        sent = False  # a request is (or may be) out: only a Retryable answer proves no task came of it

        async def send() -> str:
            nonlocal sent
            sent = True
            try:
                return await self._remote(job).submit(job.model, body)
            except Retryable:
                sent = False
                raise

        try:
            task_id = await self._retrying("submit", job, send)
        except asyncio.CancelledError:
            if not sent:  # Ctrl-C in a backoff after a 429: no task exists, so the rerun must not doubt it
                self.journal.forget(job.key)
            raise
        except NoTask as exc:
            await asyncio.to_thread(self.journal.forget, job.key)
            raise JobFailed(str(exc)) from None
        except JobFailed:
            await asyncio.to_thread(self.journal.forget, job.key)  # only Retryable errors got here: no task existed
            raise
        except MaybeTask as exc:
            raise JobFailed(in_doubt(job, str(exc), self.options.command)) from None
        await asyncio.to_thread(self._task_known, job, origin, task_id)
        outcome.paid = job.cost or Decimal(0)
        self.events(job.label, "submitted", task_id)
        return task_id

    def _task_known(self, job: Job, origin: str, task_id: str) -> None:
        """The task id into the journal (in the room its entry reserved), then into our claim: one
        trip off the event loop. A claim the disk refuses to update keeps no task id: the journal
        has it, and a rerun here resumes from the journal."""
        self.journal.submitted(job.key, job.label, job.model, origin, task_id)
        try:
            self.claiming.set_task_now(job.key, task_id)
        except OSError:
            self.events(job.label, "retrying", "the claim could not record the task id (is the disk full?); "
                                               "the journal has it")

    def _forget(self, key: str) -> None:
        """The clip is cached: its journal entry and its claim go, in one trip off the event loop."""
        self.journal.forget(key)
        self.claiming.done_now(key)

    async def _poll(self, job: Job, task_id: str, resumed: bool = False):
        kind = (job.model, job.duration)
        watch = self.pacer.watch(kind)
        try:
            return await self._poll_watched(job, task_id, resumed, watch)
        finally:
            self.pacer.leave(watch)  # if it led its kind, the others are polled at once

    async def _poll_watched(self, job: Job, task_id: str, resumed: bool, watch):
        started = self.clock.now()
        kind = watch.kind
        failures = 0
        running_at = 0.0
        while True:
            elapsed = self.clock.now() - started
            if elapsed > MAX_POLL_SECONDS:
                raise JobFailed(f"task {task_id} is still running after {elapsed:.0f} s; run again to resume it")
            await self.pacer.pause(watch, self.clock)
            asked_at = self.clock.now() - started
            try:
                state = await self._remote(job).result(task_id)
            except Retryable as exc:
                failures += 1
                if failures >= MAX_ATTEMPTS * 2:
                    raise JobFailed(f"polling task {task_id} kept failing ({exc}); run again to resume it") from None
                await self.clock.sleep(min(exc.retry_after, MAX_WAIT) if exc.retry_after is not None else backoff(failures, self.rng))
                continue
            failures = 0
            if state.final:
                if not resumed and state.status == "completed":  # a resumed task's start is unknown; a failed
                    self.pacer.finished(kind, running_at, asked_at)  # one may end early: learn only from a whole run
                return state
            running_at = asked_at
            expected = self.pacer.expected.get(kind)
            self.events(job.label, state.status or "processing", f"typically {expected:.0f} s" if expected else "")

    def _land(self, job: Job, clip: Path, task_id: str) -> tuple[str | None, CachedClip | None, str | None]:
        """Check a made clip and put it into the cache, in one trip off the event loop
        (hashing and fsync block): why it is not whole, or the cached clip and why the
        cut would refuse it as too short (or None). A whole clip is cached even then: it
        was paid for. The clip is read once: its check's digest is the cache's."""
        problem, info, short = check_clip(clip, job.duration)
        if problem:
            return problem, None, None
        return None, self.cache.put(job.key, clip, duration=info.duration or job.duration, model=job.model,
                                    provider=self.plan.host(job)[0], task_id=task_id, sha256=info.sha256), short

    async def _fetch(self, job: Job, task_id: str, url: str) -> tuple[CachedClip, str | None]:
        """The task's clip, downloaded, checked and cached; and why the cut would refuse it (or None)."""
        problem = ""
        for attempt in range(MAX_ATTEMPTS):
            self.events(job.label, "downloading", "")
            with work_dir("render") as tmp:
                dest = Path(tmp) / "clip.mp4"
                try:
                    await self._remote(job).download(url, dest)
                    problem, clip, short = await asyncio.to_thread(self._land, job, dest, task_id)
                except Retryable as exc:
                    problem = str(exc)
                if not problem:
                    return clip, short
            self.events(job.label, "retrying", problem)
            await self.clock.sleep(backoff(attempt, self.rng))
        raise JobFailed(f"the clip could not be downloaded intact ({problem}); the task is journalled: run again")

