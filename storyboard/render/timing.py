"""Time as an injected dependency: a clock, backoff, a rate limit, poll pacing.

Every sleep in render goes through a ``Clock``, so tests of retries and rate
limits use ``FakeClock`` and run in milliseconds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque


class Clock:
    """Real time."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


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


class PollPacer:
    """When to poll a task, learning from the tasks already finished.

    Tasks of the same kind (model and duration) take about the same time. The
    first of a kind is polled at ``poll_interval``; once one has finished,
    the next of its kind sleeps until shortly before that time and then polls
    densely, so finished tasks are seen sooner, with fewer polls.
    """

    def __init__(self, low: float = 0.1, high: float = 5.0):
        self.low, self.high = low, high
        self.expected: dict[object, float] = {}

    def delay(self, kind: object, elapsed: float) -> float:
        expected = self.expected.get(kind)
        if expected is None:
            return poll_interval(elapsed, low=self.low, high=self.high)
        if elapsed < 0.9 * expected:
            return min(self.high, 0.9 * expected - elapsed)
        return min(self.high, max(expected / 40, (elapsed - expected) / 20, 0.02))

    def finished(self, kind: object, still_running_at: float) -> None:
        """A task of ``kind`` was still running at ``still_running_at`` s and then finished."""
        if still_running_at > 0:
            previous = self.expected.get(kind)
            self.expected[kind] = still_running_at if previous is None else min(previous, still_running_at)


class RateLimiter:
    """At most ``rate`` acquisitions in any ``window`` seconds (a sliding window).

    The first ``rate`` go at once; the next waits until the oldest leaves the
    window. ``rate`` of 0 means no limit.
    """

    def __init__(self, rate: int, clock: Clock, window: float = 60.0):
        self.rate, self.clock, self.window = rate, clock, window
        self.times: deque[float] = deque()
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self.lock:
            while True:
                now = self.clock.now()
                while self.times and self.times[0] <= now - self.window:
                    self.times.popleft()
                if len(self.times) < self.rate:
                    self.times.append(now)
                    return
                await self.clock.sleep(self.times[0] + self.window - now)
