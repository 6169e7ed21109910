"""The clip cache: content-addressed, sharded, atomic, and self-checking.

    objects/ab/ab12…ef.mp4   a clip, named by the sha256 of its bytes
    keys/cd/cd34…90.json     job key → which clip, how long, from which task

A clip is never requested again once its key is here. A record whose object
is missing or whose bytes no longer hash to its name is a miss, with a
warning, never a crash. Records come from others too (a teammate's push, a
hand edit, a hostile bucket): one that is not exactly what ``put`` writes —
another shape, a wrong type, an absurd size or length — is a miss as well.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .records import (ClipRecord, MAX_RECORD_BYTES, object_name, parse_record, record_name,  # noqa: F401 (re-exported)
                      record_problem)
from .storage import LocalStorage, Storage

DEFAULT_CACHE = Path(".storyboard") / "cache"


@dataclass(frozen=True)
class CachedClip:
    record: ClipRecord
    path: Path  # a local copy to read from


def _record_bytes(record: ClipRecord) -> bytes:
    return json.dumps(asdict(record), sort_keys=True, indent=1).encode()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir(project_root: Path, override: str | None = None) -> Path:
    """``--cache DIR`` wins, then ``STORYBOARD_CACHE``, then ``.storyboard/cache`` in the project."""
    chosen = override or os.environ.get("STORYBOARD_CACHE")
    return Path(chosen) if chosen else project_root / DEFAULT_CACHE


def project_cache(root: Path, *, cache: str | None = None, remote: str | None = None,
                  storyboard_remote: str | None = None,
                  warn: Callable[[str], None] = lambda message: None) -> "ClipCache":
    """A project's cache, with its remote (``--remote``, else ``STORYBOARD_REMOTE``, else the storyboard's)."""
    from .remote import open_remote, remote_url

    url = remote_url(remote, storyboard_remote)
    opened = open_remote(url, root, warn) if url else None
    if opened is not None:
        opened.check()
    return ClipCache.at(cache_dir(root, cache), warn, opened)


class ClipCache:
    """Clips by job key, here; read through and written through a remote when there is one."""

    def __init__(self, storage: Storage, warn: Callable[[str], None] = lambda message: None, remote=None):
        self.storage = storage
        self.warn = warn
        self.remote = remote
        # Clips hashed once in this process, by path → (size, mtime): a render, its
        # recovery and its cut ask for the same clips; each is read through once.
        self.verified: dict[Path, tuple[int, int]] = {}

    @classmethod
    def at(cls, folder: Path, warn: Callable[[str], None] = lambda message: None, remote=None) -> "ClipCache":
        return cls(LocalStorage(folder), warn, remote)

    def record(self, key: str) -> ClipRecord | None:
        return self._parse(self.storage.get(record_name(key)), key, "cache")

    def _parse(self, raw: bytes | None, key: str, where: str) -> ClipRecord | None:
        """A record as stored, or None (with a warning when it is there but damaged)."""
        if raw is None:
            return None
        record = parse_record(raw, key)
        if record is None:
            self.warn(f"{where}: the record for {key[:12]} is unreadable; treating it as missing")
            return None
        return record

    def get(self, key: str) -> CachedClip | None:
        """The clip for ``key`` if it is here and intact, else from the remote (verified)."""
        local = self.get_local(key)
        if local is not None or self.remote is None:
            return local
        return self._from_remote(key)

    def get_local(self, key: str) -> CachedClip | None:
        record = self.record(key)
        if record is None:
            return None
        path = self.storage.local_copy(object_name(record.sha256))
        if path is None:
            self.warn(f"cache: the clip for {key[:12]} is missing; it will be fetched again")
            return None
        st = path.stat()
        seen = (st.st_size, st.st_mtime_ns)
        if self.verified.get(path) != seen:
            if st.st_size != record.size or file_sha256(path) != record.sha256:
                self.warn(f"cache: the clip for {key[:12]} is corrupt; it will be fetched again")
                return None
            self.verified[path] = seen
        return CachedClip(record, path)

    def remote_record(self, key: str) -> ClipRecord | None:
        """The remote's record of ``key`` (read bounded, parsed strictly), or None."""
        if self.remote is None:
            return None
        return self._parse(self.remote.get(record_name(key), MAX_RECORD_BYTES), key, "remote")

    def in_remote(self, key: str) -> bool:
        """The remote has this key's record and its clip (checked without downloading)."""
        record = self.remote_record(key)
        return record is not None and self.remote.exists(object_name(record.sha256))

    def _from_remote(self, key: str) -> CachedClip | None:
        record = self.remote_record(key)
        if record is None:
            return None
        scratch = self.storage.scratch()
        if shutil.disk_usage(scratch).free < record.size:  # its record's size: it cannot fit, so it is not fetched
            self.warn(f"remote: the clip for {key[:12]} ({record.size} bytes) does not fit on this disk; "
                      "not fetched")
            return None
        fd, tmp = tempfile.mkstemp(dir=scratch, prefix=".tmp-remote-", suffix=".mp4")
        os.close(fd)
        try:  # at most one byte past the record's size is written, hashed as it streams
            digest = self.remote.download(object_name(record.sha256), Path(tmp), limit=record.size)
            if digest is None:
                self.warn(f"remote: the clip for {key[:12]} is missing there")
                return None
            if os.path.getsize(tmp) != record.size or digest != record.sha256:
                self.warn(f"remote: the clip for {key[:12]} is corrupt there; ignoring it")
                return None
            return self._put_local(key, Path(tmp), record, link=True)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def put(self, key: str, clip: Path, *, duration: float, model: str, provider: str, task_id: str,
            sha256: str | None = None) -> CachedClip:
        """Store ``clip`` (already verified) under ``key``, here and then in the remote. ``sha256``: its
        digest, when the caller has just read it (a clip is read once on its way in)."""
        record = ClipRecord(key, sha256 or file_sha256(clip), clip.stat().st_size, duration, model, provider, task_id)
        cached = self._put_local(key, clip, record)
        if self.remote is not None:
            self.push(key)
        return cached

    def push(self, key: str) -> str:
        """Make sure the remote has this key's clip and record: ``pushed`` (something was uploaded),
        ``there`` (the remote had both already), or ``""`` when there is nothing here to push."""
        cached = self.get_local(key)
        if cached is None:
            return ""
        name = object_name(cached.record.sha256)
        uploaded = not self.remote.exists(name)
        if uploaded:  # content-addressed: an object there is never replaced
            self.remote.upload(name, cached.path)
        created = self.remote.create(record_name(key), _record_bytes(cached.record))
        return "pushed" if uploaded or created else "there"

    def _put_local(self, key: str, clip: Path, record: ClipRecord, link: bool = False) -> CachedClip:
        """The object first, then the record. ``link``: ``clip`` is a download in the cache's own folder."""
        sha = record.sha256
        name = object_name(sha)
        store = self.storage.link_file_if_absent if link else self.storage.put_file_if_absent
        if not store(name, clip):
            existing = self.storage.local_copy(name)
            if existing is None or file_sha256(existing) != sha:  # a corrupt object: replace it
                self.storage.delete(name)
                self.storage.put_file_if_absent(name, clip)
        self.storage.put(record_name(key), _record_bytes(record))
        return CachedClip(record, self.storage.local_copy(name) or clip)

    def verify(self) -> list[str]:
        """Re-hash every object and check every record; a line per problem."""
        problems = []
        for name in self.storage.list("objects/"):
            path = self.storage.local_copy(name)
            expected = Path(name).stem
            if path is None or file_sha256(path) != expected:
                problems.append(f"{name}: the bytes do not match the name (corrupt)")
        for name in self.storage.list("keys/"):
            problem = record_problem(name, self.storage.get(name), self.storage.exists)
            if problem:
                problems.append(problem)
        return problems

    def counts(self) -> tuple[int, int]:
        return len(list(self.storage.list("objects/"))), len(list(self.storage.list("keys/")))
