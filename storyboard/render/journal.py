"""The journal of submitted tasks: written before money can be spent.

A job is journalled as ``submitting`` before its submit request is sent, and
as ``submitted`` with its task id as soon as the id is known, before the
first poll. So after a crash a rerun knows, for each job, either that a task
exists (resume polling it) or that one may exist (stop and ask), and never
silently pays twice. An entry is removed once its clip is in the cache, or
once the provider said for certain that no task exists or that it failed.

A full disk must not lose a task id that was paid for: the ``submitting``
entry is written padded to the size its ``submitted`` entry can reach (a
task id of the longest kind), and the task id is then written over it in
place, into blocks the file already owns. When the padded entry cannot be
written, the submit is not sent (``JournalFull``).

An entry is read as untrusted input (a hand edit, a damaged disk): one that
is not exactly what this module writes, or that names another job key than
its file's, still means "a task may exist" (the job is in doubt), and its
task id is polled only when it is a plain token a URL can carry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ..errors import StoryboardError, usable_task_id
from ..store.storage import Storage, parse_json

SUBMITTING = "submitting"
SUBMITTED = "submitted"
LONGEST_TASK_ID = "x" * 200  # errors.TASK_ID_PATTERN: 1 + 199 characters, none escaped in JSON


class JournalFull(StoryboardError):
    """The journal could not reserve the room for a task id: nothing may be submitted."""


@dataclass(frozen=True)
class Entry:
    key: str
    shot: str
    model: str
    origin: str
    state: str
    task_id: str = ""


class Journal:
    def __init__(self, storage: Storage):
        self.storage = storage

    @staticmethod
    def _name(key: str) -> str:
        return f"journal/{key}.json"

    def get(self, key: str) -> Entry | None:
        raw = self.storage.get(self._name(key))
        if raw is None:
            return None
        return _parse(parse_json(raw), key) or Entry(key, "?", "?", "?", SUBMITTING)  # unreadable: "may exist"

    def _write(self, entry: Entry) -> None:
        self.storage.put(self._name(entry.key), _encode(entry, _room(entry)))

    def submitting(self, key: str, shot: str, model: str, origin: str) -> None:
        """Journalled, with room for the task id; raises JournalFull when the disk refuses."""
        entry = Entry(key, shot, model, origin, SUBMITTING)
        try:
            self._write(entry)
        except OSError as exc:
            self.forget_quietly(key)
            raise JournalFull(f"the journal cannot be written ({exc.strerror or exc}); nothing was sent: "
                              "free some space and run again") from None

    def submitted(self, key: str, shot: str, model: str, origin: str, task_id: str) -> None:
        """The task id over the reserved entry, in place; a whole new entry if there is none."""
        entry = Entry(key, shot, model, origin, SUBMITTED, task_id)
        rewrite = getattr(self.storage, "rewrite", None)
        if rewrite is None or not rewrite(self._name(key), _encode(entry, _room(entry))):
            self._write(entry)

    def forget_quietly(self, key: str) -> None:
        try:
            self.forget(key)
        except OSError:
            pass

    def forget(self, key: str) -> None:
        self.storage.delete(self._name(key))

    def entries(self) -> list[Entry]:
        """Every entry, each under the key its file is named by."""
        out = []
        for name in self.storage.list("journal/"):
            entry = self.get(name.removeprefix("journal/").removesuffix(".json"))
            if entry:
                out.append(entry)
        return out


def _parse(data: object, key: str) -> Entry | None:
    """The entry for ``key`` if ``data`` is exactly one this module writes, else None."""
    if not isinstance(data, dict) or set(data) != _FIELDS or data["key"] != key:
        return None
    if not all(isinstance(data[f], str) for f in _FIELDS):
        return None
    if data["state"] == SUBMITTED and usable_task_id(data["task_id"]) is None:
        return None
    if data["state"] not in (SUBMITTING, SUBMITTED):
        return None
    return Entry(**data)


_FIELDS = {"key", "shot", "model", "origin", "state", "task_id"}


def _room(entry: Entry) -> int:
    """The size of this job's entry with the longest task id: both states are written this size."""
    return len(_encode(Entry(entry.key, entry.shot, entry.model, entry.origin, SUBMITTED, LONGEST_TASK_ID), 0))


def _encode(entry: Entry, size: int) -> bytes:
    data = json.dumps(asdict(entry), sort_keys=True, indent=1).encode()
    return data + b" " * (size - len(data)) if size > len(data) else data
