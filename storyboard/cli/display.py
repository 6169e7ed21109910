"""How plans look in a terminal: a rich table, with no colour on a pipe."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from ..plan.graph import dependencies_in, dependency_label
from ..plan.types import Plan
from ..plan.prices import dollars
from .finishing_display import card_rows, print_deliverables


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


@dataclass(frozen=True)
class Column:
    header: str
    footer: str = ""
    right: bool = False  # justified right (numbers), else left
    no_wrap: bool = False  # rich may fold the others when the table does not fit


def plan_columns(plan: Plan, marks: list[str] | None = None) -> list[Column]:
    total = dollars(plan.total_cost)
    if plan.unpriced:  # a job whose cost cannot be known is never shown as $0
        total = "unknown" if len(plan.unpriced) == len(plan.all_jobs) else f"{total} + unknown"
    state = [Column("state", no_wrap=True)] if marks is not None else []
    return [Column("shot", "total"), Column("model", no_wrap=True),
            Column("length", f"{plan.cut.duration:g} s", right=True, no_wrap=True), Column("audio"), Column("video"),
            Column("cost", total, right=True), *state, Column("key", no_wrap=True)]


def plan_rows(plan: Plan, compact: bool = False, marks: list[str] | None = None) -> list[list[str]]:
    """One row of cells per job, with its mark (cached, paid, to pay) when ``marks`` gives them."""
    rows = _rows(plan, compact)
    if marks is not None:  # the title and end cards, last, are drawn at the cut for nothing
        marks = marks + ["drawn"] * (len(rows) - len(marks))
        rows = [[*row[:-1], mark, row[-1]] for row, mark in zip(rows, marks)]
    return rows


def _rows(plan: Plan, compact: bool = False) -> list[list[str]]:
    """One row of cells per job: the film's jobs, then the other takes."""
    audio = {c.shot: _AUDIO[c.audio] for c in plan.cut.shots}
    # Elements first: the shots that send them wait for them.
    rows = [[e.label, "elements" if compact else short_model(e.model), "-", "-", "-", dollars(e.cost), e.key[:12]]
            for e in plan.elements]
    # Told apart by where they are in the list, not by comparing each job with
    # every film job (quadratic: 88 s for the table of 10,000 shots).
    takes_end = len(plan.jobs) + len(plan.takes)  # then the deliverables' jobs, named SHOT@NAME
    for n, job in enumerate(plan.all_jobs):
        extra = len(plan.jobs) <= n < takes_end
        inputs = list(dict.fromkeys(dependency_label(item) for _, item in dependencies_in(job.request)))
        name = f"{job.shot}#{job.take} (other take)" if extra else job.label
        rows.append([
            name + (f" ← {', '.join(inputs)}" if inputs else ""), short_model(job.model, compact),
            f"{job.duration:g} s" if job.duration else "unknown",
            "-" if extra else audio.get(job.shot.split("@")[0], "-"), "ref" if "video" in job.request else "-",
            dollars(job.cost), job.key[:12],
        ])
    return rows + card_rows(plan)


def plan_table(plan: Plan, compact: bool = False) -> Table:
    """The plan as a rich table (what ``table_lines`` writes faster, when it fits)."""
    return rich_table(plan_columns(plan), plan_rows(plan, compact))


def rich_table(columns: list[Column], rows: list[list[str]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_footer=True, show_edge=False, pad_edge=False)
    for n, column in enumerate(columns):
        table.add_column(column.header, footer=column.footer, justify="right" if column.right else "left",
                         no_wrap=column.no_wrap, overflow="fold" if n == 0 else "ellipsis")
    for row in rows:
        table.add_row(*row)
    return table


def table_lines(columns: list[Column], rows: list[list[str]], width: int) -> list[str] | None:
    """The lines rich prints for this table (box SIMPLE_HEAD, no edge, footer shown),
    written directly: rich lays out and renders each cell, 0.7 ms a row, 7 s for
    10,000 shots. None when rich would have to do more than lay the cells side by
    side: the table is wider than ``width`` (it folds cells), or a cell holds
    what it would read as markup, cannot print as it is, or has spaces at an end."""
    texts = [[c.header for c in columns], *rows, [c.footer for c in columns]]
    if any("[" in cell or not cell.isprintable() or cell != cell.strip() for row in texts for cell in row):
        return None
    sizes = [max(cell_len(row[i]) for row in texts) for i in range(len(columns))]
    total = sum(sizes) + 3 * (len(columns) - 1)  # a space of padding each side of a space between columns
    if total > width:
        return None

    def line(cells: list[str]) -> str:
        out = []
        for cell, column, size in zip(cells, columns, sizes):
            gap = " " * (size - cell_len(cell))
            out.append(gap + cell if column.right else cell + gap)
        return "   ".join(out)

    return [line(texts[0]), "─" * total, *(line(row) for row in rows), " " * total, line(texts[-1])]


def print_plan(plan: Plan, file=None, marks: list[str] | None = None) -> None:
    """The plan as a table; ``marks``: each job's state (cached, paid, to pay), a column of its own."""
    con = console(file)
    title = f"{plan.title}: " if plan.title else ""
    count = len(plan.all_jobs) + len(plan.elements)
    jobs = f"{count} job{'s' if count != 1 else ''}"
    if plan.elements:
        jobs += f" ({len(plan.elements)} Kling element{'s' if len(plan.elements) != 1 else ''}, made once)"
    if plan.takes:
        jobs += f" ({len(plan.takes)} other take{'s' if len(plan.takes) != 1 else ''} of shots, not in the film)"
    con.print(f"{title}{jobs} on {plan.provider} ({plan.origin})", markup=False)
    compact = con.width < 100
    columns, rows = plan_columns(plan, marks), plan_rows(plan, compact, marks)
    if compact and marks is not None:  # 80 columns: the state matters more than the short key
        columns, rows = columns[:-1], [row[:-1] for row in rows]
    lines = table_lines(columns, rows, con.width)
    if lines is None:
        con.print(rich_table(columns, rows))
    else:
        print_lines(con, lines)
    print_deliverables(con, plan)
    note = f"Prices: {plan.price_list.name} as of {plan.price_list.as_of}"
    if plan.unpriced:
        note += f"; not priced: {', '.join(plan.unpriced)} (the total leaves them out)"
    con.print(note, markup=False)


def print_lines(con: Console, lines: list[str]) -> None:
    """A table's lines: its header and footer bold on a terminal, as rich shows them; the rows as they are."""
    con.print(Text(lines[0], style="table.header"))
    con.file.write("\n".join(lines[1:-1]) + "\n")
    con.print(Text(lines[-1], style="table.footer"))
