"""Retries, rate limits and polling run on an injected clock: milliseconds here."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from storyboard.store.cache import ClipCache
from storyboard.render.journal import Journal
from storyboard.plan.types import Job, Source
from storyboard.providers import Retryable, TaskState
from storyboard.render.executor import Options, Renderer
from storyboard.store.storage import LocalStorage
from storyboard.render.timing import FakeClock, RateLimiter, poll_interval

from conftest import MP4_4S


def test_rate_limiter_lets_five_go_then_waits_for_the_window():
    clock = FakeClock()
    limiter = RateLimiter(5, clock)

    async def go():
        times = []
        for _ in range(7):
            await limiter.acquire()
            times.append(clock.now())
        return times

    assert asyncio.run(go()) == [0, 0, 0, 0, 0, 60, 60]


def test_poll_interval_is_a_tenth_of_the_time_so_far_within_bounds():
    assert poll_interval(0) == 0.1 and poll_interval(30) == 1.5 and poll_interval(600) == 5


class FakeProvider:
    """A provider in memory: 429 on the first submit, 503 on the first poll."""

    name, origin = "wavespeed", "https://api.wavespeed.ai"

    def __init__(self):
        self.submits = 0
        self.polls = 0

    async def upload(self, path, content_type):
        return "https://media.example/x"

    async def submit(self, model, body):
        self.submits += 1
        if self.submits == 1:
            raise Retryable("rate limited", retry_after=7)
        return "task"

    async def result(self, task_id):
        self.polls += 1
        if self.polls == 1:
            raise Retryable("503", retry_after=11)
        return TaskState("completed", ["https://cdn.example/clip.mp4"]) if self.polls > 3 else TaskState("processing")

    async def download(self, url, dest):
        dest.write_bytes(MP4_4S)

    async def aclose(self):
        pass


def test_executor_honours_retry_after_and_never_really_sleeps(tmp_path):
    from storyboard.plan.types import Plan, CutPlan, PriceListRef

    job = Job(shot="s", key="a" * 64, model="m", request={"prompt": "x", "duration": 4}, duration=4,
              cost=Decimal("0.5"), source=Source(file="s.yaml", line=1, column=1))
    plan = Plan(storyboard="s.yaml", title="", provider="wavespeed", origin=FakeProvider.origin,
                price_list=PriceListRef(name="p", as_of="2026-01-01", source="built-in"), total_cost=Decimal("0.5"),
                jobs=[job], cut=CutPlan(output="o.mp4", shots=[], duration=4))
    clock = FakeClock()
    provider = FakeProvider()
    events = []
    renderer = Renderer(plan, tmp_path, ClipCache.at(tmp_path / "cache"), options=Options(rate=5),
                        events=lambda *e: events.append(e), provider=provider,
                        journal=Journal(LocalStorage(tmp_path / "state")), clock=clock, rng=random.Random(1))
    report = asyncio.run(renderer.run())
    assert report.outcomes[0].state == "done" and report.spent == Decimal("0.5")
    assert provider.submits == 2
    assert 7 in clock.sleeps and 11 in clock.sleeps
    assert ("s", "submitted", "task") in events
