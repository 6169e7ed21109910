"""Time as an injected dependency: a clock, backoff, a rate limit, poll pacing.

Every sleep in render goes through a ``Clock``, so tests of retries and rate
limits use ``FakeClock`` and run in milliseconds.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from typing import Callable

from ..providers import Retryable


class Clock:
    """Real time."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def wait(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """Sleep ``seconds``, or less if ``wake`` is set meanwhile: whether it was."""
        if wake is None:
            await self.sleep(seconds)
            return False
        try:
            await asyncio.wait_for(wake.wait(), max(0.0, seconds))
            return True
        except asyncio.TimeoutError:
            return False


class FakeClock(Clock):
    """Time that passes only when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)

    async def wait(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """A wake already set ends the wait at once; else time passes as in ``sleep``."""
        if wake is not None and wake.is_set():
            await asyncio.sleep(0)
            return True
        await self.sleep(seconds)
        return False


def backoff(attempt: int, rng: random.Random, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Full-jitter exponential backoff: a random delay up to base·2^attempt, capped."""
    return rng.uniform(0, min(cap, base * 2**attempt))


def poll_interval(elapsed: float, *, low: float = 0.1, high: float = 5.0) -> float:
    """How long to wait before the next poll of a task running for ``elapsed`` s.

    A twentieth of the time so far, within [low, high]: a finished task is
    seen within ~5% of its running time (2.5% on average), and a long task
    costs only a few dozen polls.
    """
    return min(high, max(low, elapsed / 20))


class Watch:
    """One task being polled: its kind, and when (on the pacer's clock) its polling began."""

    __slots__ = ("kind", "started")

    def __init__(self, kind: object, started: float):
        self.kind, self.started = kind, started


class PollPacer:
    """When to poll a task, learning from the tasks already finished, and
    polling one task per kind closely while the others wait to be woken.

    Tasks of the same kind (model and duration) take about the same time. A
    task is *due* while no task of its kind has finished, or once it has run
    for 0.9 of the time its kind was last seen running; before that it
    sleeps. Of the due tasks of a kind, the oldest (the leader) is polled at
    the full pace: ``poll_interval`` while the kind is new, densely around the
    learnt time after. The others are polled only every ``follow_interval``,
    and at once when the leader finishes (its kind's ``wake``): tasks sent
    together finish together, so a wave of N equal tasks costs about N polls
    and a few, not a dense run each. A leader is always polled at the full
    pace, so a finished task is seen as soon as before.
    """

    def __init__(self, low: float = 0.1, high: float = 5.0, now=None):
        self.low, self.high = low, high
        self.now = now or time.monotonic
        self.expected: dict[object, float] = {}
        self.took: dict[object, float] = {}  # when the last closely watched task of a kind was seen done
        self.watches: dict[object, list[Watch]] = {}
        self.wakes: dict[object, asyncio.Event] = {}

    def watch(self, kind: object) -> Watch:
        """A task of ``kind`` starts being polled; ``leave`` it when it stops."""
        watch = Watch(kind, self.now())
        self.watches.setdefault(kind, []).append(watch)
        return watch

    def leave(self, watch: Watch) -> None:
        """The task is no longer polled; if it was its kind's leader, the others are woken."""
        leader = self._leader(watch.kind)
        self.watches[watch.kind].remove(watch)
        if leader is watch:
            self.wakes.pop(watch.kind, asyncio.Event()).set()

    async def pause(self, watch: Watch, clock: Clock) -> None:
        """Wait until the task's next poll. A task that will follow an older one of its kind
        sleeps until it is due without polling, then waits as a follower."""
        expected = self.expected.get(watch.kind)
        elapsed = self.now() - watch.started
        if not self._due(watch, elapsed) and any(w.started < watch.started for w in self.watches[watch.kind]):
            await clock.sleep(0.9 * expected - elapsed)
        while await clock.wait(*self.next_poll(watch)):
            took = self.took.get(watch.kind)
            if took is None or self.now() - watch.started >= 0.95 * took:
                return  # woken, and it has run about as long as the leader took: polled at once
            # Started later than the leader: its turn comes when it has run as long (next_poll).

    def next_poll(self, watch: Watch) -> tuple[float, asyncio.Event | None]:
        """Seconds until the task's next poll, and the event that ends that wait early (or None)."""
        elapsed = self.now() - watch.started
        own = self.delay(watch.kind, elapsed)
        if not self._due(watch, elapsed) or self._leader(watch.kind) is watch:
            return own, None
        wake = self.wakes.setdefault(watch.kind, asyncio.Event())
        wait = follow_interval(elapsed, high=self.high)
        took = self.took.get(watch.kind)
        if took is not None and took > elapsed:  # the last of its kind was done after this long: look then
            wait = min(wait, took - elapsed)
        return max(own, wait), wake

    def delay(self, kind: object, elapsed: float) -> float:
        """The full pace for a task of ``kind`` that has run ``elapsed`` s."""
        expected = self.expected.get(kind)
        if expected is None:
            return poll_interval(elapsed, low=self.low, high=self.high)
        if elapsed < 0.9 * expected:
            return min(self.high, 0.9 * expected - elapsed)
        return min(self.high, max(expected / 40, (elapsed - expected) / 20, 0.02))

    def finished(self, kind: object, still_running_at: float, done_at: float) -> None:
        """A task of ``kind`` was still running at ``still_running_at`` s and seen completed at
        ``done_at`` s. Only a close bracket teaches: a task that waited to be woken may have
        finished long after its last poll, and a time learnt from it would be too short."""
        if still_running_at > 0 and done_at - still_running_at <= 0.1 * done_at:
            self.took[kind] = done_at
            previous = self.expected.get(kind)
            self.expected[kind] = still_running_at if previous is None else min(previous, still_running_at)

    def _due(self, watch: Watch, elapsed: float) -> bool:
        expected = self.expected.get(watch.kind)
        return expected is None or elapsed >= 0.9 * expected

    def _leader(self, kind: object) -> Watch | None:
        now = self.now()
        due = [w for w in self.watches.get(kind, ()) if self._due(w, now - w.started)]
        return min(due, key=lambda w: w.started, default=None)


def follow_interval(elapsed: float, *, high: float = 5.0) -> float:
    """How long a task that is not its kind's leader waits, unless woken: a fifth
    of the time so far, at least a second, at most ``high`` (as its leader's pace
    is, for any task of more than ``20 * high`` s)."""
    return min(high, max(1.0, elapsed / 5))


class RateLimiter:
    """At most ``rate`` acquisitions in any ``window`` seconds (a sliding window).

    The first ``rate`` go at once; each later one is given, as it asks, the
    time it may go (``rate`` places after the one ``window`` seconds before
    it), so every job held knows how long it waits, and says so. ``rate`` of
    0 means no limit.
    """

    def __init__(self, rate: int, clock: Clock, window: float = 60.0):
        self.rate, self.clock, self.window = rate, clock, window
        self.times: deque[float] = deque()  # the times given out, in order; some may lie ahead

    async def acquire(self, waiting: Callable[[float], None] | None = None) -> None:
        """Wait for this submit's place; ``waiting`` is told the wait first, when there is one."""
        if self.rate <= 0:
            return
        now = self.clock.now()
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()
        at = now if len(self.times) < self.rate else max(now, self.times[-self.rate] + self.window)
        self.times.append(at)
        if at > now:
            if waiting is not None:
                waiting(at - now)
            await self.clock.sleep(at - now)

    def waiting_text(self, seconds: float) -> str:
        """``rate limit 5/min, next submit in 48 s``: why a job waits, for the progress display."""
        per = "min" if self.window == 60 else f"{self.window:g} s"
        return f"rate limit {self.rate}/{per}, next submit in {math.ceil(seconds)} s"


async def retrying(call, clock: Clock, rng: random.Random, retried: Callable, failed: Callable, *,
                   attempts: int = 6, cap: float = 60.0):
    """``call()``, again after each Retryable answer (one that proves nothing was done), waiting as the
    provider asks (capped) or backing off; after ``attempts`` answers, ``failed(answer)`` is raised.
    Clips and Kling elements share it: a retry never resends what may have been done."""
    for attempt in range(attempts):
        try:
            return await call()
        except Retryable as exc:
            if attempt == attempts - 1:
                raise failed(exc) from None
            retried(exc)
            wait = min(exc.retry_after, cap) if exc.retry_after is not None else backoff(attempt, rng)
            await clock.sleep(wait)
