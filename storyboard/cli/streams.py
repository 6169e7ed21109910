"""Standard output and error that cannot stop a command.

``storyboard render . | head`` closes the pipe early; a log on a full disk or
a terminal that went away fails the same way. Writing is never worth
interrupting the work for (least of all between a submit and its journal
entry), so after the first failure a stream is pointed at /dev/null and the
command goes on to its end, exiting as it would have: ``plan . | head -1``
exits 0, like other Unix tools.

They also keep text from outside from driving the terminal: a task id, a
provider's message, a file name or a lock field with an escape sequence in it
is printed with its control characters escaped (``errors.printable``). Only
rich's own consoles, which strip control codes from the text they are given,
write through ``terminal()`` to send colours and cursor moves.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from ..errors import printable


class SafeStream:
    """A text stream whose writes and flushes never raise; ``escape``: control characters in what is written are
    escaped."""

    def __init__(self, stream, escape: bool = True):
        self._stream = stream
        self.escape = escape
        self.failed = False

    def write(self, text: str) -> int:
        if not self.failed:
            try:
                self._stream.write(printable(text) if self.escape else text)
                return len(text)
            except (OSError, ValueError):
                self._give_up()
        return len(text)

    def flush(self) -> None:
        if not self.failed:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._give_up()

    def _give_up(self) -> None:
        self.failed = True
        try:  # so the interpreter's own flush at exit finds nothing to complain about
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def terminal(stream):
    """The stream for a rich console: never raising, but passing its colours and cursor moves through."""
    if isinstance(stream, SafeStream):
        return SafeStream(stream._stream, escape=False)
    return stream


@contextmanager
def protected_streams():
    """``sys.stdout`` and ``sys.stderr`` as ``SafeStream``s for the duration."""
    saved = sys.stdout, sys.stderr
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, SafeStream):
            setattr(sys, name, SafeStream(stream))
    try:
        yield
    finally:
        for name, stream in zip(("stdout", "stderr"), (sys.stdout, sys.stderr)):
            if isinstance(stream, SafeStream):
                stream.flush()
        sys.stdout, sys.stderr = saved
