"""How plans look in a terminal: a rich table, with no colour on a pipe."""

from __future__ import annotations

import sys

from rich import box
from rich.console import Console
from rich.table import Table

from ..plan.types import Plan
from ..plan.prices import dollars


def console(file=None) -> Console:
    """A console that colours only a real terminal (and honours NO_COLOR)."""
    file = file or sys.stdout
    con = Console(file=file, highlight=False)
    if not con.is_terminal:
        con = Console(file=file, highlight=False, no_color=True, width=200, color_system=None)
    return con


def short_model(model: str) -> str:
    return model.removeprefix("kwaivgi/").removeprefix("kling-video-")


_AUDIO = {"generated": "sound", "original": "original", "none": "-"}


def plan_table(plan: Plan) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_footer=True, show_edge=False, pad_edge=False)
    table.add_column("shot", footer="total")
    table.add_column("model")
    table.add_column("duration", justify="right", footer=f"{plan.cut.duration:g} s film")
    table.add_column("audio")
    table.add_column("video")
    total = dollars(plan.total_cost)
    if plan.unpriced:  # a job whose cost cannot be known is never shown as $0
        total = "unknown" if len(plan.unpriced) == len(plan.jobs) else f"{total} + unknown"
    table.add_column("cost", justify="right", footer=total)
    table.add_column("key")
    audio = {c.shot: _AUDIO[c.audio] for c in plan.cut.shots}
    for job in plan.jobs:
        video = "ref" if "video" in job.request else "-"
        table.add_row(
            job.shot, short_model(job.model), f"{job.duration:g} s" if job.duration else "unknown",
            audio.get(job.shot, "-"), video,
            dollars(job.cost), job.key[:12],
        )
    return table


def print_plan(plan: Plan, file=None) -> None:
    con = console(file)
    title = f"{plan.title}: " if plan.title else ""
    jobs = f"{len(plan.jobs)} job{'s' if len(plan.jobs) != 1 else ''}"
    con.print(f"{title}{jobs} on {plan.provider} ({plan.origin})")
    con.print(plan_table(plan))
    note = f"Prices: {plan.price_list.name} as of {plan.price_list.as_of}"
    if plan.unpriced:
        note += f"; not priced: {', '.join(plan.unpriced)} (the total leaves them out)"
    con.print(note)
