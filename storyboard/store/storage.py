"""A small storage interface for the cache and the journal, and its folder backend.

Everything above this module speaks in names (``objects/ab/abcd…``), never
in filesystem paths. Only the local backend may assume a filesystem and an
atomic rename; the team's object storage is the remote (``remote.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Protocol

from ..format.files import FileTooLarge, NotRegularFile, read_bounded


class Storage(Protocol):
    def get(self, name: str) -> bytes | None:
        """The bytes stored under ``name``, or None."""

    def put(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name``, replacing what was there; a reader never sees half of it."""

    def put_file_if_absent(self, name: str, source: Path) -> bool:
        """Store a copy of ``source`` unless ``name`` exists; True if it was stored."""

    def link_file_if_absent(self, name: str, source: Path) -> bool:
        """Like ``put_file_if_absent`` for a finished file in ``scratch()``: moved in, not copied."""

    def scratch(self) -> Path:
        """A local folder on the same disk for files being made (downloads)."""

    def exists(self, name: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Every name under ``prefix``, sorted."""

    def delete(self, name: str) -> None:
        """Forget ``name``; no error if it is not there."""

    def local_copy(self, name: str) -> Path | None:
        """A local file to read ``name`` from (the file itself, for a folder)."""


MAX_SMALL_OBJECT = 16 * 1024 * 1024


def parse_json(raw: bytes) -> object:
    """The JSON value in ``raw``, or None when it is not JSON (bad bytes, bad
    syntax, nesting deep enough to exhaust the parser): never an exception."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp gives 0600


def synced_temp(folder: Path, fill: Callable[[BinaryIO], object], *, sync: bool = True) -> Path:
    """A temporary file in ``folder`` (on the target's disk), filled by ``fill``, synced
    (unless not ``sync``) and given the usual file mode: ready to be renamed or linked into place."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            if sync:
                os.fsync(out.fileno())
        os.chmod(tmp, _FILE_MODE)
    except BaseException:
        _unlink(tmp)
        raise
    return Path(tmp)


class LocalStorage:
    """A folder. Writes go to a temporary file in the same folder and are
    renamed into place, so a reader never sees half an object."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"bad storage name: {name!r}")
        return self.root / name

    def get(self, name: str) -> bytes | None:
        """A small object (a record, a journal entry); anything but a regular
        file of sane size is a miss, never a hang."""
        try:
            return read_bounded(self._path(name), MAX_SMALL_OBJECT)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, NotRegularFile, FileTooLarge):
            return None

    def head(self, name: str, limit: int) -> bytes | None:
        """The first ``limit`` + 1 bytes at most of a regular file (more than ``limit``: too large
        to be what was written), or None; a FIFO, a device or a folder is None, never a hang."""
        try:
            fd = os.open(self._path(name), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return f.read(limit + 1)

    def rewrite(self, name: str, data: bytes) -> bool:
        """Overwrite ``name`` in place with ``data`` of exactly its size, synced: the blocks are
        the file's already, so a full disk cannot refuse it. False (nothing written) when the file
        is missing or of another size. (A copy-on-write file system may still need new blocks.)"""
        try:
            fd = os.open(self._path(name), os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return False
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode) or os.fstat(fd).st_size != len(data):
                return False
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            return True
        finally:
            os.close(fd)

    def put(self, name: str, data: bytes) -> None:
        self._write(self._path(name), lambda out: out.write(data))

    def put_file_if_absent(self, name: str, source: Path) -> bool:
        target = self._path(name)
        if target.exists():
            return False

        def copy(out) -> None:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)

        self._write(target, copy)
        return True

    @staticmethod
    def _write(target: Path, fill) -> None:
        tmp = synced_temp(target.parent, fill)
        try:
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise

    def scratch(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def link_file_if_absent(self, name: str, source: Path) -> bool:
        """Like ``put_file_if_absent`` for a file already on this disk (a finished
        download): linked into place, not copied. ``source`` stays; the caller removes it."""
        target = self._path(name)
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(source, _FILE_MODE)
        try:
            os.link(source, target)
        except FileExistsError:
            return False
        except OSError:  # another file system (or no hard links): copy
            return self.put_file_if_absent(name, source)
        return True

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return iter(())
        names = (
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")  # temporary files and the update lock
        )
        return iter(sorted(names))

    def delete(self, name: str) -> None:
        _unlink(self._path(name))

    def local_copy(self, name: str) -> Path | None:
        path = self._path(name)
        return path if path.is_file() else None


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
