"""The names the tool writes in a remote, and the rest: ignored, with one warning.

A remote is shared: anyone who can write to the bucket can leave an object
named anything (``keys/../../x``, a name with control characters, a name of
a kilobyte). Only names of the layout the cache and the claims write are
read; every other one is passed over, and the command says so once, however
many there are, with the first such name shown escaped.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Callable

from ..errors import StoryboardError, printable
from .records import record_problem

LAYOUT = re.compile(
    r"(?:keys|claims)/(?P<a>[0-9a-f]{2})/(?P=a)[0-9a-f]{62}\.json"
    r"|objects/(?P<b>[0-9a-f]{2})/(?P=b)[0-9a-f]{62}\.mp4"
)
SHOWN = 120  # characters of a foreign name shown in the warning


def in_layout(name: str) -> bool:
    """``name`` is one the tool writes (a record, a clip or a claim)."""
    return LAYOUT.fullmatch(name) is not None


class Foreign:
    """The foreign names one command met in one remote; the first one warns, once."""

    def __init__(self, url: str, warn: Callable[[str], None] = lambda message: None):
        self.url = url
        self.warn = warn
        self.count = 0
        self.first = ""
        self.gaps = 0  # listings resumed past a name object_store cannot parse
        self._guard = threading.Lock()  # pull and push read in parallel threads

    def saw(self, name: str) -> None:
        with self._guard:
            self.count += 1
            first = self.count == 1
            if first:
                self.first = name if len(name) <= SHOWN else name[:SHOWN] + "…"
        if first:
            self.warn(f"remote {printable(self.url, lines=False)}: {self.describe()}")

    def describe(self) -> str:
        return (f"objects whose names are not ones storyboard writes are ignored "
                f"(such as `{printable(self.first, lines=False)}`)")

    def keep(self, names) -> list[str]:
        """The names of ``names`` in the layout; the others are noted."""
        kept = []
        for name in names:
            if in_layout(name):
                kept.append(name)
            else:
                self.saw(name)
        return kept


# -- object_store refuses to list a page holding a name it cannot parse; these find where to go on --

_BAD_NAME = re.compile(r'Path "(?P<name>.*)"(?: contained |: Encountered illegal)', re.DOTALL)


def refused_name(message: str, prefix: str) -> str | None:
    """The name (below ``prefix``) an ``InvalidPathError`` of a listing names, or None."""
    found = _BAD_NAME.search(message)
    if found is None or not found["name"].startswith(prefix):
        return None
    return found["name"][len(prefix):]


def _bad_char(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


def resume_after(name: str) -> str | None:
    """The smallest offset past ``name`` (an object name object_store cannot parse) such that no
    name of the layout lies between the two; None when ``name`` is not one it refuses."""
    start = 0
    for segment in name.split("/"):
        end = start + len(segment)
        for i, ch in enumerate(segment):
            if _bad_char(ch):  # every name beginning name[:start + i] + ch is refused too
                return name[:start + i] + (" " if ord(ch) < 0x20 else "\u00a0")
        if segment in ("", ".", ".."):
            if end < len(name):  # "a//b", "a/../b": skip everything under the refused segment
                return name[:end] + "0"
            return name + "!"  # the last segment: only names that go on from it with a low character
        start = end + 1
    return None


def remote_problems(remote) -> list[str]:
    """Records the remote holds that are unreadable or whose clip it lacks, every one of
    them (each object is verified when it is pulled), and one line for the objects whose
    names the tool does not write (ignored everywhere else)."""
    seen = remote.foreign = Foreign(remote.url)  # counted here, said once below
    objects = set(seen.keep(remote.list("objects/")))
    problems = []
    for name in seen.keep(remote.list("keys/")):
        try:
            raw = remote.get(name)
        except StoryboardError as exc:  # one object refused (permissions, a broken upload): name it, go on
            problems.append(f"{name}: cannot be read ({exc})")
            continue
        problem = record_problem(name, raw, objects.__contains__)
        if problem:
            problems.append(problem)
    if seen.count:
        skipped = f"; {seen.gaps} listing page(s) holding names unreadable to object_store were passed over" \
            if seen.gaps else ""
        problems.append(f"{seen.count} {seen.describe()}{skipped}")
    return problems
