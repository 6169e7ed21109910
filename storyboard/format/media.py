"""Digests and kinds of the files a storyboard references.

A file's sha256 is what a job key sees of it, so moving or renaming a file
changes nothing, and changing one byte changes the key. Hashing is memoised
by (path, size, mtime) in ``.storyboard/media.json`` beside the storyboard,
so re-planning does not re-read unchanged media. The memo is only a cache:
unreadable or stale, it is ignored and rebuilt. Since a digest from it goes
into job keys, an entry is used only when it is exactly what this module
writes (a hex digest, the file's size and mtime as whole numbers, a known
kind and format, a finite length); anything else means hashing the file again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from .files import read_bounded
from .mp4 import handler, moov_of, movie_duration, traks

STATE_DIR = ".storyboard"
STATE_FILE = "media.json"
_STATE_VERSION = 1
_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
KINDS = {"image", "video", "audio", "unknown"}
FORMATS = {"png", "jpeg", "webp", "gif", "mp4", "mov", "m4a", "webm", "mp3", "wav", "ogg", "flac", "unknown"}


@dataclass(frozen=True)
class MediaInfo:
    """What the compiler needs to know of one file."""

    sha256: str
    size: int
    kind: str  # image | video | audio | unknown
    format: str  # png, jpeg, webp, gif, mp4, mov, m4a, webm, mp3, wav, ogg, flac, unknown
    duration: float | None = None  # seconds, for MP4-family files

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256


class MediaIndex:
    """Memoised digests of files under one project folder."""

    def __init__(self, root: Path, state_dir: Path | None = None):
        self.root = root
        self.state_path = (state_dir or root / STATE_DIR) / STATE_FILE
        self._entries: dict[str, dict] = self._read_state()
        self._dirty = False
        self.hashed = 0  # files actually read in this run (for tests and benchmarks)

    def _read_state(self) -> dict[str, dict]:
        try:
            state = json.loads(read_bounded(self.state_path, 256 * 1024 * 1024))
            if state.get("version") == _STATE_VERSION and isinstance(state.get("files"), dict):
                return state["files"]
        except (OSError, ValueError, AttributeError, RecursionError):  # missing, unreadable, not a file: afresh
            pass
        return {}

    def info(self, path: Path, name: str) -> MediaInfo:
        """Info of ``path`` (already checked to exist), memoised under ``name``."""
        st = path.stat()
        known = _memoised(self._entries.get(name), st.st_size, st.st_mtime_ns)
        if known is not None:
            return known
        info = inspect_file(path)
        self.hashed += 1
        self._entries[name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "info": asdict(info)}
        self._dirty = True
        return info

    def save(self) -> None:
        """Write the memo back if it changed; failing to is not an error."""
        if not self._dirty:
            return
        state = {"version": _STATE_VERSION, "files": dict(sorted(self._entries.items()))}
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".media-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(state, out, indent=1, sort_keys=True)
            os.replace(tmp, self.state_path)
            self._dirty = False
        except OSError:
            pass


def _memoised(entry: object, size: int, mtime_ns: int) -> MediaInfo | None:
    """The memo's info for a file of this size and mtime, if the entry is sound."""
    if not isinstance(entry, dict) or not _whole(entry.get("size")) or not _whole(entry.get("mtime_ns")):
        return None
    info = entry.get("info")
    if entry["size"] != size or entry["mtime_ns"] != mtime_ns or not isinstance(info, dict):
        return None
    if set(info) != {"sha256", "size", "kind", "format", "duration"} or info["size"] != size:
        return None
    sha, kind, fmt, duration = info["sha256"], info["kind"], info["format"], info["duration"]
    if not all(isinstance(v, str) for v in (sha, kind, fmt)):
        return None
    if not (_HEX64.fullmatch(sha) and kind in KINDS and fmt in FORMATS):
        return None
    if duration is not None and not (isinstance(duration, float) and math.isfinite(duration) and duration >= 0):
        return None
    if not _whole(info["size"]):
        return None
    return MediaInfo(sha, size, kind, fmt, duration)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def inspect_file(path: Path) -> MediaInfo:
    """Hash ``path`` and tell what kind of media it is from its bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        head = f.read(64)
        digest.update(head)
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
        size = f.tell()
        kind, fmt = sniff(head)
        duration = None
        if head[4:8] == b"ftyp":
            kind, duration = _mp4_facts(f, size, kind)
    return MediaInfo(digest.hexdigest(), size, kind, fmt, duration)


def sniff(head: bytes) -> tuple[str, str]:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio", "m4a"
        return "video", "mov" if brand == b"qt  " else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "webm"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio", "wav"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio", "mp3"
    if head.startswith(b"OggS"):
        return "audio", "ogg"
    if head.startswith(b"fLaC"):
        return "audio", "flac"
    return "unknown", "unknown"


def _mp4_facts(f: BinaryIO, size: int, kind: str) -> tuple[str, float | None]:
    """The kind (video if any track is video, else audio) and the movie's length."""
    moov = moov_of(f, size)
    if moov is None:
        return kind, None
    try:
        duration = movie_duration(moov)
        handlers = {handler(moov, found) for found in traks(moov)}
    except (struct.error, IndexError, ValueError):
        return kind, None
    if b"vide" in handlers:
        kind = "video"
    elif b"soun" in handlers:
        kind = "audio"
    return kind, duration
