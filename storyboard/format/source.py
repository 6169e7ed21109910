"""Where each value of a loaded YAML document came from, and a collector of
diagnostics that turns key paths into ``file:line:col`` positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..errors import ERROR, WARNING, Diagnostic, InvalidStoryboard

Path = tuple  # of str (mapping keys) and int (list indexes)


def format_path(path: Iterable) -> str:
    """``("shots", 2, "duration")`` → ``shots[2].duration``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class SourceMap:
    """Positions (1-based line and column) of values and of mapping keys."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))


class Reporter:
    """Collects every error and warning in one file, to be raised all at once."""

    def __init__(self, file: str, source: SourceMap | None = None):
        self.file = file
        self.source = source or SourceMap()
        self.diagnostics: list[Diagnostic] = []
        self.flagged: set[Path] = set()  # values already reported as unreadable: no second error there

    def _add(self, severity: str, path: Path, message: str, key: bool) -> None:
        line, column = self.source.position(path, key=key)
        self.diagnostics.append(Diagnostic(self.file, line, column, format_path(path), message, severity))

    def error(self, path: Path, message: str, *, key: bool = False) -> None:
        self._add(ERROR, path, message, key)

    def warning(self, path: Path, message: str, *, key: bool = False) -> None:
        self._add(WARNING, path, message, key)

    def at(self, line: int, column: int, message: str, path: str = "") -> None:
        """An error at a raw position (YAML syntax errors have no key path)."""
        self.diagnostics.append(Diagnostic(self.file, line, column, path, message))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == ERROR for d in self.diagnostics)

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == WARNING]

    def raise_if_errors(self, *, strict: bool = False) -> None:
        """Raise every diagnostic so far if any is an error (or, strict, a warning)."""
        if self.has_errors or (strict and self.diagnostics):
            raise InvalidStoryboard(self.diagnostics)
