"""What a render shows while it runs: a live table on a terminal, plain lines
on a pipe. Fed by the executor's events; prints to stderr."""

from __future__ import annotations

import sys
from decimal import Decimal

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..plan.types import Plan
from ..plan.prices import dollars

_STYLE = {"done": "green", "cached": "cyan", "failed": "red", "skipped": "yellow", "retrying": "yellow"}


class Progress:
    def __init__(self, plan: Plan, estimate: Decimal, file=None, force_terminal: bool | None = None):
        self.plan = plan
        self.estimate = estimate
        self.spent = Decimal(0)
        self.states: dict[str, tuple[str, str]] = {job.shot: ("waiting", "") for job in plan.jobs}
        self.costs = {job.shot: job.cost or Decimal(0) for job in plan.jobs}
        self.console = Console(file=file or sys.stderr, highlight=False, force_terminal=force_terminal)
        self.live: Live | None = None

    def __enter__(self) -> "Progress":
        if self.console.is_terminal:
            self.live = Live(self._table(), console=self.console, refresh_per_second=8, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.__exit__(*exc)

    def __call__(self, shot: str, state: str, detail: str) -> None:
        if state == "submitted":
            self.spent += self.costs[shot]
        if self.states.get(shot) == (state, detail):
            return
        self.states[shot] = (state, detail)
        if self.live is not None:
            self.live.update(self._table())
        else:
            line = f"{shot}: {state}" + (f" ({detail})" if detail else "")
            self.console.print(line, markup=False, soft_wrap=True)

    def _table(self) -> Table:
        table = Table(title=f"{self.plan.title or 'render'} on {self.plan.provider}", show_footer=True)
        table.add_column("shot", footer="spent")
        table.add_column("state", footer=f"{dollars(self.spent)} of {dollars(self.estimate)} estimated")
        table.add_column("detail")
        for shot, (state, detail) in self.states.items():
            table.add_row(shot, f"[{_STYLE.get(state, 'white')}]{state}[/]", detail[:60])
        return table
