"""``storyboard.lock``: what was paid for and what came back, one entry per shot.

Committed beside the storyboard, it lets ``plan`` and ``status`` in a fresh
clone know which shots are already paid for. Sorted and stable, so a change
to it reads well in a diff.
"""

from __future__ import annotations

import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..format.files import FileTooLarge, NotRegularFile, read_bounded

LOCK_FILE = "storyboard.lock"


class LockEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="The job key the clip was made for.")
    model: str = Field(description="The model that made it.")
    origin: str = Field(description="The API origin it came from.")
    task_id: str = Field(description="The provider's task id.")
    clip: str = Field(description="sha256 of the clip's bytes, `sha256:<hex>`.")
    duration: float = Field(description="The clip's length in seconds, as it came back.")
    cost: Decimal | None = Field(description="What the job cost, USD, exact; null if unpriced.")
    completed_at: str | None = Field(
        default=None,
        description="When the task completed (ISO 8601, UTC): the provider keeps its outputs for a while after.",
    )


class Lock(BaseModel):
    """Per shot id, the clip that was paid for."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    shots: dict[str, LockEntry] = Field(default_factory=dict)


def lock_path(storyboard: Path) -> Path:
    return storyboard.parent / LOCK_FILE


MAX_LOCK_BYTES = 64 * 1024 * 1024


def read_lock(path: Path) -> Lock:
    from ..errors import StoryboardError

    try:
        raw = read_bounded(path, MAX_LOCK_BYTES)
    except FileNotFoundError:
        return Lock()
    except (NotRegularFile, FileTooLarge) as exc:
        raise StoryboardError(f"{path}: not a lock file ({exc})") from None
    if any(line.startswith((b"<<<<<<<", b">>>>>>>")) for line in raw.splitlines()):
        raise StoryboardError(
            f"{path}: has git merge conflict markers; resolve the conflict first (every entry on both sides "
            "is a paid clip: keep them all) and commit the lock"
        )
    try:
        return Lock.model_validate_json(raw)
    except ValueError:
        raise StoryboardError(f"{path}: not a valid lock file; restore it from git or delete it") from None


def lock_text(lock: Lock) -> str:
    data = lock.model_dump(mode="json")
    data["shots"] = dict(sorted(data["shots"].items()))
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_lock(path: Path, lock: Lock) -> None:
    text = lock_text(lock)
    if path.exists() and path.read_text("utf-8") == text:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lock-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
