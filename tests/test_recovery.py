"""Paid is forever: a clip in the lock is recovered from the provider by its
task id, or refused before any submit; never paid for twice by itself."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time

import httpx
import pytest

from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-recovery-key"
TWO = "version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n  - id: b\n    prompt: Gulls at dawn.\n"


def render(path, emulator, **kw):
    kw.setdefault("options", Options(concurrency=4, rate=0))
    env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
    return render_project(str(path), env=env, **kw)


def forget_clips(path) -> None:
    shutil.rmtree(path.parent / ".storyboard")


def test_a_clone_without_clips_gets_them_back_from_the_provider_for_free(project):
    path = project(TWO)
    with Emulator(task_seconds=0.2) as emu:
        first = render(path, emu)
        film = first.film.read_bytes()
        forget_clips(path)  # as a fresh clone has only the storyboard and the lock
        again = render(path, emu)
        assert [o.state for o in again.report.outcomes] == ["cached", "cached"]
        assert emu.stats()["total_submits"] == 2 and again.report.spent == 0
        assert again.film.read_bytes() == film


def test_the_lock_says_when_each_task_completed(project):
    path = project(TWO)
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu, wall_clock=lambda: 1_800_000_000.0)
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    assert {entry["completed_at"] for entry in lock["shots"].values()} == {"2027-01-15T08:00:00+00:00"}


def test_past_retention_the_render_refuses_before_any_submit_then_repays_on_request(project, cli, monkeypatch):
    path = project(TWO)
    with Emulator(task_seconds=0.2, retention=0.5) as emu:
        render(path, emu, engine=None)
        forget_clips(path)
        time.sleep(0.8)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        refused = cli("render", str(path))
        assert refused.code == 1 and emu.stats()["total_submits"] == 2
        assert "2 shots paid for already cannot be recovered" in refused.err
        assert "a: the provider no longer has task" in refused.err and "re-paying costs $0.560" in refused.err
        assert f"`storyboard render {path} --repay a --repay b`" in refused.err
        one = cli("render", str(path), "--repay", "a", "--no-stitch")
        assert one.code == 1 and emu.stats()["total_submits"] == 2  # b is still lost: nothing is submitted
        both = cli("render", str(path), "--repay", "all")
        assert both.code == 0 and emu.stats()["total_submits"] == 4


def test_a_clip_that_is_not_the_one_paid_for_is_refused(project):
    path = project(TWO)
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu, engine=None)
        lock_file = path.parent / "storyboard.lock"
        lock = json.loads(lock_file.read_text())
        lock["shots"]["a"]["clip"] = "sha256:" + "0" * 64
        lock_file.write_text(json.dumps(lock))
        forget_clips(path)
        with pytest.raises(Exception, match="is not the one paid for"):
            render(path, emu, engine=None)
        assert emu.stats()["total_submits"] == 2


def test_two_shots_with_one_job_key_are_rendered_once(project):
    path = project("version: 1\nshots:\n  - id: a\n    prompt: The same shot.\n  - id: b\n    prompt: The same shot.\n"
                   "  - id: c\n    prompt: Another.\n")
    with Emulator(task_seconds=0.2) as emu:
        result = render(path, emu)
        assert emu.stats()["total_submits"] == 2
        assert {o.job.shot: o.state for o in result.report.outcomes} == {"a": "done", "b": "cached", "c": "done"}
        lock = json.loads((path.parent / "storyboard.lock").read_text())
        assert lock["shots"]["a"]["key"] == lock["shots"]["b"]["key"]
        assert result.film is not None


def test_the_emulator_forgets_finished_tasks_after_its_retention():
    with Emulator(task_seconds=0.1, retention=0.3) as emu:
        headers = {"Authorization": f"Bearer {KEY}"}
        task = httpx.post(f"{emu.url}/api/v3/kwaivgi/kling-video-o3-pro/text-to-video", headers=headers,
                          json={"prompt": "x", "duration": 3}).json()["data"]["id"]
        time.sleep(0.2)
        done = httpx.get(f"{emu.url}/api/v3/predictions/{task}/result", headers=headers).json()["data"]
        assert done["status"] == "completed" and httpx.get(done["outputs"][0]).status_code == 200
        time.sleep(0.4)
        assert httpx.get(f"{emu.url}/api/v3/predictions/{task}/result", headers=headers).status_code == 404
        assert httpx.get(done["outputs"][0]).status_code == 404


def test_the_completion_date_is_kept_when_a_clip_is_only_recovered(project):
    path = project(TWO)
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu, engine=None, wall_clock=lambda: 1_800_000_000.0)
        forget_clips(path)
        render(path, emu, engine=None, wall_clock=lambda: 1_900_000_000.0)
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    when = dt.datetime.fromisoformat(lock["shots"]["a"]["completed_at"])
    assert when.year == 2027  # the first render's date: recovery does not move it


def test_status_says_where_each_clip_is(project, cli, monkeypatch):
    from storyboard.render.journal import Journal
    from storyboard.store.storage import LocalStorage

    path = project(TWO + "  - id: c\n    prompt: Nets on the quay.\n  - id: d\n    prompt: A new shot.\n")
    with Emulator(task_seconds=0.2) as emu:
        result = render(path, emu, engine=None)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    keys = {o.job.shot: o.job.key for o in result.report.outcomes}
    lock_file = path.parent / "storyboard.lock"
    lock = json.loads(lock_file.read_text())
    lock["shots"]["b"]["completed_at"] = "2020-01-01T00:00:00+00:00"  # long past the provider's week
    del lock["shots"]["c"], lock["shots"]["d"]
    lock_file.write_text(json.dumps(lock))
    forget_clips(path)
    Journal(LocalStorage(path.parent / ".storyboard")).submitted(keys["c"], "c", "m", emu.url, "task-c")
    data = json.loads(cli("status", str(path), "--json").out)
    where = {s["shot"]: s["where"] for s in data["shots"]}
    assert where["a"].startswith("provider (until 20") and where["b"] == "lost"
    assert where["c"] == "in flight" and where["d"] == "new"
    assert data["lost"] == ["b"] and data["repay_cost"] == "0.560"
    text = cli("status", str(path)).out
    assert "re-pay $0.560" in text and "--repay" in text
