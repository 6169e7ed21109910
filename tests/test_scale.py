"""Commands stay linear in the number of shots: what each does per shot is a
look-up, never a scan of every shot. (Timings are in benchmarks/plan_scale.py;
these count the work instead.)"""

from __future__ import annotations

import io
import json

from hypothesis import given, settings, strategies as st
from rich.cells import cell_len
from rich.console import Console

from storyboard.catalog import load_catalog
from storyboard.cli.display import Column, plan_columns, plan_rows, print_plan, rich_table, table_lines
from storyboard.plan.project import compile_project
from storyboard.plan.takes import with_takes
from storyboard.plan.types import Job
from storyboard.render.lock import Lock, LockEntry, lock_path, lock_text
from storyboard.review.takes import list_takes
from storyboard.store.cache import ClipCache

SHOTS = 120


def many_shots(n: int) -> str:
    shots = "".join(f"  - id: s{i:04d}\n    prompt: Shot number {i}.\n    duration: {5 if i % 2 else 10}\n"
                    for i in range(n))
    return f"version: 1\ntitle: Many\nshots:\n{shots}"


def counting(monkeypatch, cls, name: str) -> list[int]:
    """Count the calls of ``cls.name`` (a method or a property)."""
    calls = [0]
    original = getattr(cls, name) if not isinstance(cls.__dict__.get(name), property) else cls.__dict__[name]
    if isinstance(original, property):
        def getter(self):
            calls[0] += 1
            return original.fget(self)
        monkeypatch.setattr(cls, name, property(getter))
    else:
        def method(self, *args, **kwargs):
            calls[0] += 1
            return original(self, *args, **kwargs)
        monkeypatch.setattr(cls, name, method)
    return calls


def test_the_plan_table_never_compares_jobs(project, monkeypatch):
    plan = compile_project(str(project(many_shots(SHOTS))), takes={"s0003": 3}).plan
    compared = counting(monkeypatch, Job, "__eq__")
    out = io.StringIO()
    print_plan(plan, out)
    assert compared[0] == 0  # each job was compared with every film job: quadratic
    text = out.getvalue()
    assert "s0119" in text and "s0003#2 (other take)" in text and "s0003#3 (other take)" in text


def test_looking_up_every_job_reads_each_label_a_bounded_number_of_times(project, monkeypatch):
    plan = compile_project(str(project(many_shots(SHOTS))), takes={"all": 2}).plan
    labels = [job.label for job in plan.all_jobs]
    read = counting(monkeypatch, Job, "label")
    found = [plan.find(label) for label in labels] + [plan.job(job.shot) for job in plan.jobs]
    assert [j.label for j in found[:len(labels)]] == labels and found[len(labels):] == plan.jobs
    assert read[0] <= 3 * len(labels)  # a scan per look-up read n²/2 labels


def test_a_copy_with_other_jobs_is_looked_up_in_its_own_jobs(project):
    path = project(many_shots(5))
    plan = compile_project(str(path)).plan
    assert plan.job("s0000") is plan.jobs[0]  # the index is built
    fewer = plan.model_copy(update={"jobs": plan.jobs[1:]})
    assert fewer.job("s0000") is None and fewer.job("s0001") is plan.jobs[1]
    taken = with_takes(plan, {"s0002": 2}, load_catalog())
    assert plan.find("s0002#2") is None and taken.find("s0002#2").key == taken.takes[0].key
    assert taken.job("s0002#2") is taken.takes[0] and taken.job("s0002") is plan.jobs[2]
    assert plan == compile_project(str(path)).plan  # a built index is not part of the plan


def test_takes_reads_the_lock_once_however_many_shots(project, monkeypatch, tmp_path):
    path = project(many_shots(SHOTS))
    compiled = compile_project(str(path))
    lock = Lock()
    for job in compiled.plan.jobs:
        lock.put(job.shot, 1, LockEntry(key=job.key, model=job.model, origin=compiled.plan.origin, task_id="t",
                                        clip="sha256:" + "0" * 64, duration=job.duration, cost=job.cost))
    lock_path(path).write_text(lock_text(lock))
    entries = counting(monkeypatch, Lock, "entries")
    rows = list_takes(compiled, ClipCache.at(tmp_path / "cache"), [])
    assert len(rows) == SHOTS and all(r.paid and r.chosen for r in rows)
    assert entries[0] <= 3  # it was read whole once per shot


cells = st.text(st.sampled_from("abz09-_.#$ ←界"), min_size=0, max_size=14)


@settings(max_examples=80, deadline=2000)
@given(spec=st.lists(st.tuples(cells, cells, st.booleans(), st.booleans()), min_size=1, max_size=7),
       rows=st.data(), width=st.integers(20, 160))
def test_table_lines_are_what_rich_prints(spec, rows, width):
    columns = [Column(header or "h", footer, right, no_wrap) for header, footer, right, no_wrap in spec]
    body = rows.draw(st.lists(st.lists(cells, min_size=len(columns), max_size=len(columns)), max_size=6))
    lines = table_lines(columns, body, width)
    out = io.StringIO()
    Console(file=out, width=width, no_color=True, color_system=None, highlight=False).print(rich_table(columns, body))
    texts = [[c.header for c in columns], *body, [c.footer for c in columns]]
    natural = sum(max(cell_len(row[i]) for row in texts) for i in range(len(columns))) + 3 * (len(columns) - 1)
    plain = all(cell == cell.strip() for row in texts for cell in row)
    assert (lines is not None) == (natural <= width and plain)
    if lines is not None:  # it fits: the same text, line for line
        assert "\n".join(lines) + "\n" == out.getvalue()


def test_the_plan_table_is_what_rich_prints_for_a_real_plan(lighthouse):
    plan = compile_project(str(lighthouse), takes={"storm": 2}).plan
    for width, compact in ((200, False), (100, False)):
        lines = table_lines(plan_columns(plan), plan_rows(plan, compact), width)
        out = io.StringIO()
        Console(file=out, width=width, no_color=True, color_system=None, highlight=False).print(
            rich_table(plan_columns(plan), plan_rows(plan, compact)))
        assert lines is not None and "\n".join(lines) + "\n" == out.getvalue()
    assert json.loads(plan.to_json())["takes"]
