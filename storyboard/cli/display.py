"""How plans look in a terminal: a rich table, with no colour on a pipe."""

from __future__ import annotations

import os
import sys

from rich import box
from rich.console import Console
from rich.table import Table

from ..plan.graph import dependencies_in, dependency_label
from ..plan.types import Plan
from ..plan.prices import dollars


def console(file=None) -> Console:
    """A console that colours only a real terminal (and honours NO_COLOR)."""
    file = file or sys.stdout
    con = Console(file=file, highlight=False)
    if not con.is_terminal:  # a pipe: wide, unless COLUMNS says how wide the reader is
        width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 200
        con = Console(file=file, highlight=False, no_color=True, width=width, color_system=None)
    return con


_TASKS = {"reference-to-video": "ref", "image-to-video": "image", "text-to-video": "text", "video-edit": "edit"}


def short_model(model: str, compact: bool = False) -> str:
    """``kwaivgi/kling-video-o3-pro/reference-to-video`` → ``o3-pro/reference-to-video``, or
    ``o3-pro ref`` when compact (a terminal of 80 columns)."""
    name = model.removeprefix("kwaivgi/").removeprefix("kling-video-")
    family, _, task = name.partition("/")
    if not compact or not task:
        return name
    return f"{family} {_TASKS.get(task, task)}"


_AUDIO = {"generated": "sound", "original": "original", "none": "-"}


def plan_table(plan: Plan, compact: bool = False) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_footer=True, show_edge=False, pad_edge=False)
    table.add_column("shot", footer="total", overflow="fold")
    table.add_column("model", no_wrap=True)
    table.add_column("length", justify="right", footer=f"{plan.cut.duration:g} s", no_wrap=True)
    table.add_column("audio")
    table.add_column("video")
    total = dollars(plan.total_cost)
    if plan.unpriced:  # a job whose cost cannot be known is never shown as $0
        total = "unknown" if len(plan.unpriced) == len(plan.all_jobs) else f"{total} + unknown"
    table.add_column("cost", justify="right", footer=total)
    table.add_column("key", no_wrap=True)
    audio = {c.shot: _AUDIO[c.audio] for c in plan.cut.shots}
    for job in plan.all_jobs:
        video = "ref" if "video" in job.request else "-"
        extra = job not in plan.jobs
        inputs = list(dict.fromkeys(dependency_label(item) for _, item in dependencies_in(job.request)))
        name = f"{job.shot}#{job.take} (other take)" if extra else job.label
        table.add_row(
            name + (f" ← {', '.join(inputs)}" if inputs else ""), short_model(job.model, compact),
            f"{job.duration:g} s" if job.duration else "unknown",
            "-" if extra else audio.get(job.shot, "-"), video,
            dollars(job.cost), job.key[:12],
        )
    return table


def print_plan(plan: Plan, file=None) -> None:
    con = console(file)
    title = f"{plan.title}: " if plan.title else ""
    count = len(plan.all_jobs)
    jobs = f"{count} job{'s' if count != 1 else ''}"
    if plan.takes:
        jobs += f" ({len(plan.takes)} other take{'s' if len(plan.takes) != 1 else ''} of shots, not in the film)"
    con.print(f"{title}{jobs} on {plan.provider} ({plan.origin})")
    con.print(plan_table(plan, compact=con.width < 100))
    note = f"Prices: {plan.price_list.name} as of {plan.price_list.as_of}"
    if plan.unpriced:
        note += f"; not priced: {', '.join(plan.unpriced)} (the total leaves them out)"
    con.print(note)
