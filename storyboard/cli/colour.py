"""Colour on a terminal, as git and Terraform use it: ``+`` green, ``-`` red,
``~`` yellow, errors red, warnings yellow.

``--color auto`` (the default) colours a terminal unless ``NO_COLOR`` is set
(no-color.org); ``always`` and ``never`` say so. Lines are ``(style, text)``
pieces: with colour, every piece is escaped (``errors.printable``) before its
colour codes are put round it, and the result goes through ``streams.terminal``
(the one way past the escaping streams), so text from outside still cannot
drive the terminal; without colour, pieces are joined and written as any text is.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Iterable

from ..errors import WARNING, Diagnostic, printable
from .streams import terminal

Line = list[tuple[str, str]]

CODES = {"add": "32", "remove": "31", "change": "33", "ins": "32", "del": "31", "error": "31", "warning": "33",
         "ok": "32", "bold": "1", "dim": "2"}
CHOICES = ("auto", "always", "never")


def color_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--color", choices=CHOICES, default="auto",
                   help="colour the output: auto (on a terminal, unless NO_COLOR is set), always or never")


def wanted(args, stream) -> bool:
    """Whether to colour ``stream`` for this command."""
    choice = getattr(args, "color", "auto")
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError, OSError):
        return False


def paint(line: Line, on: bool) -> str:
    if not on:
        return "".join(text for _, text in line)
    return "".join(f"\x1b[{CODES[style]}m{printable(text)}\x1b[0m" if style in CODES and text else printable(text)
                   for style, text in line)


def write(lines: Iterable[Line], args, stream=None) -> None:
    """Lines to ``stream`` (default stdout), coloured when the command wants colour there."""
    stream = stream or sys.stdout
    on = wanted(args, stream)
    out = terminal(stream) if on else stream
    out.write("".join(paint(line, on) + "\n" for line in lines))
    out.flush()


def diagnostic(d: Diagnostic) -> Line:
    """``file:line:col:`` in bold, ``warning:`` in yellow, an error's message in red; the words as ``format()``."""
    where = f"{d.file}:{d.line}:{d.column}: "
    what = f"{d.path}: {d.message}" if d.path else d.message
    if d.severity == WARNING:
        return [("bold", where), ("warning", "warning:"), ("", " " + what)]
    return [("bold", where), ("error", what)]


def counted(errors: int, warnings: int) -> str:
    """``2 errors, 1 warning``, as linters end."""
    parts = [f"{errors} error{'s' if errors != 1 else ''}"] if errors else []
    parts += [f"{warnings} warning{'s' if warnings != 1 else ''}"] if warnings else []
    return ", ".join(parts)
