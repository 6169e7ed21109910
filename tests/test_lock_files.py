"""Paid is forever across storyboards and edits: each storyboard file has its
own lock, a paid key stays in it until a person prunes it, and the lock read
from disk is untrusted input."""

from __future__ import annotations

import json
import shutil

from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.lock import Lock, lock_path, read_lock
from storyboard.render.run import render_project

KEY = "sk-lock-files"
FILM = "version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n  - id: b\n    prompt: Gulls at dawn.\n"
TEASER = "version: 1\nshots:\n  - id: t\n    prompt: A storm at sea.\n"
THREE = FILM + "  - id: c\n    prompt: A lamp lit at dusk.\n"


def render(path, emulator, **kw):
    kw.setdefault("options", Options(concurrency=4, rate=0))
    kw.setdefault("engine", None)
    env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
    return render_project(str(path), env=env, **kw)


def fresh_clone(path) -> None:
    """As a fresh clone: the storyboards and locks, no cache, no journal."""
    shutil.rmtree(path.parent / ".storyboard")


def use_emulator(monkeypatch, emu) -> None:
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)


def test_each_storyboard_file_has_its_own_lock(tmp_path):
    assert lock_path(tmp_path / "storyboard.yaml") == tmp_path / "storyboard.lock"
    assert lock_path(tmp_path / "teaser.yaml") == tmp_path / "teaser.lock"
    assert lock_path(tmp_path / "cut.v2.yml") == tmp_path / "cut.v2.lock"
    assert lock_path(tmp_path / "odd.lock") == tmp_path / "odd.lock.lock"  # never its own lock


def test_rendering_a_teaser_keeps_the_films_paid_clips(project, cli, monkeypatch):
    path = project(FILM)
    teaser = path.parent / "teaser.yaml"
    teaser.write_text(TEASER)
    with Emulator(task_seconds=0.1) as emu:
        render(path, emu)
        render(teaser, emu)
        assert set(read_lock(path.parent / "storyboard.lock").shots) == {"a", "b"}
        assert set(read_lock(path.parent / "teaser.lock").shots) == {"t"}
        fresh_clone(path)
        use_emulator(monkeypatch, emu)
        status = cli("status", str(path), "--json")
        assert status.code == 0, status.err
        assert {s["state"] for s in json.loads(status.out)["shots"]} == {"provider"}
        teaser_status = cli("status", str(teaser), "--json")
        assert [s["state"] for s in json.loads(teaser_status.out)["shots"]] == ["provider"]
        again = render(path, emu)
        assert emu.stats()["total_submits"] == 3 and again.report.spent == 0


def test_a_shot_shared_by_two_storyboards_is_paid_once(project, monkeypatch):
    path = project(FILM)
    teaser = path.parent / "teaser.yaml"
    teaser.write_text("version: 1\nshots:\n  - id: opening\n    prompt: A quiet harbour.\n")  # shot a, renamed
    with Emulator(task_seconds=0.1) as emu:
        render(path, emu)
        fresh_clone(path)
        result = render(teaser, emu)
        assert emu.stats()["total_submits"] == 2 and result.report.spent == 0
        assert read_lock(path.parent / "teaser.lock").shots["opening"].key == read_lock(
            path.parent / "storyboard.lock").shots["a"].key


def test_an_older_shared_lock_still_counts_for_the_teaser(project):
    """A lock written before each file had its own: the teaser's clips in storyboard.lock are still paid."""
    teaser = project(TEASER).with_name("teaser.yaml")
    shutil.move(teaser.with_name("storyboard.yaml"), teaser)
    with Emulator(task_seconds=0.1) as emu:
        render(teaser, emu)
        shutil.move(teaser.with_name("teaser.lock"), teaser.with_name("storyboard.lock"))
        teaser.with_name("storyboard.yaml").write_text(FILM)
        fresh_clone(teaser)
        result = render(teaser, emu)
        assert emu.stats()["total_submits"] == 1 and result.report.spent == 0


def test_a_shot_taken_out_and_put_back_is_not_paid_again(project, cli, monkeypatch):
    path = project(THREE)
    with Emulator(task_seconds=0.1) as emu:
        render(path, emu)
        paid_c = read_lock(lock_path(path)).shots["c"]
        path.write_text(FILM)  # c taken out
        render(path, emu)
        lock = read_lock(lock_path(path))
        assert set(lock.shots) == {"a", "b"}
        assert lock.retired[paid_c.key].shot == "c" and lock.retired[paid_c.key].task_id == paid_c.task_id
        use_emulator(monkeypatch, emu)
        status = cli("status", str(path))
        assert "Paid, not in the film: 1 clip, $0.560 (c)" in status.out
        assert json.loads(cli("status", str(path), "--json").out)["paid_not_in_film_cost"] == "0.560"
        path.write_text(THREE)  # put back, in a fresh clone
        fresh_clone(path)
        status = cli("status", str(path), "--json")
        assert {s["shot"]: s["state"] for s in json.loads(status.out)["shots"]}["c"] == "provider"
        again = render(path, emu)
        assert emu.stats()["total_submits"] == 3 and again.report.spent == 0
        lock = read_lock(lock_path(path))
        assert lock.shots["c"].key == paid_c.key and not lock.retired


def test_a_changed_prompt_keeps_the_earlier_version_paid(project):
    path = project(FILM)
    with Emulator(task_seconds=0.1) as emu:
        render(path, emu)
        first_a = read_lock(lock_path(path)).shots["a"]
        path.write_text(FILM.replace("A quiet harbour.", "A busy harbour."))
        render(path, emu)
        assert first_a.key in read_lock(lock_path(path)).retired
        path.write_text(FILM)  # reverted
        fresh_clone(path)
        again = render(path, emu)
        assert emu.stats()["total_submits"] == 3 and again.report.spent == 0


def test_prune_forgets_only_what_is_not_in_the_film_and_says_what_it_abandons(project, cli, monkeypatch):
    path = project(THREE)
    with Emulator(task_seconds=0.1) as emu:
        render(path, emu, wall_clock=lambda: 1_700_000_000.0)  # 2023-11-14
        path.write_text(FILM.replace("Gulls at dawn.", "Gulls at noon."))  # c out, b changed
        render(path, emu, wall_clock=lambda: 1_800_000_000.0)
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)  # the keys are the emulator's
    before = read_lock(lock_path(path))
    assert len(before.retired) == 2
    dry = cli("lock", "prune", str(path), "--dry-run")
    assert dry.code == 0 and "Would forget 2 paid clips not in the film, $1.120 abandoned" in dry.out
    assert read_lock(lock_path(path)) == before
    young = cli("lock", "prune", str(path), "--older-than", "100000")
    assert "Nothing to prune" in young.out and "Kept 2 not in the film, $1.120" in young.out
    done = cli("lock", "prune", str(path))
    assert done.code == 0 and "Forgot 2 paid clips" in done.out and "  - b  $0.560  paid 2023-11-14" in done.out
    after = read_lock(lock_path(path))
    assert not after.retired and set(after.shots) == {"a", "b"} and after.shots["a"] == before.shots["a"]
    assert "Nothing to prune: every paid clip in storyboard.lock is in the film." in cli("lock", "prune", str(path)).out


def test_prune_keeps_clips_paid_at_another_api_address(project, cli):
    path = project(FILM)
    with Emulator(task_seconds=0.1) as emu:
        render(path, emu)  # paid at the emulator's address; prune compiles for the default one
    out = cli("lock", "prune", str(path))
    assert out.code == 0 and "Kept 2 paid at another API address, $1.120" in out.out
    assert len(read_lock(lock_path(path)).shots) == 2


def test_unused_takes_of_a_shot_in_the_film_are_in_the_film(project, cli, monkeypatch):
    path = project(FILM)
    with Emulator(task_seconds=0.1) as emu:
        render(path, emu, takes={"a": 2})
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    assert "Paid, not in the film" not in cli("status", str(path)).out
    assert "Nothing to prune" in cli("lock", "prune", str(path)).out


def test_lock_entries_from_others_are_typed_and_named(project, cli):
    path = project(FILM)
    entry = {"key": "a" * 64, "model": "m", "origin": "https://api.wavespeed.ai", "task_id": "t1",
             "clip": "sha256:" + "b" * 64, "duration": 5.0, "cost": "0.56"}
    cases = {
        "duration": ("five", "shots.a.duration"),
        "task_id": ("../../x", "shots.a.task_id"),
        "clip": (7, "shots.a.clip"),
        "model": ("m\x1b[31m", "shots.a.model"),
        "cost": ("-1", "shots.a.cost"),
    }
    for field, (value, where) in cases.items():
        lock_path(path).write_text(json.dumps({"version": 1, "shots": {"a": {**entry, field: value}}}))
        out = cli("status", str(path))
        assert out.code == 1 and f"storyboard.lock: not a valid lock file: {where}" in out.err, (field, out.err)
        assert "Traceback" not in out.err and "\x1b" not in out.err


def test_a_completion_time_that_is_not_a_time_is_unknown_not_a_crash(project, cli):
    path = project(FILM)
    from storyboard.plan.project import compile_project

    keys = {j.shot: j.key for j in compile_project(str(path)).plan.jobs}
    for completed in ("2026-11-01", "2026-11-01T10:00:00", "9999-12-31T23:59:59+00:00", "not a date", "",
                      "0001-01-01T00:00:00-23:59"):
        entry = {"key": keys["a"], "model": "m", "origin": "https://api.wavespeed.ai", "task_id": "t1",
                 "clip": "sha256:" + "b" * 64, "duration": 5.0, "cost": "0.56", "completed_at": completed}
        lock_path(path).write_text(json.dumps({"version": 1, "shots": {"a": entry}}))
        out = cli("status", str(path))
        assert out.code == 0, (completed, out.err)
        assert out.out.startswith("a  ") and ("provider" in out.out.splitlines()[0]
                                               or "lost" in out.out.splitlines()[0])


def test_a_lock_without_retired_entries_reads_and_writes_as_before(tmp_path):
    from storyboard.render.lock import lock_text

    assert json.loads(lock_text(Lock())) == {"shots": {}, "version": 1}


def test_diff_of_a_teaser_reads_the_teasers_lock(tmp_path, cli, monkeypatch):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    (tmp_path / "storyboard.yaml").write_text(FILM)
    teaser = tmp_path / "teaser.yaml"
    teaser.write_text(TEASER)
    git("add", "-A")
    git("commit", "-qm", "two films")
    monkeypatch.chdir(tmp_path)
    with Emulator(task_seconds=0.1) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        render(tmp_path / "storyboard.yaml", emu)
        render(teaser, emu, takes={"t": 2})
        d = cli("diff", "--base", "HEAD", "teaser.yaml")
        assert d.code == 0, d.err
        assert "+ take t#2: paid $0.560, not in the film" in d.out and "2 takes added to the lock, $1.120" in d.out
        film = cli("diff", "--base", "HEAD", "storyboard.yaml")
        assert "2 takes added to the lock, $1.120" in film.out and "t#2" not in film.out


def test_a_lock_write_that_fails_leaves_the_old_lock_whole_and_no_leftover(tmp_path, monkeypatch):
    import errno
    import os

    from storyboard.render.lock import LockEntry, write_lock

    path = tmp_path / "storyboard.lock"
    write_lock(path, Lock())
    before = path.read_bytes()
    lock = Lock()
    lock.put("a", 1, LockEntry(key="a" * 64, model="m", origin="o", task_id="t1", clip="sha256:" + "b" * 64,
                               duration=5.0, cost=None))

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    try:
        write_lock(path, lock)
    except OSError:
        pass
    else:
        raise AssertionError("the write should have failed")
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["storyboard.lock"]
