"""Render against the emulator over real loopback HTTP: never pay twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storyboard.providers.emulator import Emulator, Fault
from storyboard.format.media import inspect_file
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-test-DO-NOT-LEAK-4f1c9a"
FAST = Options(concurrency=6, rate=0)


@pytest.fixture
def emulator():
    with Emulator(task_seconds=0.3) as emu:
        yield emu


@pytest.fixture
def env(emulator):
    return {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}


def render(path, env, **kw):
    kw.setdefault("options", FAST)
    return render_project(str(path), env=env, **kw)


def total_submits(emulator) -> int:
    return emulator.stats()["total_submits"]


def test_full_render_then_nothing_then_exactly_the_changed_shot(lighthouse, emulator, env):
    first = render(lighthouse, env)
    assert [o.state for o in first.report.outcomes] == ["done"] * 6
    assert total_submits(emulator) == 7  # and Mara's element
    assert str(first.report.spent) == "4.7924"
    for outcome in first.report.outcomes:
        info = inspect_file(outcome.clip.path)
        assert info.kind == "video" and info.duration >= outcome.job.duration

    second = render(lighthouse, env)
    assert [o.state for o in second.report.outcomes] == ["cached"] * 6
    assert total_submits(emulator) == 7 and second.report.spent == 0

    story = lighthouse / "storyboard.yaml"
    story.write_text(story.read_text().replace("Gulls circle the lighthouse", "Gulls wheel round the lighthouse"))
    third = render(lighthouse, env)
    assert total_submits(emulator) == 8
    assert [o.job.shot for o in third.report.outcomes if o.state == "done"] == ["credits"]
    assert all(count == 1 for count in emulator.submits.values())


def test_lock_records_every_shot(lighthouse, env):
    result = render(lighthouse, env)
    lock = json.loads((lighthouse / "storyboard.lock").read_text())
    assert sorted(lock["shots"]) == sorted(j.shot for j in result.compiled.plan.jobs)
    entry = lock["shots"]["storm"]
    job = result.compiled.plan.job("storm")
    assert entry["key"] == job.key and entry["cost"] == "0.84" and entry["model"] == job.model
    assert entry["clip"].startswith("sha256:") and entry["task_id"] and entry["duration"] > 5
    before = (lighthouse / "storyboard.lock").read_text()
    render(lighthouse, env)
    assert (lighthouse / "storyboard.lock").read_text() == before  # stable


def test_429_on_submit_is_retried_and_makes_one_task(project, emulator, env):
    emulator.add_fault(Fault("submit", "429", times=1, retry_after=0))
    path = project("version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n")
    result = render(path, env)
    assert result.report.outcomes[0].state == "done"
    assert total_submits(emulator) == 1


def test_503_on_polls_is_retried(project, emulator, env):
    emulator.add_fault(Fault("poll", "503", times=3, retry_after=0))
    path = project("version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n")
    assert render(path, env).report.outcomes[0].state == "done"
    assert total_submits(emulator) == 1


def test_truncated_download_is_retried_and_never_cached(project, emulator, env):
    emulator.add_fault(Fault("download", "truncate", times=2))
    path = project("version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n")
    outcome = render(path, env).report.outcomes[0]
    assert outcome.state == "done"
    assert emulator.stats()["requests"]["download"] == 3
    info = inspect_file(outcome.clip.path)
    assert info.duration and info.duration >= 5


def test_failed_task_reports_message_and_line_and_caches_nothing(project, emulator, env, cli, monkeypatch):
    emulator.add_fault(Fault("submit", "fail", times=1, match="storm"))
    path = project(
        "version: 1\nshots:\n  - id: calm\n    prompt: A calm sea.\n  - id: storm\n    prompt: A storm at sea.\n"
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = cli("render", str(path), "--rate", "0", "--keep-going")
    assert result.code == 1
    assert f"{path}:5:5: shots[1]: the provider says: The content may violate our policy" in result.err
    assert "1 rendered, 0 from the cache, 1 failed" in result.out
    again = render(path, env)
    assert {o.job.shot: o.state for o in again.report.outcomes} == {"calm": "cached", "storm": "done"}
    assert not (path.parent / ".storyboard" / "journal").exists() or not list(
        (path.parent / ".storyboard" / "journal").iterdir()
    )


def test_without_keep_going_a_failure_stops_new_submits(project, emulator, env):
    emulator.add_fault(Fault("submit", "fail", times=1, match="first"))
    shots = "".join(f"  - id: s{i}\n    prompt: {'first' if i == 0 else 'other'} shot {i}\n" for i in range(4))
    path = project("version: 1\nshots:\n" + shots)
    report = render(path, env, options=Options(concurrency=1, rate=0)).report
    assert [o.state for o in report.outcomes] == ["failed", "skipped", "skipped", "skipped"]
    assert total_submits(emulator) == 1


def test_dropped_submit_is_in_doubt_and_never_resubmitted_silently(project, emulator, env):
    emulator.add_fault(Fault("submit", "drop", times=1))
    path = project("version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n")
    first = render(path, env).report.outcomes[0]
    assert first.state == "failed" and "a task may exist" in first.message and "--resubmit a" in first.message
    assert total_submits(emulator) == 1
    second = render(path, env).report.outcomes[0]
    assert second.state == "failed" and "a task may exist" in second.message
    assert total_submits(emulator) == 1
    third = render(path, env, resubmit=("a",)).report.outcomes[0]
    assert third.state == "done" and total_submits(emulator) == 2


def test_budget_guard_refuses_before_any_request(lighthouse, emulator, env, cli, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = cli("render", str(lighthouse), "--max-cost", "1.00")
    assert result.code == 4
    assert "$4.792" in result.err and "--max-cost $1.000" in result.err
    assert emulator.stats()["requests"] == {} and total_submits(emulator) == 0


def test_missing_api_key_is_a_clear_error_before_anything(lighthouse, emulator, cli, monkeypatch):
    monkeypatch.setenv("WAVESPEED_BASE_URL", emulator.url)
    result = cli("render", str(lighthouse))
    assert result.code == 1 and "WAVESPEED_API_KEY is not set" in result.err
    assert emulator.stats()["requests"] == {}


def test_the_key_appears_in_no_file_written(lighthouse, env, emulator):
    emulator.add_fault(Fault("submit", "fail", times=1, match="Gulls"))
    render(lighthouse, env, options=Options(concurrency=6, rate=0, keep_going=True))
    for path in lighthouse.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_sigkill_mid_flight_then_rerun_pays_once(lighthouse, tmp_path):
    with Emulator(task_seconds=3.0) as emulator:
        env = {**os.environ, "WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
        cmd = [sys.executable, "-m", "storyboard", "render", str(lighthouse), "--rate", "0", "--concurrency", "6"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        journal = lighthouse / ".storyboard" / "journal"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            entries = [json.loads(p.read_text()) for p in journal.glob("*.json")] if journal.exists() else []
            # Five at once: dawn starts from rescue's last frame, so it waits for rescue's clip.
            if len(entries) == 5 and all(e["state"] == "submitted" for e in entries):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert total_submits(emulator) == 6  # Mara's element first, made and in the lock
        assert len(list(journal.glob("*.json"))) == 5
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert "6 rendered (5 resumed)" in rerun.stdout
        assert total_submits(emulator) == 7
        assert all(count == 1 for count in emulator.submits.values())
        assert list(journal.glob("*.json")) == []


def test_preview_renders_cards_of_the_planned_shape(lighthouse):
    result = render_project(str(lighthouse), provider="preview", env={})
    assert [o.state for o in result.report.outcomes] == ["done"] * 6
    for outcome in result.report.outcomes:
        info = inspect_file(outcome.clip.path)
        assert abs(info.duration - outcome.job.duration) < 0.1
    assert not (lighthouse / "storyboard.lock").exists()  # previews are not paid renders
    film = inspect_file(result.film)
    assert result.film == lighthouse / "renders" / "lighthouse.mp4" and abs(film.duration - 35) < 1 / 24
    again = render_project(str(lighthouse), provider="preview", env={})
    assert [o.state for o in again.report.outcomes] == ["cached"] * 6


def test_cache_corruption_is_a_miss_with_a_warning_and_verify_finds_it(project, emulator, env, cli):
    path = project("version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n")
    clip = render(path, env).report.outcomes[0].clip.path
    clip.write_bytes(clip.read_bytes()[:-10] + b"0123456789")
    result = cli("cache", "verify", str(path.parent))
    assert result.code == 1 and "corrupt" in result.err
    again = render(path, env)
    assert any("corrupt" in w for w in again.warnings)
    # paid is forever: the clip comes back from the provider by its task id, not from a second submit
    assert again.report.outcomes[0].state == "cached" and total_submits(emulator) == 1
    assert cli("cache", "verify", str(path.parent)).code == 0


def test_cache_can_be_shared_by_flag_or_environment(project, env, tmp_path, emulator, monkeypatch):
    shared = tmp_path / "shared-cache"
    a = project("version: 1\nshots:\n  - id: a\n    prompt: Same shot.\n", name="a")
    b = project("version: 1\nshots:\n  - id: a\n    prompt: Same shot.\n", name="b")
    render(a, env, cache=str(shared))
    monkeypatch.setenv("STORYBOARD_CACHE", str(shared))
    assert render(b, env).report.outcomes[0].state == "cached"
    assert total_submits(emulator) == 1


def journal_states(journal: Path) -> list[str | None]:
    """The state of each journal entry (None for one being replaced as we read)."""
    states = []
    for entry in journal.glob("*.json"):
        try:
            states.append(json.loads(entry.read_text()).get("state"))
        except (OSError, ValueError):
            states.append(None)
    return states


def test_ctrl_c_stops_cleanly_and_the_rerun_resumes(lighthouse):
    with Emulator(task_seconds=3.0) as emulator:
        env = {**os.environ, "WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
        cmd = [sys.executable, "-m", "storyboard", "render", str(lighthouse), "--rate", "0", "--concurrency", "6"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        journal = lighthouse / ".storyboard" / "journal"
        deadline = time.monotonic() + 30
        # Wait for the state the test needs: five tasks whose ids are journalled (dawn waits for
        # rescue). A fixed pause after five entries appear could land while some were still
        # "submitting", and a rerun rightly refuses to guess about those (see the test below).
        while time.monotonic() < deadline and journal_states(journal).count("submitted") < 5:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "run the same command again to resume" in err and "Traceback" not in err
        assert len(list(journal.glob("*.json"))) == 5
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0 and "5 resumed" in rerun.stdout
        assert emulator.stats()["total_submits"] == 7  # Mara's element, once


STALLED = """version: 1
shots:
  - id: calm
    prompt: Calm harbour.
  - id: storm
    prompt: Stalled storm.
"""


def test_ctrl_c_while_a_submit_is_unanswered_leaves_it_in_doubt_and_the_rerun_never_pays_again(project):
    # The submit of `storm` reached the provider (its task exists) but its answer is late:
    # Ctrl-C then must leave the journal saying a task may exist, and a rerun must ask, not pay.
    path = project(STALLED)
    stall = Fault("submit", "stall", match="Stalled", seconds=20)
    with Emulator(task_seconds=1.0, faults=[stall]) as emulator:
        env = {**os.environ, "WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
        cmd = [sys.executable, "-m", "storyboard", "render", str(path), "--rate", "0", "--concurrency", "2"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        journal = path.parent / ".storyboard" / "journal"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                emulator.stats()["tasks"] == 2 and sorted(journal_states(journal)) == ["submitted", "submitting"]):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert sorted(journal_states(journal)) == ["submitted", "submitting"]
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 1, rerun.stderr
        assert "storm" in rerun.stderr and "may exist and be paid for" in rerun.stderr
        assert "1 resumed" in rerun.stdout  # calm's task is followed, not paid again
        assert emulator.stats()["total_submits"] == 2


def test_ctrl_c_while_waiting_after_a_429_leaves_no_doubt(project):
    # A 429 proves the submit created no task; Ctrl-C while waiting to try again must not leave the
    # job "submitting" (a task may exist), or the rerun would refuse it as in doubt.
    import threading

    path = project("version: 1\nshots:\n  - id: storm\n    prompt: Stalled storm.\n")
    limited = Fault("submit", "429", times=1, match="Stalled", retry_after=50)
    with Emulator(task_seconds=1.0, faults=[limited]) as emulator:
        env = {**os.environ, "WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
        cmd = [sys.executable, "-m", "storyboard", "render", str(path), "--rate", "0", "--concurrency", "2"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        waiting = threading.Event()
        lines: list[str] = []

        def read() -> None:
            for line in proc.stderr:
                lines.append(line)
                if line.startswith("storm: retrying"):
                    waiting.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert waiting.wait(30), "".join(lines)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        reader.join(timeout=10)
        assert proc.returncode == 130, "".join(lines)
        journal = path.parent / ".storyboard" / "journal"
        assert "submitting" not in journal_states(journal), "".join(lines)
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert emulator.stats()["total_submits"] == 1  # the 429 created nothing; the rerun's submit did
