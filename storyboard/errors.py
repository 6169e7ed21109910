"""The exception tree and the diagnostics every user-facing error carries.

    StoryboardError            anything the user can fix; cli prints it, exit 1
     ├── InvalidStoryboard     one or more Diagnostics (file:line:col: path: message)
     ├── UsageError            bad command-line input found after parsing; exit 2
     └── BudgetExceeded        the budget guard refused to spend; exit 4

Library code raises; only the ``cli`` package prints and picks exit codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in a file, with the position of the offending value."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: str = field(default=ERROR, compare=False)

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        tag = "warning: " if self.severity == WARNING else ""
        what = f"{self.path}: {self.message}" if self.path else self.message
        return where + tag + what


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by position; identical reports (same place, same words) kept once."""
    seen: dict[tuple, Diagnostic] = {}
    for d in diagnostics:
        seen.setdefault((d.file, d.line, d.column, d.path, d.message, d.severity), d)
    return sorted(seen.values(), key=lambda d: (d.file, d.line, d.column, d.path, d.message))


class StoryboardError(Exception):
    """Base of every error a user can act on."""

    exit_code = 1


class InvalidStoryboard(StoryboardError):
    """A storyboard (or a file it names) did not validate."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sort_diagnostics(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == ERROR]


class UsageError(StoryboardError):
    """The command line asked for something that cannot be done."""

    exit_code = 2


class BudgetExceeded(StoryboardError):
    """The uncached cost of a render is more than the user allowed."""

    exit_code = 4


# C0 and C1 control characters (tab and line feed aside), DEL, and the Unicode
# marks that reorder or hide text on a terminal (bidi overrides and isolates,
# zero-width and line/paragraph separators).
_MARKS = "\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f{_MARKS}]")
_ALL_CONTROL = re.compile(f"[\x00-\x1f{_MARKS}]")


def printable(text: str, *, lines: bool = True) -> str:
    """``text`` safe to show on a terminal: each control character escaped as
    ``\\xNN`` or ``\\uNNNN``, so text from outside (a task id, a provider's
    message, a file name, a lock field) can show itself but never move the
    cursor, clear the screen or recolour what follows. ``lines``: keep line
    breaks and tabs (else they are escaped too)."""
    pattern = _CONTROL if lines else _ALL_CONTROL
    return pattern.sub(_escape, text)


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# A task id goes into a URL path (`/predictions/{id}/result`): only characters a
# path segment carries as they are, starting with a letter or digit (so never
# `.` or `..`, which would name another path). The provider client, the lock,
# claims, records and the journal all take task ids by this one rule.
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~:-]{0,199}$"
_TASK_ID = re.compile(TASK_ID_PATTERN)


def usable_task_id(value: object) -> str | None:
    """``value`` if it is a task id a URL path can carry as it is, else None."""
    return value if isinstance(value, str) and _TASK_ID.fullmatch(value) else None
