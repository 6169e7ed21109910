"""Reading the files a project names, safely: only regular files, never more
than a bound, and never blocking on a FIFO or a device.

A storyboard, a price list, a saved plan or a lock that is a named pipe,
``/dev/zero`` or a link to one would otherwise hang a command or read without
end; everything the project reads goes through here.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path


class NotRegularFile(OSError):
    """The path is something other than a regular file; ``kind`` says what."""

    def __init__(self, path: Path, kind: str):
        super().__init__(f"{path}: is {kind}, not a regular file")
        self.path, self.kind = path, kind


class FileTooLarge(OSError):
    def __init__(self, path: Path, size: int, limit: int):
        super().__init__(f"{path}: more than {limit:,} bytes")
        self.path, self.size, self.limit = path, size, limit


def kind_of(mode: int) -> str:
    """A file type as people name it."""
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def regular_file_kind(path: Path) -> str | None:
    """None when ``path`` (after links) is a regular file, else what it is.
    Raises FileNotFoundError when there is nothing there."""
    mode = os.stat(path).st_mode
    return None if stat.S_ISREG(mode) else kind_of(mode)


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    Opens without blocking (a FIFO with no writer would hang ``open``) and
    checks the opened file, so a link swapped in between cannot slip by.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(Path(path), kind_of(mode))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileTooLarge(Path(path), size, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


TEMP_PREFIX = "storyboard-"
STALE_SECONDS = 24 * 3600


def work_dir(purpose: str) -> tempfile.TemporaryDirectory:
    """A temporary folder whose name carries this process's id, so that the
    next run can tell a killed run's leftovers from a live run's work."""
    return tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{purpose}-{os.getpid()}-")


def remove_stale(paths) -> None:
    """Remove each leftover whose owner (the pid in its name) has gone; one
    without a pid only when it is more than a day old. Live work is kept."""
    for path in paths:
        owner = _pid_in(path.name)
        try:
            age = time.time() - path.lstat().st_mtime
        except OSError:
            continue
        if (owner is not None and pid_alive(owner)) or (owner is None and age < STALE_SECONDS):
            continue
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError:
            pass


def _pid_in(name: str) -> int | None:
    parts = name.split("-")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


LOCK_SUFFIX = ".lock"


def lock_path(storyboard: Path) -> Path:
    """The lock of a storyboard file: beside it, named after it (``teaser.yaml`` →
    ``teaser.lock``; ``storyboard.yaml`` → ``storyboard.lock``), so each film of a
    folder keeps its own record of what it paid for."""
    if storyboard.suffix == LOCK_SUFFIX:  # a storyboard named *.lock must not be its own lock
        return storyboard.with_name(storyboard.name + LOCK_SUFFIX)
    return storyboard.with_suffix(LOCK_SUFFIX)
