"""Exactly once across processes and machines: claims by exclusive create,
task ids by conditional update, against a folder and a real S3 server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from storyboard.providers.emulator import Emulator
from storyboard.store.claims import Claims
from storyboard.store.remote import FolderRemote, open_remote
from conftest import objects

KEY = "sk-claims-key"
FILM = "".join(["version: 1\nshots:\n"] + [f"  - id: s{i}\n    prompt: Shot number {i}.\n    duration: 3\n"
                                             for i in range(4)]) + "cut:\n  output: renders/film.mp4\n"


def test_a_claim_is_taken_once_and_only_its_owner_writes_the_task_id(tmp_path):
    folder = FolderRemote(tmp_path / "claims")
    now = [1000.0]
    a, b = Claims(folder, wall_clock=lambda: now[0]), Claims(folder, wall_clock=lambda: now[0])
    key = "ab" * 32
    assert a.take(key) is None
    held = b.take(key)
    assert held is not None and held.owner == a.owner and held.task_id is None
    assert b.set_task(key, "theirs") is False
    assert a.set_task(key, "t-1") is True
    assert b.take(key).task_id == "t-1"
    assert not b.stale(b.read(key))  # the owner runs: fresh while its heartbeat is
    now[0] += 61
    assert b.stale(b.read(key))  # a heartbeat a minute old: stale
    a.close()
    b.close()


def test_a_claim_left_by_a_finished_render_in_this_process_is_stale_at_once(tmp_path):
    folder = FolderRemote(tmp_path / "claims")
    a, b = Claims(folder), Claims(folder)
    key = "cd" * 32
    a.take(key)
    assert not b.stale(b.read(key))
    a.close()
    assert b.stale(b.read(key))
    b.close()


def test_s3_conditional_update_lets_one_of_two_writers_win(bucket):
    remote = open_remote(f"s3://{bucket}/c")
    assert remote.create("claims/x.json", b"{}") is True
    data, version = remote.read("claims/x.json")
    assert remote.update("claims/x.json", b'{"a": 1}', version) is True
    assert remote.update("claims/x.json", b'{"b": 1}', version) is False  # the same version, later: refused
    assert remote.get("claims/x.json") == b'{"a": 1}'


def _render(path: Path, emu: Emulator, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
    return subprocess.Popen([sys.executable, "-m", "storyboard", "render", str(path), "--rate", "0",
                             "--concurrency", "4", *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out, err


def test_two_renders_of_one_project_at_once_submit_each_job_once(project):
    path = project(FILM)
    with Emulator(task_seconds=1.5) as emu:
        first, second = _render(path, emu), _render(path, emu)
        results = [_finish(first), _finish(second)]
        for code, out, err in results:
            assert code == 0, err
        assert emu.stats()["total_submits"] == 4
        assert all(count == 1 for count in emu.submits.values())
    assert (path.parent / "renders" / "film.mp4").exists()


def _clone(path: Path, dest: Path) -> Path:
    shutil.copytree(path.parent, dest, ignore=shutil.ignore_patterns(".storyboard", "renders"))
    return dest / "storyboard.yaml"


def test_two_clones_racing_through_one_remote_pay_once_and_cut_the_same_film(project, bucket, tmp_path):
    path = project(FILM)
    ours, theirs = _clone(path, tmp_path / "ours"), _clone(path, tmp_path / "theirs")
    remote = f"s3://{bucket}/film"
    with Emulator(task_seconds=1.5) as emu:
        a, b = _render(ours, emu, "--remote", remote), _render(theirs, emu, "--remote", remote)
        for code, out, err in (_finish(a), _finish(b)):
            assert code == 0, err
        assert emu.stats()["total_submits"] == 4
    film = (ours.parent / "renders" / "film.mp4").read_bytes()
    assert film == (theirs.parent / "renders" / "film.mp4").read_bytes()


def test_kill_9_of_one_racer_and_the_other_finishes_its_tasks_without_submitting(project, bucket, s3_server,
                                                                                tmp_path):
    path = project(FILM)
    ours, theirs = _clone(path, tmp_path / "ours"), _clone(path, tmp_path / "theirs")
    remote = f"s3://{bucket}/film"
    with Emulator(task_seconds=4.0) as emu:
        victim = _render(ours, emu, "--remote", remote)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until every job is claimed with its task id
            claims = {name: data for name, data in objects(bucket, s3_server).items() if "/claims/" in name}
            if len(claims) == 4 and all(json.loads(data).get("task_id") for data in claims.values()):
                break
            time.sleep(0.1)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert emu.stats()["total_submits"] == 4
        code, out, err = _finish(_render(theirs, emu, "--remote", remote))
        assert code == 0, err
        assert emu.stats()["total_submits"] == 4 and all(count == 1 for count in emu.submits.values())
        assert (theirs.parent / "renders" / "film.mp4").exists()
