"""Claims: exactly once across processes and machines.

Before anything is uploaded or submitted for a job key, the job is claimed
by an exclusive create of ``claims/<key>.json`` (``O_EXCL`` in a folder,
``If-None-Match: *`` on S3). The claim holds its owner, a heartbeat the owner
refreshes, and the task id as soon as it is known; both are written by a
conditional update, so two writers cannot both win. Whoever finds a claim
with a task id polls that task (polls are free) instead of submitting; whoever
finds one without a task id waits while its heartbeat is fresh, and once it
is stale the job is in doubt, exactly as a local crash between submit and task
id is (``--resubmit SHOT``). With no remote, the claims live beside the local
cache, so two processes on one machine are safe too.

A claim is written by others (another render, a teammate's machine, anyone
who can write to the bucket), so it is read as untrusted input: every field
is typed on the way in, and a claim that is not exactly what a render writes
is damaged, which is stale (the job is in doubt, never submitted by itself).
A heartbeat from the future beyond a small clock skew is suspect, not fresh:
otherwise a planted one would make every render wait for it for ever.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Callable

from ..errors import usable_task_id
from ..format.files import pid_alive
from .storage import parse_json

HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 60.0
SKEW_SECONDS = 30.0  # how far ahead another machine's clock may be before its heartbeat is suspect
# A task id goes into a URL path (``/predictions/{id}/result``): only a plain token may.


@dataclass
class Claim:
    owner: str
    heartbeat: float  # wall-clock seconds
    task_id: str | None = None
    host: str = ""  # where the owner runs, and its process: a dead owner on this machine is stale at once
    pid: int = 0

    def fresh(self, now: float, stale_after: float) -> bool:
        if self.host and self.host == HOST and self.pid:  # an owner on this machine: is it still running?
            if not pid_alive(self.pid) or (self.pid == os.getpid() and self.owner not in LIVE_OWNERS):
                return False
        return -SKEW_SECONDS < now - self.heartbeat < stale_after


DAMAGED = "unknown"  # the owner of a claim that could not be read: stale, and no task id


def parse_claim(raw: bytes) -> Claim:
    """A claim as stored, typed; anything but what a render writes is a damaged claim (stale)."""
    data = parse_json(raw)
    if not isinstance(data, dict) or set(data) - _FIELDS:
        return Claim(DAMAGED, 0.0)
    owner, beat, task, host, pid = (data.get(f) for f in ("owner", "heartbeat", "task_id", "host", "pid"))
    pid = 0 if pid is None else pid
    host = "" if host is None else host
    if not (isinstance(owner, str) and owner and _number(beat) and isinstance(host, str)
            and isinstance(pid, int) and not isinstance(pid, bool) and 0 <= pid < 2**31
            and (task is None or usable_task_id(task) is not None)):
        return Claim(DAMAGED, 0.0)
    return Claim(owner, float(beat), task, host, pid)


def _number(value: object) -> bool:
    """A finite number a float can hold (an int of 400 digits cannot)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) if isinstance(value, float) else abs(value) < 2**53


_FIELDS = {"owner", "heartbeat", "task_id", "host", "pid"}
HOST = socket.gethostname()
LIVE_OWNERS: set[str] = set()  # the renders running in this process


def claim_name(key: str) -> str:
    return f"claims/{key[:2]}/{key}.json"


class Claims:
    """The claims of one render (``owner``) in one backend (a remote, or the local cache's folder)."""

    def __init__(self, backend, *, owner: str | None = None, wall_clock: Callable[[], float] = time.time,
                 stale_after: float = STALE_SECONDS):
        self.backend = backend
        self.owner = owner or uuid.uuid4().hex
        LIVE_OWNERS.add(self.owner)
        self.now = wall_clock
        self.stale_after = stale_after

    def close(self) -> None:
        """This render is over: a claim it left behind is stale at once for the renders after it."""
        LIVE_OWNERS.discard(self.owner)

    def take(self, key: str) -> Claim | None:
        """Claim ``key``: None when it is now ours, else the claim someone else holds."""
        mine = self._mine(None)
        if self.backend.create(claim_name(key), _encode(mine)):
            return None
        current = self.read(key)
        if current is None:  # released between our create and our read: try once more
            if self.backend.create(claim_name(key), _encode(mine)):
                return None
            return self.read(key) or Claim(DAMAGED, 0.0)
        return current

    def read(self, key: str) -> Claim | None:
        found = self.backend.read(claim_name(key))
        return None if found is None else parse_claim(found[0])

    def set_task(self, key: str, task_id: str) -> bool:
        """Record the task id in our claim (a conditional update)."""
        return self._update(key, lambda claim: self._mine(task_id))

    def beat(self, key: str) -> bool:
        return self._update(key, lambda claim: self._mine(claim.task_id))

    def _mine(self, task_id: str | None) -> Claim:
        return Claim(self.owner, self.now(), task_id, HOST, os.getpid())


    def release(self, key: str) -> None:
        current = self.read(key)
        if current is not None and current.owner == self.owner:
            self.backend.delete(claim_name(key))

    def drop_task(self, key: str, task_id: str) -> None:
        """Remove the claim on ``key`` if it is for ``task_id``, a task that failed (and was refunded)."""
        current = self.read(key)
        if current is not None and current.task_id == task_id:
            self.backend.delete(claim_name(key))

    def stale(self, claim: Claim) -> bool:
        return not claim.fresh(self.now(), self.stale_after)

    def _update(self, key: str, change: Callable[[Claim], Claim]) -> bool:
        found = self.backend.read(claim_name(key))
        if found is None:
            return False
        claim = parse_claim(found[0])
        if claim.owner != self.owner:
            return False
        return self.backend.update(claim_name(key), _encode(change(claim)), found[1])


def drop_claim(backend, key: str) -> None:
    """Remove any claim on ``key``, whoever holds it (``--resubmit``: the user submits again knowingly)."""
    backend.delete(claim_name(key))


def _encode(claim: Claim) -> bytes:
    return json.dumps(asdict(claim), sort_keys=True).encode()
