"""A storyboard as it was at a git revision: its project folder, media and all,
checked out into a temporary folder (read-only use; nothing touches the
working tree)."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Iterator

from ..errors import StoryboardError


class NotAtRevision(StoryboardError):
    """The file does not exist at that revision (a film added or deleted since)."""


def _git(args: list[str], cwd: Path, *, binary: bool = False):
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=not binary)
    except FileNotFoundError:
        raise StoryboardError("git is not installed, and a revision was asked for") from None
    if result.returncode != 0:
        err = result.stderr if not binary else result.stderr.decode(errors="replace")
        raise StoryboardError(f"git {' '.join(args[:2])}: {err.strip().splitlines()[-1] if err.strip() else 'failed'}")
    return result.stdout


def repo_root(cwd: Path) -> Path:
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], cwd).strip())
    except StoryboardError:
        raise StoryboardError(f"{cwd}: not inside a git repository, and a revision (REV:path or --base) was asked for") from None


def split_revision(spec: str) -> tuple[str, str] | None:
    """``REV:path`` → (REV, path); None when ``spec`` is a plain path."""
    if Path(spec).exists() or ":" not in spec:
        return None
    rev, path = spec.split(":", 1)
    return (rev, path) if rev and path else None


def relative_to_repo(path: Path, cwd: Path) -> str:
    root = repo_root(cwd)
    return path.resolve().relative_to(root.resolve()).as_posix()


@contextmanager
def checkout(rev: str, path: str, cwd: Path) -> Iterator[Path]:
    """The storyboard file ``path`` (relative to the repository root) as of
    ``rev``, inside a temporary copy of its project folder."""
    root = repo_root(cwd)
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    except StoryboardError:
        raise StoryboardError(f"revision `{rev}` not found in the git repository at {root}") from None
    pure = PurePosixPath(path.removeprefix("./"))
    folder = str(pure.parent) if str(pure.parent) != "." else "."
    if not _git(["ls-tree", "--name-only", rev, "--", str(pure)], root).strip():
        raise NotAtRevision(f"{rev}:{path}: no such file at that revision")
    archive = _git(["archive", "--format=tar", rev, "--", folder], root, binary=True)
    with tempfile.TemporaryDirectory(prefix="storyboard-rev-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter=_inside)
        yield Path(tmp) / pure


def _inside(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tar's "data" filter, except that what it refuses (an absolute symlink,
    or one that leads out of the folder, as a monorepo's shared assets do) is
    left out instead of failing the whole diff. A storyboard that uses such a
    file then says it is missing, at its position."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None
