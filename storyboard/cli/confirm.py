"""Asking before spending, as ``terraform apply`` does: on a terminal, ``render``
lists what it will pay for now and goes on only if the answer is ``yes``.
Without a terminal (CI, a pipe) nothing is asked: scripts keep working, and
``--max-cost`` is their guard."""

from __future__ import annotations

import sys

from ..errors import StoryboardError, printable
from ..plan.prices import dollars
from .display import short_model

SHOWN = 20  # jobs listed before "and N more"


class Declined(StoryboardError):
    """The person at the terminal did not answer ``yes``: nothing was sent."""


def interactive(stdin=None, stdout=None) -> bool:
    """Whether a person can be asked: standard input and output are both terminals."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    try:
        return stdin.isatty() and stdout.isatty()
    except (AttributeError, ValueError):  # closed, or not a file
        return False


def asker(stdin=None, stdout=None):
    """A ``confirm`` for ``render_project``: shows the quote on ``stdout``, reads the answer from ``stdin``."""

    def confirm(quote) -> None:
        out = stdout or sys.stdout
        out.write(question(quote))
        out.flush()
        try:
            answer = (stdin or sys.stdin).readline()
        except KeyboardInterrupt:  # Ctrl-C at the question: nothing was sent, so no journal to speak of
            answer = ""
        if answer.strip() != "yes":
            out.write("\n" if not answer.endswith("\n") else "")
            raise Declined("render cancelled: nothing was sent or paid")

    return confirm


def question(quote) -> str:
    """The jobs to pay for, one a line, then the question."""
    lines = ["storyboard will pay for these jobs now:", ""]
    width = max(len(printable(job.label, lines=False)) for job in quote.jobs[:SHOWN])
    for job in quote.jobs[:SHOWN]:
        cost = dollars(job.cost) if job.cost is not None else "unknown"
        label = printable(job.label, lines=False)
        lines.append(f"  + {label:<{width}}  {cost:>9}  {short_model(job.model)}")
    if len(quote.jobs) > SHOWN:
        lines.append(f"  … and {len(quote.jobs) - SHOWN} more")
    lines += ["", f"Do you want to pay {quote.text}?",
              "  Only 'yes' will be accepted to approve; `--yes` skips this question.", "",
              "  Enter a value: "]
    return "\n".join(lines)
