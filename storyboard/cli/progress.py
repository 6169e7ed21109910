"""What a render shows while it runs: a live display on a terminal, plain
lines on a pipe. Fed by the executor's events; prints to stderr.

Real Kling tasks take minutes, so the live display keeps every shot looking
alive: an overall bar, money spent out of money planned, and per shot its
state, how long it has been at it, and how long tasks of its kind typically
take (learnt by the poll pacer, passed in the ``processing`` event's detail).
"""

from __future__ import annotations

import math
import sys
import time
from decimal import Decimal

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..errors import printable
from ..plan.prices import dollars
from ..plan.types import Plan
from .streams import terminal

_STYLE = {"done": "green", "cached": "cyan", "failed": "red", "skipped": "yellow", "retrying": "yellow"}
_FINAL = ("done", "cached", "failed", "skipped")
_WORKING = ("uploading", "submitting", "submitted", "created", "processing", "downloading", "retrying")


def held_until(state: str, detail: str, now: float) -> tuple[str, float] | None:
    """``waiting`` / ``rate limit 5/min, next submit in 48 s`` → (``rate limit 5/min``, now + 48)."""
    limit, sep, rest = detail.partition(", next submit in ")
    if state != "waiting" or not sep or not limit.startswith("rate limit") or not rest.removesuffix(" s").isdigit():
        return None
    return limit, now + int(rest.removesuffix(" s"))


def clock_text(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


class Progress:
    def __init__(self, plan: Plan, estimate: Decimal, file=None, force_terminal: bool | None = None,
                 now=time.monotonic):
        self.plan = plan
        self.estimate = estimate
        self.spent = Decimal(0)
        jobs = [*plan.elements, *plan.all_jobs]  # elements (`element:KEY`) are made first
        self.states: dict[str, tuple[str, str]] = {job.label: ("waiting", "") for job in jobs}
        self.costs = {job.label: job.cost or Decimal(0) for job in jobs}
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.typical: dict[str, str] = {}
        self.now = now
        self.begun = now()
        self.console = Console(file=file or terminal(sys.stderr), highlight=False, force_terminal=force_terminal)
        self.live: Live | None = None
        self.held: dict[str, tuple[str, float]] = {}  # shot → (rate limit, when its submit may go)

    def __enter__(self) -> "Progress":
        if self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=4, transient=False,
                             get_renderable=self._render)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.__exit__(*exc)

    def __call__(self, shot: str, state: str, detail: str) -> None:
        if state == "submitted":
            self.spent += self.costs[shot]
        if state in _WORKING:
            self.started.setdefault(shot, self.now())
        if state in _FINAL:
            self.ended.setdefault(shot, self.now())
        if detail.startswith("typically "):
            seconds = detail.removeprefix("typically ").removesuffix(" s")
            self.typical[shot] = clock_text(float(seconds)) if seconds.replace(".", "", 1).isdigit() else seconds
            detail = ""
        if self.states.get(shot) == (state, detail):
            return
        self.states[shot] = (state, detail)
        held = held_until(state, detail, self.now())
        if held:
            self.held[shot] = held
        if self.live is not None:
            self.live.refresh()
        else:
            line = f"{shot}: {state}" + (f": {detail}" if held else f" ({detail})" if detail else "")
            self.console.print(printable(line, lines=False), markup=False, soft_wrap=True)

    def _elapsed(self, shot: str) -> str:
        if shot not in self.started:
            return ""
        return clock_text(self.ended.get(shot, self.now()) - self.started[shot])

    def _render(self) -> Group:
        return Group(self._overall(), self._table())

    def _overall(self) -> Table:
        done = sum(1 for state, _ in self.states.values() if state in _FINAL)
        line = Table.grid(padding=(0, 1))
        line.add_row(ProgressBar(total=max(1, len(self.states)), completed=done, width=24),
                     Text(f"{done}/{len(self.states)} shots · {clock_text(self.now() - self.begun)} · "
                          f"spent {dollars(self.spent)} of {dollars(self.estimate)} estimated"))
        return line

    def _table(self) -> Table:
        table = Table(title=Text(printable(f"{self.plan.title or 'render'} on {self.plan.provider}", lines=False)),
                      title_justify="left")
        table.add_column("shot", overflow="fold")
        table.add_column("state", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("typical", justify="right", no_wrap=True)
        table.add_column("detail", overflow="ellipsis", no_wrap=True, max_width=40)
        for shot, (state, detail) in self.states.items():
            # Shot ids and details (a provider's message) are text, never markup (a `[/]` in them must not
            # restyle, or break, the table), with control characters escaped: rich passes ESC through.
            if state == "waiting" and shot in self.held:  # counted down, as the rate limit lets it go
                limit, at = self.held[shot]
                detail = f"{limit}, next submit in {max(0, math.ceil(at - self.now()))} s"
            table.add_row(Text(printable(shot, lines=False)), Text(state, style=_STYLE.get(state, "white")),
                          self._elapsed(shot), self.typical.get(shot, ""), Text(printable(detail, lines=False)))
        return table
