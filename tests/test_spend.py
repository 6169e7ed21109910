"""Money and time while rendering (issue 25, items 1-3): asked before paying on a
terminal, a budget in the storyboard, the take limit, why a job waits, and
rendering only some shots. Against the emulator, over loopback."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from storyboard.providers.emulator import Emulator
from storyboard.render.timing import RateLimiter

from conftest import ROOT

KEY = "sk-spend-key"
I2V = "kwaivgi/kling-video-o3-pro/image-to-video"
FILM = """version: 1
shots:
  - id: s1
    prompt: A lighthouse keeper climbs the stairs at dusk.
  - id: s2
    prompt: Waves break over the rocks.
"""
CHAIN = f"""version: 1
shots:
  - id: a
    prompt: The keeper climbs the stairs.
  - id: b
    model: {I2V}
    prompt: The keeper lights the lamp.
    image: {{shot: a, frame: last}}
  - id: c
    prompt: The lamp turns over the sea.
"""


@pytest.fixture
def emulator(monkeypatch):
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        yield emu


def submits(emu) -> int:
    return emu.stats()["total_submits"]


# -- 1. asked before paying, on a terminal --

def on_a_terminal(args: list[str], emu, answer: str | None = None, timeout: float = 90) -> tuple[int, str]:
    """``storyboard ARGS`` with its standard streams on a pseudo-terminal; ``answer`` is typed
    once the question is asked. The exit code and what the terminal showed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY,
           "TERM": "dumb"}
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "storyboard", *args], env=env, stdin=child, stdout=child,
                            stderr=child)
    os.close(child)
    seen, answered, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the child has closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if answer is not None and not answered and b"Enter a value:" in seen:
                os.write(main, answer.encode() + b"\n")
                answered = True
            if not ready and proc.poll() is not None:
                break
        else:
            raise AssertionError(f"no end within {timeout} s; the terminal showed: {seen.decode(errors='replace')}")
        return proc.wait(timeout=30), seen.decode(errors="replace").replace("\r\n", "\n")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_terminal_is_asked_before_the_first_submit_and_only_yes_pays(project, emulator):
    path = str(project(FILM))
    code, shown = on_a_terminal(["render", path, "--rate", "0", "--no-stitch"], emulator, answer="y")
    assert "Do you want to pay $1.120 for 2 jobs?" in shown and "Only 'yes' will be accepted" in shown
    assert "s1" in shown and "s2" in shown and "$0.560" in shown
    assert code == 1 and "cancelled" in shown and submits(emulator) == 0

    code, shown = on_a_terminal(["render", path, "--rate", "0", "--no-stitch", "--takes", "s1=2"], emulator,
                                answer="yes")
    assert "Do you want to pay $1.680 for 3 jobs?" in shown and "s1#2" in shown  # takes included
    assert code == 0 and submits(emulator) == 3

    code, shown = on_a_terminal(["render", path, "--rate", "0", "--no-stitch"], emulator)  # nothing to pay: no question
    assert code == 0 and "Do you want" not in shown and submits(emulator) == 3

    Path(path).write_text(FILM.replace("Waves break", "Waves crash"))
    code, shown = on_a_terminal(["render", path, "--rate", "0", "--no-stitch", "--yes"], emulator)
    assert code == 0 and "Do you want" not in shown and submits(emulator) == 4


def test_without_a_terminal_nothing_is_asked(project, emulator):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "storyboard", "render", str(project(FILM)), "--rate", "0",
                             "--no-stitch"], env=env, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "Do you want" not in result.stdout + result.stderr and submits(emulator) == 2


def test_the_storyboard_sets_a_budget_and_max_cost_overrides_it(project, emulator, cli):
    path = project(FILM.replace("version: 1\n", "version: 1\nmax_cost: 0.75\n"))
    refused = cli("render", str(path), "--rate", "0", "--no-stitch")
    assert refused.code == 4 and "more than max_cost in storyboard.yaml $0.750" in refused.err
    assert "$1.120" in refused.err and submits(emulator) == 0
    done = cli("render", str(path), "--rate", "0", "--no-stitch", "--max-cost", "1.2")
    assert done.code == 0, done.err
    assert submits(emulator) == 2


def test_a_take_past_twenty_is_paid_for_only_with_yes(project, emulator, cli):
    path = project(FILM)
    refused = cli("render", str(path), "--rate", "0", "--no-stitch", "--takes", "s1=22")
    assert refused.code == 2 and "--takes s1=22 asks for 2 takes of `s1` past the limit of 20" in refused.err
    assert "--yes" in refused.err and submits(emulator) == 0
    text = path.read_text().replace("  - id: s2\n", "  - id: s2\n    take: 21\n")
    path.write_text(text)
    refused = cli("render", str(path), "--rate", "0", "--no-stitch")
    assert refused.code == 2 and "chooses take 21" in refused.err and submits(emulator) == 0
    done = cli("render", str(path), "--rate", "0", "--no-stitch", "--yes")
    assert done.code == 0, done.err
    assert submits(emulator) == 2  # s1, and s2's take 21 alone
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    assert list(lock["takes"]["s2"]) == ["21"]


# -- 2. why a job waits --

class FrozenClock:
    """Time that does not pass: each acquire is told its own wait."""

    def now(self) -> float:
        return 100.0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def test_every_job_held_by_the_rate_limit_knows_its_wait():
    limiter = RateLimiter(2, FrozenClock())
    told: list[tuple[int, float]] = []

    async def go():
        await asyncio.gather(*(limiter.acquire(lambda wait, n=n: told.append((n, wait))) for n in range(5)))

    asyncio.run(go())
    assert told == [(2, 60.0), (3, 60.0), (4, 120.0)]
    assert limiter.waiting_text(47.2) == "rate limit 2/min, next submit in 48 s"


def test_a_render_held_by_the_rate_limit_says_waiting_not_uploading(project, emulator):
    from storyboard.cli.progress import Progress
    from storyboard.render.executor import Options
    from storyboard.render.run import render_project
    from storyboard.render.timing import FakeClock

    path = project(FILM)
    shown = io.StringIO()
    result = render_project(str(path), options=Options(concurrency=2, rate=1), clock=FakeClock(), engine=None,
                            progress=lambda plan, estimate: Progress(plan, estimate, file=shown, force_terminal=False))
    assert not result.report.failed and submits(emulator) == 2
    lines = shown.getvalue().splitlines()
    waiting = [line for line in lines if "waiting" in line]
    # Two tasks at once: whichever asks second waits (the order of the two is the scheduler's).
    assert len(waiting) == 1 and waiting[0].split(": ", 1)[1].startswith("waiting: rate limit 1/min, next submit in "), lines
    assert 1 <= int(waiting[0].rsplit(" ", 2)[1]) <= 60
    held = waiting[0].split(":", 1)[0]
    assert any(line.startswith(f"{held}: submitting") for line in lines[lines.index(waiting[0]) + 1:])


def test_the_live_display_counts_the_wait_down():
    from rich.console import Console

    from storyboard.cli.progress import Progress
    from storyboard.plan.project import compile_project

    plan = compile_project(str(ROOT / "examples" / "lighthouse")).plan
    now = [10.0]
    progress = Progress(plan, Decimal("1"), file=io.StringIO(), force_terminal=True, now=lambda: now[0])
    progress("storm", "waiting", "rate limit 5/min, next submit in 48 s")
    now[0] = 30.0
    out = io.StringIO()
    Console(file=out, width=120, force_terminal=False).print(progress._table())
    assert "rate limit 5/min, next submit in 28 s" in out.getvalue()
    plain = io.StringIO()
    lines = Progress(plan, Decimal("1"), file=plain, force_terminal=False)
    lines("storm", "waiting", "rate limit 5/min, next submit in 48 s")
    assert plain.getvalue() == "storm: waiting: rate limit 5/min, next submit in 48 s\n"


def test_the_emulator_banner_says_how_to_render_at_full_speed():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "storyboard", "emulate", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        banner = [proc.stdout.readline() for _ in range(3)]
    finally:
        proc.kill()
        proc.wait()
    assert any("storyboard render --rate 0" in line for line in banner), banner


# -- 3. only some shots --

def test_only_renders_the_shots_named_and_what_they_are_built_on(project, emulator, cli):
    path = project(CHAIN)
    result = cli("render", str(path), "--only", "b", "--rate", "0")
    assert result.code == 0, result.err
    assert submits(emulator) == 2  # a (b takes its last frame) and b; not c
    assert "the film was not cut: 1 shot is not rendered (c)" in result.out
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    assert sorted(lock["shots"]) == ["a", "b"]
    assert not (path.parent / "renders").exists() or not any((path.parent / "renders").iterdir())

    result = cli("render", "--rate", "0", "--json", "--only", "c", str(path))  # PATH after the shots works too
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert submits(emulator) == 3 and summary["rendered"] == 1 and summary["not_cut"] == []
    assert summary["film"] and Path(summary["film"]).is_file()  # every shot of the film is there: it is cut


def test_only_takes_a_take_by_name(project, emulator, cli):
    path = project(FILM)
    result = cli("render", str(path), "--only", "s2#3", "--rate", "0", "--no-stitch")
    assert result.code == 0, result.err
    assert submits(emulator) == 1
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    assert lock.get("shots", {}) == {} and list(lock["takes"]["s2"]) == ["3"]


def test_only_an_unknown_shot_is_refused_naming_the_known_ones(project, emulator, cli):
    path = project(CHAIN)
    close = cli("render", str(path), "--only", "bb")
    assert close.code == 2 and "--only bb: there is no such shot" in close.err and "did you mean `b`?" in close.err
    far = cli("render", str(path), "--only", "a", "--only", "zzz")
    assert far.code == 2 and "the shots are: a, b, c" in far.err
    assert submits(emulator) == 0


def test_the_question_never_shows_an_unknown_cost_as_zero():
    from storyboard.cli.confirm import question
    from storyboard.plan.types import Job, Source
    from storyboard.render.quote import Quote

    def job(shot: str, cost):
        return Job(shot=shot, key=shot[0] * 64, model="kwaivgi/kling-video-o3-pro/video-edit", request={},
                   duration=5, cost=cost, source=Source(file="s.yaml", line=1, column=1))

    unknown = Quote([job("e", None)], Decimal(0), ["e"])
    assert unknown.text == "an unknown amount for 1 job"
    assert "Do you want to pay an unknown amount for 1 job?" in question(unknown) and "$0.000" not in question(unknown)
    mixed = Quote([job("a", Decimal("0.56")), job("e", None)], Decimal("0.56"), ["e"])
    assert mixed.text == "$0.560 and an unknown amount for 2 jobs"
    assert "unknown" in question(mixed).splitlines()[3]  # e's row
