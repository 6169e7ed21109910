"""Every warning has a code, as linters' do, so that a storyboard can
acknowledge one where it is right: ``ignore_warnings: [W003]`` on a shot
(that shot's warnings of the code) or at the top level (all of them).

A warning says its code at the end of its message (``… [W003]``); the codes
are stable: a code is never reused for another warning.
"""

from __future__ import annotations

import re

from ..errors import WARNING
from .source import Reporter

CODES: dict[str, str] = {
    "W001": "the model takes no reference images (or element ids): a character's are not sent",
    "W002": "a setting means nothing without another one; it is not sent",
    "W003": "the prompt names a character who is not in the shot's `characters`",
    "W004": "segments sent with `shot_type: intelligent` may be ignored by the model",
    "W005": "a reference file is larger than the provider takes",
    "W006": "a take past the take limit needs `--yes` to be rendered",
    "W007": "the length (and so the cost) of a URL video is not known before the render",
    "W008": "the price list has no price for the model",
    "W009": "a cut transition has no duration; the duration is ignored",
    "W010": "the first shot has no shot before it; its transition is ignored",
    "W011": "the music is shorter than the film",
    "W012": "a shot sends a character's element, but its prompt never says the element's name",
}
_TAG = re.compile(r" \[(W\d{3})\]$")


def warn(reporter: Reporter, code: str, path: tuple, message: str, *, key: bool = False) -> None:
    """A warning with its code."""
    assert code in CODES, code  # a new warning gets a new code in CODES (and the docs)
    reporter.warning(path, f"{message} [{code}]", key=key)


def code_of(message: str) -> str | None:
    match = _TAG.search(message)
    return match.group(1) if match else None


def known_code(value: str) -> str:
    """An ``ignore_warnings`` entry: a code that exists (a typo would silence nothing, silently)."""
    if value not in CODES:
        raise ValueError(f"`{value}` is not a warning code; the codes are {', '.join(CODES)} "
                         "(each warning ends with its code)")
    return value


def drop_ignored(reporter: Reporter, everywhere: list[str], by_shot: dict[int, list[str]]) -> None:
    """Leave out the warnings the storyboard acknowledges: top-level codes anywhere, a shot's codes at
    that shot (its position is ``shots[N]…``)."""
    if not everywhere and not any(by_shot.values()):
        return
    shown = {n: f"shots[{n}]" for n in by_shot}

    def ignored(d) -> bool:
        code = code_of(d.message)
        if d.severity != WARNING or code is None:
            return False
        if code in everywhere:
            return True
        return any(code in codes and (d.path == shown[n] or d.path.startswith((shown[n] + ".", shown[n] + "[")))
                   for n, codes in by_shot.items())

    reporter.diagnostics[:] = [d for d in reporter.diagnostics if not ignored(d)]
