"""Local media to URLs the provider can fetch: each file uploaded once per
content digest and origin, remembered for a few days (uploads are kept ~7)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from ..format.files import read_bounded
from ..format.media import STATE_DIR

KEEP_SECONDS = 6 * 24 * 3600


class UploadBook:
    """``.storyboard/uploads.json``: (origin, digest) → URL and when it was made."""

    def __init__(self, root: Path, wall_clock=time.time):
        self.path = root / STATE_DIR / "uploads.json"
        self.now = wall_clock
        try:
            self.entries: dict[str, dict] = json.loads(read_bounded(self.path, 64 * 1024 * 1024))
        except (OSError, ValueError):
            self.entries = {}
        if not isinstance(self.entries, dict):  # a damaged book is an empty one
            self.entries = {}

    def get(self, origin: str, digest: str) -> str | None:
        entry = self.entries.get(f"{origin} {digest}")
        if isinstance(entry, dict) and self.now() - entry.get("at", 0) < KEEP_SECONDS:
            return entry.get("url")
        return None

    def put(self, origin: str, digest: str, url: str) -> None:
        self.entries[f"{origin} {digest}"] = {"url": url, "at": int(self.now())}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".uploads-")
            with os.fdopen(fd, "w") as out:
                json.dump(self.entries, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            pass


NESTED = "element_list"  # the one field whose items hold files (an element given inline: its images)


def media_digests(request: dict) -> list[str]:
    """The ``sha256:…`` placeholders in a request, in order: each field's value or list items, and at any
    depth in ``element_list`` (an element given inline holds its images there). Prompts, in segments too,
    are text, never files."""
    out: list[str] = []

    def walk(value, deep: bool) -> None:
        if isinstance(value, str) and value.startswith("sha256:"):
            out.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item, deep)
        elif isinstance(value, dict) and deep:
            for item in value.values():
                walk(item, deep)

    for name, value in request.items():
        walk(value, name == NESTED)
    return out


def with_urls(request: dict, urls: dict[str, str]) -> dict:
    """The request with every digest placeholder ``media_digests`` finds replaced by its uploaded URL."""
    def swap(value, deep: bool):
        if isinstance(value, str):
            return urls.get(value, value)
        if isinstance(value, list):
            return [swap(item, deep) for item in value]
        if isinstance(value, dict) and deep:
            return {k: swap(v, deep) for k, v in value.items()}
        return value

    return {name: swap(value, name == NESTED) for name, value in request.items()}
