"""Backends that turn a job into a clip, behind one small protocol.

``wavespeed`` is the real API (also spoken by the local emulator); ``preview``
renders animatic cards offline for free. Errors are translated at this
boundary into the few kinds the executor needs to decide what is safe:

    ProviderError            the job failed; the message says why
     ├── Retryable           nothing changed on the provider; try again later
     ├── NoTask              a submit was refused: certainly no task, no charge
     ├── MaybeTask           a submit may have created a task: never resubmit blindly
     └── TaskFailed          the task ran and failed (refunded)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import TASK_ID_PATTERN, StoryboardError, printable, usable_task_id

def check_task_id(task_id: object, where: str = "task id") -> str:
    """``task_id`` if a URL can carry it as it is; else a ProviderError before any request is made with it."""
    if usable_task_id(task_id) is not None:
        return task_id
    shown = printable(str(task_id)[:80], lines=False) if isinstance(task_id, (str, int)) else type(task_id).__name__
    raise ProviderError(f"{where} `{shown}` cannot be carried in a URL; no request was made with it")


__all__ = ["TASK_ID_PATTERN", "ProviderError", "Retryable", "NoTask", "MaybeTask", "TaskFailed", "TaskState",
           "RemoteProvider", "check_task_id"]


class ProviderError(StoryboardError):
    pass


class Retryable(ProviderError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class NoTask(ProviderError):
    pass


class MaybeTask(ProviderError):
    pass


class TaskFailed(ProviderError):
    pass


@dataclass(frozen=True)
class TaskState:
    status: str  # created | queued | processing | completed | failed | cancelled | timeout | deleted
    outputs: list[str] = field(default_factory=list)
    error: str = ""
    objects: list[dict] = field(default_factory=list)  # outputs that are objects, not URLs (a Kling element)

    @property
    def final(self) -> bool:
        return self.status in ("completed", "failed", "cancelled", "timeout", "deleted")


class RemoteProvider(Protocol):
    """A paid API: media uploads, submit, poll, download."""

    name: str
    origin: str

    async def upload(self, path: Path, content_type: str) -> str: ...

    async def submit(self, model: str, body: dict) -> str: ...

    async def result(self, task_id: str) -> TaskState: ...

    async def download(self, url: str, dest: Path) -> None: ...

    async def aclose(self) -> None: ...


CONTENT_TYPES = {
    "png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
    "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm",
    "m4a": "audio/mp4", "mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "flac": "audio/flac",
}
