"""Clip records: what came back for one job key, and reading one written by others.

A record is untrusted input (a teammate's push, a hand edit, a hostile
bucket): one that is not exactly what the cache writes is a miss. Both the
cache and the remote's checks read records through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Callable

from ..errors import usable_task_id
from .storage import parse_json


@dataclass(frozen=True)
class ClipRecord:
    """What came back for one job key."""

    key: str
    sha256: str
    size: int
    duration: float
    model: str
    provider: str
    task_id: str


def object_name(sha256: str) -> str:
    return f"objects/{sha256[:2]}/{sha256}.mp4"


def record_name(key: str) -> str:
    return f"keys/{key[:2]}/{key}.json"


_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_CLIP_BYTES = 64 * 2**30  # no clip is larger: a record saying so is damaged
MAX_CLIP_SECONDS = 24 * 3600.0
_FIELDS = {"key", "sha256", "size", "duration", "model", "provider", "task_id"}
MAX_RECORD_BYTES = 16 * 1024  # a record put writes is a few hundred bytes; a larger one is not read


def parse_record(raw: bytes, key: str) -> ClipRecord | None:
    """The record of ``key`` if ``raw`` is exactly one ``put`` writes, else None: a
    damaged or hand-edited one (another shape, a `sha256` of null, a number or a
    path, a negative, NaN or absurd size or length) is a miss."""
    data = parse_json(raw) if len(raw) <= MAX_RECORD_BYTES else None
    if not isinstance(data, dict) or set(data) != _FIELDS or data["key"] != key:
        return None
    sha, size, duration = data["sha256"], data["size"], data["duration"]
    if not (isinstance(sha, str) and _HEX64.fullmatch(sha)):
        return None
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_CLIP_BYTES:
        return None
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        return None
    if not 0 <= duration <= MAX_CLIP_SECONDS:  # a NaN fails this too
        return None
    if not all(isinstance(data[f], str) for f in ("model", "provider", "task_id")):
        return None
    if data["task_id"] and usable_task_id(data["task_id"]) is None:  # it reaches the lock, then a poll's URL
        return None
    return ClipRecord(**data)


def record_problem(name: str, raw: bytes | None, has_object: Callable[[str], bool]) -> str | None:
    """What is wrong with the record stored as ``name`` (its bytes ``raw``), or None."""
    key = PurePosixPath(name).stem
    record = parse_record(raw, key) if raw is not None and name == record_name(key) else None
    if record is None:
        return f"{name}: unreadable record (not one storyboard writes; it is ignored)"
    if not has_object(object_name(record.sha256)):
        return f"{name}: its clip {record.sha256[:12]} is missing"
    return None
