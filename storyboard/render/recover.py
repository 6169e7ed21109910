"""Paid is forever: a clip the lock says was paid for is recovered, never
bought again by itself.

A shot whose job key is in its storyboard's lock (or in the lock of another
storyboard of the same folder: the same request is the same clip) was paid for. When its clip is
not in the cache (a fresh clone, another machine, a corrupt cached copy), it
is looked for at the provider, which keeps a task's outputs for a while
(WaveSpeed: 7 days): the task id in the lock fetches the same clip again, for
free, and it is used only if its bytes match the lock's digest. What cannot
be recovered is refused before anything is submitted, naming each shot, why,
and what re-paying would cost; ``--repay SHOT`` (or ``all``) says to pay again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..errors import StoryboardError
from ..format.files import work_dir
from ..plan.prices import dollars
from ..plan.types import Job, Plan
from ..providers import ProviderError, Retryable
from ..store.cache import ClipCache, file_sha256
from .lock import Lock, LockEntry, read_lock, sibling_locks

PROVIDER_KEEPS = dt.timedelta(days=7)  # WaveSpeed keeps a task's outputs this long
ATTEMPTS = 3


@dataclass(frozen=True)
class Lost:
    job: Job
    why: str


def paid_entries(lock: Lock) -> dict[str, LockEntry]:
    """The lock's entries by job key, retired ones too: a key is paid whatever shot it is under now."""
    return {entry.key: entry for _, _, entry in lock.paid()}


def project_paid(storyboard: Path, lock: Lock) -> dict[str, LockEntry]:
    """Every clip paid for in the storyboard's folder, by key: this storyboard's
    lock wins, then the locks of the other storyboards beside it (a teaser that
    shares a shot with the film shares its clip). A sibling lock that cannot be
    read adds nothing here; its own storyboard's commands report it."""
    paid: dict[str, LockEntry] = {}
    for path in sibling_locks(storyboard):
        try:
            paid.update(paid_entries(read_lock(path)))
        except StoryboardError:
            continue
    paid.update(paid_entries(lock))
    return paid


def kept_until(entry: LockEntry) -> dt.datetime | None:
    """Until when the provider keeps the task's outputs; None when the lock does not say when it completed."""
    done = entry.completed()
    if done is None:
        return None
    try:
        return done + PROVIDER_KEEPS
    except OverflowError:  # a completion date near the year 9999: not a real one
        return None


async def recover_paid(plan: Plan, paid: dict[str, LockEntry], cache: ClipCache, provider, events) -> list[Lost]:
    """Fetch again from the provider each paid clip (``paid``: by key) missing here; the ones that cannot be are
    returned."""
    lost, seen = [], set()
    for job in plan.all_jobs:
        entry = paid.get(job.key)
        if entry is None or job.key in seen or await asyncio.to_thread(cache.get, job.key) is not None:
            continue
        seen.add(job.key)
        why = await _from_provider(job, entry, cache, provider, events)
        if why:
            lost.append(Lost(job, why))
    return lost


async def _from_provider(job: Job, entry: LockEntry, cache: ClipCache, provider, events) -> str | None:
    if provider is not None and hasattr(provider, "for_job"):  # a film on several hosts: this job's own
        provider = provider.for_job(job)
    if provider is None:
        return "its clip is not in the cache and no provider can be asked for it"
    if entry.origin != provider.origin:
        return f"it was paid for at {entry.origin}, not {provider.origin}"
    events(job.label, "recovering", f"task {entry.task_id}")
    try:
        state = await _retry(lambda: provider.result(entry.task_id))
    except ProviderError as exc:
        until = kept_until(entry)
        kept = f"; the provider keeps outputs {PROVIDER_KEEPS.days} days" + (
            f", until {until:%Y-%m-%d %H:%M} UTC for this one" if until else "")
        return f"the provider no longer has task {entry.task_id} ({exc}){kept}"
    if state.status != "completed" or not state.outputs:
        return f"the provider's task {entry.task_id} has no clip ({state.status or 'no status'})"
    with work_dir("recover") as tmp:
        dest = Path(tmp) / "clip.mp4"
        try:
            await _retry(lambda: provider.download(state.outputs[0], dest))
        except ProviderError as exc:
            return f"the clip of task {entry.task_id} could not be downloaded ({exc})"
        digest = "sha256:" + await asyncio.to_thread(file_sha256, dest)
        if digest != entry.clip:
            return f"the provider's clip for task {entry.task_id} is not the one paid for (its digest differs)"
        await asyncio.to_thread(cache.put, job.key, dest, duration=entry.duration, model=entry.model,
                                provider=getattr(provider, "name", "wavespeed"), task_id=entry.task_id)
    events(job.label, "recovered", f"from the provider, task {entry.task_id}")
    return None


async def _retry(call):
    for attempt in range(ATTEMPTS):
        try:
            return await call()
        except Retryable:
            if attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(min(5.0, 0.5 * 2 ** attempt))


def refuse(lost: list[Lost], command: str) -> StoryboardError:
    """The refusal, before any submit, for paid clips that cannot be recovered."""
    total = sum((item.job.cost or Decimal(0) for item in lost), Decimal(0))
    lines = [f"{len(lost)} shot{'s' if len(lost) != 1 else ''} paid for already cannot be recovered, and storyboard "
             "never pays twice by itself (nothing was submitted):"]
    lines += [f"  {item.job.label}: {item.why}; re-paying costs {dollars(item.job.cost)}" for item in lost]
    shots = " ".join(f"--repay {item.job.label}" for item in lost)
    lines.append(f"To pay again knowingly ({dollars(total)}): `{command} {shots}` (or `--repay all`).")
    return StoryboardError("\n".join(lines))
