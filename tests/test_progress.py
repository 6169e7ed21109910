"""The render display: a live table on a terminal, plain lines on a pipe."""

from __future__ import annotations

import io
from decimal import Decimal

from storyboard.cli.progress import Progress
from storyboard.plan.project import compile_project


def test_live_table_on_a_terminal_shows_states_and_money(lighthouse):
    plan = compile_project(str(lighthouse)).plan
    out = io.StringIO()
    with Progress(plan, Decimal("4.7824"), file=out, force_terminal=True) as events:
        events("arrival", "submitting", "")
        events("arrival", "submitted", "task-1")
        events("storm", "failed", "the provider says: no")
    text = out.getvalue()
    assert "\x1b[" in text  # a terminal gets colour
    assert "$1.120 of $4.782 estimated" in text and "failed" in text


def test_plain_lines_on_a_pipe(lighthouse):
    plan = compile_project(str(lighthouse)).plan
    out = io.StringIO()
    with Progress(plan, Decimal(0), file=out) as events:
        events("arrival", "processing", "")
        events("arrival", "processing", "")  # no repeat
        events("arrival", "done", "")
    assert out.getvalue() == "arrival: processing\narrival: done\n"
