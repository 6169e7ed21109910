"""The render client's work per job, counted in requests (never timed): tasks
sent together are not each polled densely; one per kind is, the others are
woken when it finishes."""

from __future__ import annotations

from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

JOBS = 6


def wave(n: int) -> str:
    shots = "".join(f"  - id: s{i}\n    prompt: Job number {i}.\n    duration: 5\n" for i in range(n))
    return f"version: 1\nshots:\n{shots}"


def test_a_wave_of_equal_tasks_costs_about_one_poll_each_beyond_its_leader(project):
    path = project(wave(JOBS))
    with Emulator(task_seconds=1.5) as emulator:
        env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": "sk-cpu"}
        result = render_project(str(path), env=env, options=Options(concurrency=JOBS, rate=0), engine=None)
        polls = emulator.stats()["requests"]["poll"]
    assert result.report.count("done") == JOBS
    # The leader is polled every 0.1 s of its first 2 s (~15 polls); each of the others a few
    # times. Polling every task at the leader's pace took ~15 each (~90 in all).
    assert polls <= 15 + 3 * (JOBS - 1) + 5, polls
