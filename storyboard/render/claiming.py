"""The executor's side of claims (``store/claims.py``): claim a job before
uploading or submitting it, follow another render's task, keep our claim's
heartbeat, and let the claim go when it has done its work. Every step is a
no-op when the render has no claims (previews).

No wait on another render is unbounded: a claim without a task id is waited
on for at most ``MAX_CLAIM_WAIT`` seconds of the render's clock, however
fresh its heartbeat looks (a planted or broken claim must not hold a render
for ever); then the job is in doubt and the rest of the film goes on."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Callable

from ..store.cache import CachedClip, ClipCache
from ..store.claims import HEARTBEAT_SECONDS, STALE_SECONDS, Claims
from .timing import Clock

WAIT_SECONDS = 0.5  # how often a render waiting on another's claim looks again
MAX_CLAIM_WAIT = 3 * STALE_SECONDS  # the longest a render waits for another's task id


class ClaimInDoubt(Exception):
    """Another render claimed the job and stopped before its task id was known."""


class ClaimSteps:
    def __init__(self, claims: Claims | None, cache: ClipCache, events, clock: Clock | None = None):
        self.claims, self.cache, self.events = claims, cache, events
        self.clock = clock or Clock()

    async def held_by_another(self, key: str) -> bool:
        """Another live render holds a fresh claim on ``key``."""
        if self.claims is None:
            return False
        other = await asyncio.to_thread(self.claims.read, key)
        return other is not None and other.owner != self.claims.owner and not self.claims.stale(other)

    async def claim(self, key: str, shot: str) -> str | CachedClip | None:
        """None when this render may submit; else the task id another render
        submitted, or the clip it made. Waits while another render holds a fresh
        claim without a task id; raises ClaimInDoubt once that claim is stale,
        or once it has waited ``MAX_CLAIM_WAIT``."""
        if self.claims is None:
            return None
        started = self.clock.now()
        while True:
            other = await asyncio.to_thread(self.claims.take, key)
            if other is None:
                return None
            clip = await asyncio.to_thread(self.cache.get, key)
            if clip is not None:
                return clip
            if other.task_id:
                return other.task_id
            if self.claims.stale(other):
                raise ClaimInDoubt("another render claimed this job and stopped before its task id was known "
                                   "(or its claim is damaged, or dated in the future)")
            waited = self.clock.now() - started
            if waited >= MAX_CLAIM_WAIT:
                raise ClaimInDoubt(f"another render has held this job for {waited:.0f} s without a task id; "
                                   "run again later to follow its task")
            self.events(shot, "waiting", "another render is submitting it")
            await self.clock.sleep(WAIT_SECONDS)

    @contextlib.asynccontextmanager
    async def heartbeat(self, key: str, no_task: Callable[[], bool]):
        """Keep our claim fresh while we submit. If the submit fails and ``no_task()``
        says no task can exist, the claim goes so others may try; else it stays, goes
        stale, and leaves the job in doubt."""
        if self.claims is None:
            yield
            return

        async def beat():
            while True:
                await asyncio.sleep(HEARTBEAT_SECONDS)
                await asyncio.to_thread(self.claims.beat, key)

        task = asyncio.create_task(beat())
        try:
            yield
        except asyncio.CancelledError:
            if no_task():  # interrupted (Ctrl-C) before anything was sent: the claim goes now, not stale later
                self.claims.release(key)
            raise
        except Exception:
            if no_task():
                await asyncio.to_thread(self.claims.release, key)
            raise
        finally:
            task.cancel()

    def set_task_now(self, key: str, task_id: str) -> None:
        """Our claim gets the task id (blocking: call it off the event loop)."""
        if self.claims is not None:
            self.claims.set_task(key, task_id)

    async def task_failed(self, key: str, task_id: str) -> None:
        """A failed task is refunded and is no more: its claim goes too, whoever made it."""
        if self.claims is not None:
            await asyncio.to_thread(self.claims.drop_task, key, task_id)

    def done_now(self, key: str) -> None:
        """The clip is cached (and in the remote): the claim has done its work (blocking)."""
        if self.claims is not None:
            self.claims.release(key)
