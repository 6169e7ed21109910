"""Cache housekeeping (``storyboard cache size`` and ``cache gc``), as ``dvc gc`` does it.

What a clip is to this project decides whether ``gc`` may remove it:

- **the film's**: a job of the storyboard as it is now (its chosen takes, the other takes in its lock, at
  this shell's API address or the one its lock names, and its preview cards): never removed;
- **paid**: named by an entry of any lock, here or in any revision of the git repository (every branch,
  tag, stash and reflog entry, any folder): removed only when the team's remote has it (``pull`` brings
  it back), else kept and said;
- **unused**: named by nothing (a preview of an earlier version, a clip whose lock entry was pruned):
  removed.

``gc`` only reports unless told to remove (``--force``). Objects written in the last hour are left
alone: a render running now writes a clip before the record that names it.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..store.cache import ClipCache
from ..store.records import object_name, parse_record, record_name

HEX64 = re.compile(r"^[0-9a-f]{64}$")
FRESH_SECONDS = 3600  # an object younger than this may be a render's clip whose record is not written yet
LOCK_SUFFIX = ".lock"


@dataclass
class Clip:
    key: str
    sha256: str
    size: int


@dataclass
class Housekeeping:
    """The cache sorted by what its clips are to the project (see the module's docstring)."""

    folder: Path
    film: list[Clip] = field(default_factory=list)
    paid_here: list[Clip] = field(default_factory=list)  # paid, not in the remote: kept
    paid_in_remote: list[Clip] = field(default_factory=list)  # paid, and the remote has it: removable
    unused: list[Clip] = field(default_factory=list)  # removable
    orphans: list[str] = field(default_factory=list)  # objects no record names (removable)
    in_git: bool = True
    remote: str | None = None

    def removable_objects(self) -> list[str]:
        """Object names no kept record uses (two keys may share one clip's bytes)."""
        kept = {c.sha256 for c in self.film + self.paid_here}
        gone = {c.sha256 for c in self.paid_in_remote + self.unused} - kept
        return sorted({object_name(sha) for sha in gone} | set(self.orphans))

    def freed(self, sizes: dict[str, int]) -> int:
        return sum(sizes.get(name, 0) for name in self.removable_objects())


def lock_keys(text: str | bytes) -> set[str]:
    """Every job key a lock's text names, read loosely: a lock of any age (or of a format that has
    changed since) still protects its clips; a file that is not JSON names none."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return set()
    found: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            value = item.get("key")
            if isinstance(value, str) and HEX64.match(value):
                found.add(value)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def working_lock_keys(root: Path) -> set[str]:
    """The keys of every lock in the project folder as it is now, committed or not."""
    keys: set[str] = set()
    for path in sorted(root.glob("*" + LOCK_SUFFIX)):
        try:
            keys |= lock_keys(path.read_bytes())
        except OSError:
            continue
    return keys


def history_lock_keys(root: Path) -> tuple[set[str], bool]:
    """The keys named by every version of every lock in the git repository's history (all refs and the
    reflog; any folder, so a project that moved keeps its clips), and whether there is a repository."""
    top = _git(["rev-parse", "--show-toplevel"], root)
    if top is None:
        return set(), False
    listing = _git(["rev-list", "--all", "--reflog", "--objects"], Path(top.strip())) or ""
    blobs = {line.split(" ", 1)[0] for line in listing.splitlines() if line.endswith(LOCK_SUFFIX)}
    return _read_blobs(sorted(blobs), Path(top.strip())), True


def _read_blobs(blobs: list[str], top: Path) -> set[str]:
    keys: set[str] = set()
    if not blobs:
        return keys
    result = subprocess.run(["git", "cat-file", "--batch"], cwd=top, input="\n".join(blobs).encode() + b"\n",
                            capture_output=True)
    out, at = result.stdout, 0
    while at < len(out):
        header_end = out.index(b"\n", at)
        parts = out[at:header_end].split()
        if len(parts) < 3:  # "<sha> missing"
            at = header_end + 1
            continue
        size = int(parts[2])
        keys |= lock_keys(out[header_end + 1: header_end + 1 + size])
        at = header_end + 1 + size + 1
    return keys


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except OSError:  # git not installed
        return None
    return result.stdout if result.returncode == 0 else None


def cached_clips(cache: ClipCache) -> tuple[list[Clip], dict[str, int]]:
    """Every readable record in the cache, and every object's size by name."""
    storage = cache.storage
    sizes = {}
    for name in storage.list("objects/"):
        path = storage.local_copy(name)
        if path is not None:
            sizes[name] = path.stat().st_size
    clips = []
    for name in storage.list("keys/"):
        key = Path(name).stem
        raw = storage.get(name)
        record = parse_record(raw, key) if raw is not None else None
        if record is not None:
            clips.append(Clip(key, record.sha256, record.size))
    return clips, sizes


def sort_cache(cache: ClipCache, folder: Path, root: Path, film_keys: set[str]) -> Housekeeping:
    """The cache's clips sorted into the film's, paid (here only, or in the remote too) and unused."""
    clips, sizes = cached_clips(cache)
    history, in_git = history_lock_keys(root)
    paid = history | working_lock_keys(root)
    report = Housekeeping(folder, in_git=in_git, remote=cache.remote.url if cache.remote is not None else None)
    for clip in clips:
        if clip.key in film_keys:
            report.film.append(clip)
        elif clip.key in paid:
            remote = cache.remote is not None and cache.in_remote(clip.key)
            (report.paid_in_remote if remote else report.paid_here).append(clip)
        else:
            report.unused.append(clip)
    named = {object_name(c.sha256) for c in clips}
    old = time.time() - FRESH_SECONDS
    for name in sizes:
        path = cache.storage.local_copy(name)
        if name not in named and path is not None and path.stat().st_mtime < old:
            report.orphans.append(name)
    return report


def collect(report: Housekeeping, cache: ClipCache) -> int:
    """Remove what ``report`` says may go: records first (a record without its clip would be a miss with a
    warning), then the objects no kept record uses. Returns the number of objects removed."""
    for clip in report.paid_in_remote + report.unused:
        cache.storage.delete(record_name(clip.key))
    objects = report.removable_objects()
    for name in objects:
        cache.storage.delete(name)
    return len(objects)
