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

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Inputs made from other shots' clips (`image a:last`, `video a:clip`) → sha256 of the file sent.",
    )


class Lock(BaseModel):
    """Per shot id, the clip that was paid for: take 1 under ``shots``, takes
    2, 3… under ``takes`` (by shot, then take number), chosen or not."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    shots: dict[str, LockEntry] = Field(default_factory=dict)
    takes: dict[str, dict[str, LockEntry]] = Field(default_factory=dict)

    @field_validator("takes")
    @classmethod
    def _take_numbers(cls, value: dict[str, dict[str, LockEntry]]) -> dict[str, dict[str, LockEntry]]:
        for takes in value.values():
            bad = [n for n in takes if not n.isdigit() or int(n) < 2]
            if bad:
                raise ValueError(f"take `{bad[0]}` is not a take number of 2 or more")
        return value

    def entry(self, shot: str, take: int = 1) -> LockEntry | None:
        return self.shots.get(shot) if take == 1 else self.takes.get(shot, {}).get(str(take))

    def put(self, shot: str, take: int, entry: LockEntry) -> None:
        if take == 1:
            self.shots[shot] = entry
        else:
            self.takes.setdefault(shot, {})[str(take)] = entry

    def entries(self) -> list[tuple[str, int, LockEntry]]:
        """(shot, take, entry) for every paid clip."""
        out = [(shot, 1, entry) for shot, entry in self.shots.items()]
        out += [(shot, int(n), entry) for shot, takes in self.takes.items() for n, entry in takes.items()]
        return out

    def keep_shots(self, shots: set[str]) -> None:
        """Forget the shots no longer in the storyboard."""
        self.shots = {s: e for s, e in self.shots.items() if s in shots}
        self.takes = {s: t for s, t in self.takes.items() if s in shots}


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
    for entry in [*data["shots"].values(), *(e for takes in data["takes"].values() for e in takes.values())]:
        if not entry["inputs"]:  # an entry without shot inputs reads as it did before they existed
            del entry["inputs"]
    data["takes"] = {shot: takes for shot, takes in data["takes"].items() if takes}
    if not data["takes"]:  # a lock without takes reads as it did before takes existed
        del data["takes"]
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_lock(path: Path, lock: Lock) -> None:
    text = lock_text(lock)
    if path.exists() and path.read_text("utf-8") == text:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lock-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
