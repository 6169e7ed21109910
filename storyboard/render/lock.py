"""The lock: what was paid for and what came back, one entry per paid clip.

Each storyboard file has its own lock beside it, named after it:
``storyboard.yaml`` → ``storyboard.lock``, ``teaser.yaml`` → ``teaser.lock``,
so rendering one film of a folder never touches another's. Committed, it lets
``plan`` and ``status`` in a fresh clone know which clips are already paid
for. A paid key leaves the lock only when a person prunes it: the entry of a
shot taken out of the storyboard, or of a shot's earlier version, moves to
``retired`` (by key, with the shot and take it last had) and is recovered
like any other when the shot comes back. Sorted and stable, so a change to it
reads well in a diff.

Everything in a lock is untrusted (hand-edited, merged, from someone else's
pull request): it is typed on the way in, and a value that cannot be used is
an error naming the file and the entry, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..format.model import SHOT_ID_LIMIT, TAKE_LIMIT
from ..errors import TASK_ID_PATTERN
from .element_lock import ElementEntry, RetiredElement
from ..format.files import LOCK_SUFFIX, FileTooLarge, NotRegularFile, lock_path, read_bounded

LOCK_FILE = "storyboard.lock"
_TEXT = r"^[^\x00-\x1f\x7f]*$"  # no control characters: lock text reaches the terminal


class LockEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="The job key the clip was made for.")
    model: str = Field(pattern=_TEXT, max_length=200, description="The model that made it.")
    origin: str = Field(pattern=_TEXT, max_length=2000, description="The API origin it came from.")
    task_id: str = Field(pattern=TASK_ID_PATTERN, description="The provider's task id (as a URL carries it).")
    clip: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="sha256 of the clip's bytes, `sha256:<hex>`.")
    duration: float = Field(ge=0, le=24 * 3600, allow_inf_nan=False,
                            description="The clip's length in seconds, as it came back.")
    cost: Decimal | None = Field(ge=0, le=1_000_000, allow_inf_nan=False,
                                 description="What the job cost, USD, exact; null if unpriced.")
    completed_at: str | None = Field(
        default=None, max_length=64,
        description="When the task completed (ISO 8601, UTC): the provider keeps its outputs for a while after. "
                    "A value that is not a time is read as unknown.",
    )
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Inputs made from other shots' clips (`image a:last`, `video a:clip`) → sha256 of the file sent.",
    )

    def completed(self) -> dt.datetime | None:
        """When the task completed, in UTC; None when unknown or not a usable time
        (a plain date is its midnight UTC; a time without a zone is UTC)."""
        if not self.completed_at:
            return None
        try:
            when = dt.datetime.fromisoformat(self.completed_at)
        except ValueError:
            return None
        return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


class RetiredEntry(LockEntry):
    """A paid clip no longer in the storyboard: its shot was taken out, or changed since."""

    shot: str = Field(min_length=1, max_length=SHOT_ID_LIMIT, pattern=_TEXT,
                      description="The shot id it was last paid under.")
    take: int = Field(default=1, ge=1, le=TAKE_LIMIT, description="The take number it was last paid as.")


class Lock(BaseModel):
    """Per shot id, the clip that was paid for: take 1 under ``shots``, takes
    2, 3… under ``takes`` (by shot, then take number), chosen or not."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    shots: dict[str, LockEntry] = Field(default_factory=dict)
    takes: dict[str, dict[str, LockEntry]] = Field(default_factory=dict)
    retired: dict[str, RetiredEntry] = Field(
        default_factory=dict,
        description="Paid clips no longer in the storyboard, by job key: kept until `storyboard lock prune`.")
    elements: dict[str, ElementEntry] = Field(default_factory=dict, description="Kling elements made, by character.")
    retired_elements: dict[str, RetiredElement] = Field(
        default_factory=dict, description="Elements no longer sent as they were, by key: kept until pruned.")

    @field_validator("shots", "takes")
    @classmethod
    def _shot_ids(cls, value: dict) -> dict:
        bad = [s for s in value if not s or len(s) > SHOT_ID_LIMIT or any(ord(c) < 32 or ord(c) == 127 for c in s)]
        if bad:
            raise ValueError(f"`{_printable(bad[0])}` is not a shot id")
        return value

    @field_validator("elements")
    @classmethod
    def _characters(cls, value: dict) -> dict:
        bad = [c for c in value if not c.isidentifier() or not c.isascii() or len(c) > 200]
        if bad:
            raise ValueError(f"`{_printable(bad[0])}` is not a character's key")
        return value

    @field_validator("takes")
    @classmethod
    def _take_numbers(cls, value: dict[str, dict[str, LockEntry]]) -> dict[str, dict[str, LockEntry]]:
        for takes in value.values():
            bad = [n for n in takes if not (n.isascii() and n.isdigit()) or not 2 <= int(n) <= TAKE_LIMIT]
            if bad:
                raise ValueError(f"take `{_printable(bad[0])}` is not a take number of 2 or more")
        return value

    @model_validator(mode="after")
    def _retired_by_key(self) -> "Lock":
        bad = [k for k, e in self.retired.items() if k != e.key]
        if bad:
            raise ValueError(f"retired entry `{_printable(bad[0])}` is filed under another key than its own")
        return self

    def put_element(self, character: str, entry: ElementEntry) -> None:
        """Record the element made for ``character``; the one it replaces (another key) is retired."""
        old = self.elements.get(character)
        if old is not None and old.key != entry.key:
            self.retired_elements[old.key] = RetiredElement(**dict(old), character=character)
        self.retired_elements.pop(entry.key, None)
        self.elements[character] = entry

    def paid_elements(self) -> dict[str, ElementEntry]:
        """Every element paid for, by key, retired ones too."""
        return {**{e.key: e for e in self.retired_elements.values()}, **{e.key: e for e in self.elements.values()}}

    def entry(self, shot: str, take: int = 1) -> LockEntry | None:
        return self.shots.get(shot) if take == 1 else self.takes.get(shot, {}).get(str(take))

    def put(self, shot: str, take: int, entry: LockEntry) -> None:
        """Record ``entry`` as ``shot``'s take; the clip it replaces (another key) is retired, not forgotten."""
        old = self.entry(shot, take)
        if old is not None and old.key != entry.key:
            self.retire(shot, take, old)
        self.retired.pop(entry.key, None)
        if take == 1:
            self.shots[shot] = entry
        else:
            self.takes.setdefault(shot, {})[str(take)] = entry

    def retire(self, shot: str, take: int, entry: LockEntry) -> None:
        self.retired[entry.key] = RetiredEntry(**dict(entry), shot=shot, take=take)

    def entries(self) -> list[tuple[str, int, LockEntry]]:
        """(shot, take, entry) for every clip of a shot in the storyboard (not the retired ones)."""
        out = [(shot, 1, entry) for shot, entry in self.shots.items()]
        out += [(shot, int(n), entry) for shot, takes in self.takes.items() for n, entry in takes.items()]
        return out

    def paid(self) -> list[tuple[str, int, LockEntry]]:
        """(shot, take, entry) for every paid clip, retired ones with the shot and take they last had."""
        return self.entries() + [(e.shot, e.take, e) for e in self.retired.values()]

    def retire_shots(self, shots: set[str]) -> None:
        """The entries of shots no longer in the storyboard move to ``retired``."""
        for shot, take, entry in self.entries():
            if shot not in shots:
                self.retire(shot, take, entry)
        self.shots = {s: e for s, e in self.shots.items() if s in shots}
        self.takes = {s: t for s, t in self.takes.items() if s in shots}

    def forget(self, keys: set[str]) -> None:
        """Remove these keys' entries wherever they are (``storyboard lock prune``)."""
        self.shots = {s: e for s, e in self.shots.items() if e.key not in keys}
        self.takes = {s: {n: e for n, e in t.items() if e.key not in keys} for s, t in self.takes.items()}
        self.takes = {s: t for s, t in self.takes.items() if t}
        self.retired = {k: e for k, e in self.retired.items() if k not in keys}
        self.elements = {c: e for c, e in self.elements.items() if e.key not in keys}
        self.retired_elements = {k: e for k, e in self.retired_elements.items() if k not in keys}


def sibling_locks(storyboard: Path) -> list[Path]:
    """The locks of the other storyboards in the same folder (``X.lock`` beside an ``X.yaml``/``X.yml``),
    and a ``storyboard.lock`` that an older storyboard wrote for every file of the folder."""
    own, folder = lock_path(storyboard), storyboard.parent
    try:
        found = sorted(folder.glob("*" + LOCK_SUFFIX))
    except OSError:
        return []
    return [p for p in found if p != own and p.is_file() and (
        p.name == LOCK_FILE or any((folder / (p.stem + ext)).is_file() for ext in (".yaml", ".yml")))]


MAX_LOCK_BYTES = 64 * 1024 * 1024


def read_lock(path: Path) -> Lock:
    from ..errors import StoryboardError

    try:
        raw = read_bounded(path, MAX_LOCK_BYTES)
    except FileNotFoundError:
        return Lock()
    except (NotRegularFile, FileTooLarge) as exc:
        raise StoryboardError(f"{path}: not a lock file ({exc})") from None
    if _conflicted(raw):
        raise StoryboardError(
            f"{path}: has git merge conflict markers; resolve the conflict first (every entry on both sides "
            "is a paid clip: keep them all) and commit the lock"
        )
    try:
        return Lock.model_validate_json(raw)
    except ValidationError as exc:
        raise StoryboardError(f"{path}: not a valid lock file: {_first_problem(exc)}; restore it from git "
                              "(every entry in it is a paid clip)") from None
    except ValueError:
        raise StoryboardError(f"{path}: not a valid lock file; restore it from git "
                              "(every entry in it is a paid clip)") from None


def _conflicted(raw: bytes) -> bool:
    """Whether a line starts with a merge conflict marker: found by search, not line by line
    (a lock of 10,000 shots has 100,000 lines, and `plan` and `status` read it)."""
    return raw.startswith((b"<<<<<<<", b">>>>>>>")) or any(
        end + mark in raw for end in (b"\n", b"\r") for mark in (b"<<<<<<<", b">>>>>>>"))


def _first_problem(exc: ValidationError) -> str:
    """The first problem of a lock, as `shots.opening.duration: what is wrong`, with no Python repr."""
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(_printable(str(part)) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _printable(text: str) -> str:
    text = text[:80]
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def lock_text(lock: Lock) -> str:
    data = lock.model_dump(mode="json")
    data["shots"] = dict(sorted(data["shots"].items()))
    for entry in [*data["shots"].values(), *(e for takes in data["takes"].values() for e in takes.values())]:
        if not entry["inputs"]:  # an entry without shot inputs reads as it did before they existed
            del entry["inputs"]
    data["takes"] = {shot: takes for shot, takes in data["takes"].items() if takes}
    if not data["takes"]:  # a lock without takes reads as it did before takes existed
        del data["takes"]
    for entry in data["retired"].values():
        if not entry["inputs"]:
            del entry["inputs"]
    if not data["retired"]:  # nor one without retired entries
        del data["retired"]
    for name in ("elements", "retired_elements"):  # nor one without elements
        if not data[name]:
            del data[name]
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_lock(path: Path, lock: Lock) -> None:
    text = lock_text(lock)
    if path.exists() and path.read_text("utf-8") == text:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lock-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())  # the record of what was paid survives a crash right after
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # a full disk leaves no half-written lock beside the real one
        raise
