"""`storyboard cache size` and `cache gc` (issue 25, item 12): gc reports unless --force, and never removes a
clip that a lock in the git history names unless the remote has it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-cache-gc-key"
FILM = ("version: 1\ntitle: Harbour\nshots:\n  - id: a\n    prompt: A quiet harbour.\n"
        "  - id: b\n    prompt: Gulls at dawn.\n    duration: 3\ncut:\n  output: renders/film.mp4\n")


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args], cwd=folder,
                          check=True, capture_output=True, text=True).stdout


def objects(root: Path) -> set[str]:
    return {p.name for p in (root / ".storyboard" / "cache" / "objects").rglob("*.mp4")}


def test_gc_keeps_what_a_lock_in_history_names_until_the_remote_has_it(project, cli, tmp_path):
    path = project(FILM)
    root = path.parent
    (root / ".gitignore").write_text(".storyboard/\nrenders/\n")
    git(root, "init", "-q")
    shared = tmp_path / "shared"
    with Emulator(task_seconds=0.2) as emu:
        env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
        render_project(str(path), env=env, options=Options(concurrency=2, rate=0), engine=None)
        git(root, "add", "-A")
        git(root, "commit", "-qm", "first cut")
        first = objects(root)
        path.write_text(path.read_text().replace("A quiet harbour.", "A stormy harbour."))
        render_project(str(path), env=env, options=Options(concurrency=2, rate=0), engine=None)
    lock = json.loads((root / "storyboard.lock").read_text())
    b_clip = lock["shots"]["b"]["clip"].removeprefix("sha256:") + ".mp4"
    (first_a,) = first - {b_clip}
    assert cli("push", str(root), "--remote", str(shared), "--create").code == 0  # the first a too (retired)
    assert cli("render", str(path), "--provider", "preview", "--no-stitch").code == 0
    everything = objects(root)
    assert len(everything) == 5  # a then, a now, b; and two preview cards
    assert cli("lock", "prune", str(path)).code == 0  # the first a leaves the lock; git's history still names it
    git(root, "commit", "-qam", "second cut, pruned")
    path.write_text(path.read_text().replace("Gulls at dawn.", "Gulls at noon."))  # b's preview card: unused now

    size = cli("cache", "size", str(path), "--json")
    assert size.code == 0, size.err
    data = json.loads(size.out)
    assert data["clips"] == 5 and data["film_clips"] == 3  # a now, b (paid, in the lock), a's preview card

    report = cli("cache", "gc", str(path))
    assert report.code == 0, report.err
    assert "Would free" in report.out and "nothing was removed" in report.out
    assert "paid, not in the remote: 1 clip" in report.out and "git history" in report.out
    assert objects(root) == everything

    removed = json.loads(cli("cache", "gc", str(path), "--force", "--json").out)
    assert removed["removed"] and len(removed["unused"]) == 1 and len(removed["paid_kept"]) == 1
    assert len(objects(root)) == 4 and first_a in objects(root)  # only b's old preview card went

    with_remote = cli("cache", "gc", str(path), "--remote", str(shared), "--force")
    assert with_remote.code == 0, with_remote.err
    assert f"paid, in the remote {shared}: 1 clip" in with_remote.out and "storyboard pull" in with_remote.out
    assert first_a not in objects(root) and len(objects(root)) == 3
    assert (shared / "objects" / first_a[:2] / first_a).is_file()  # the remote keeps it
    assert {lock["shots"]["a"]["clip"].removeprefix("sha256:") + ".mp4", b_clip} <= objects(root)


def test_gc_in_a_folder_outside_git_keeps_every_locked_clip(project, cli):
    path = project(FILM)
    assert cli("render", str(path), "--provider", "preview", "--no-stitch").code == 0
    result = cli("cache", "gc", str(path), "--force")
    assert result.code == 0 and "Nothing to free." in result.out
    assert len(objects(path.parent)) == 2
