"""A prose change word by word (like ``git diff --word-diff``): for the review
page to highlight, and for ``diff`` to show the changed words in context."""

from __future__ import annotations

import difflib
import re

_TOKENS = re.compile(r"\s+|[^\s]+")
KEPT, REMOVED, ADDED = "=", "-", "+"
ELLIPSIS = "…"


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """``(op, text)`` pieces that read as the new prompt with the old words
    struck: ``=`` kept, ``-`` removed, ``+`` added (spaces ride with their words)."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append((KEPT, "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append((REMOVED, "".join(a[i1:i2])))
        if j2 > j1:
            out.append((ADDED, "".join(b[j1:j2])))
    return out


def in_context(pieces: list[tuple[str, str]], words: int = 6) -> list[tuple[str, str]]:
    """The same pieces with long unchanged stretches cut to ``words`` words next
    to each change, the rest shown as ``…`` (a reviewer needs the change, not the whole prompt)."""
    out: list[tuple[str, str]] = []
    for i, (op, text) in enumerate(pieces):
        if op != KEPT:
            out.append((op, text))
            continue
        tokens = _TOKENS.findall(text)
        keep = 2 * words  # tokens: a word and its space
        after_change, before_change = i > 0, i < len(pieces) - 1
        if len(tokens) <= keep * (after_change + before_change) + 1:
            out.append((op, text))
            continue
        head = "".join(tokens[:keep]) if after_change else ""
        tail = "".join(tokens[-keep:]) if before_change else ""
        out.append((op, head + ELLIPSIS + tail))
    return out


def outer_spaces(text: str) -> tuple[str, str, str]:
    """``text`` as (leading space, words, trailing space): markers go around the words only."""
    stripped = text.strip()
    if not stripped:
        return "", text, ""
    start = text.index(stripped)
    return text[:start], stripped, text[start + len(stripped):]
