"""The exception tree and the diagnostics every user-facing error carries.

    StoryboardError            anything the user can fix; cli prints it, exit 1
     ├── InvalidStoryboard     one or more Diagnostics (file:line:col: path: message)
     ├── UsageError            bad command-line input found after parsing; exit 2
     └── BudgetExceeded        the budget guard refused to spend; exit 4

Library code raises; only the ``cli`` package prints and picks exit codes.
"""

from __future__ import annotations

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
