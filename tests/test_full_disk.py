"""A disk that fills at the moment of a submit loses no paid task: on a real small
file system (a tmpfs, mounted as root; skipped otherwise) holding `.storyboard/`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-full-disk-1"
FILM = "version: 1\ntitle: Full\nshots:\n  - id: a\n    prompt: A quiet harbour.\n    duration: 3\n"


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KB tmpfs; skipped when this is not root or mounting is not permitted."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    where = tmp_path / "small"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mount is not permitted here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> Path:
    """Fill the disk to the brim; the ballast file, to free space later."""
    ballast = folder / "ballast"
    with open(ballast, "ab", buffering=0) as out:  # unbuffered: nothing left to flush on close
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError:
                continue
    return ballast


class FillsOnSubmit(httpx.BaseTransport):
    """The emulator over real HTTP, but the disk fills when a submit arrives."""

    def __init__(self, folder: Path):
        self.inner, self.folder, self.submits, self.ballast = httpx.HTTPTransport(), folder, 0, None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and "/predictions" not in request.url.path and "/media" not in request.url.path:
            self.submits += 1
            self.ballast = _fill(self.folder)
        return self.inner.handle_request(request)


class AsyncFillsOnSubmit(httpx.AsyncBaseTransport):
    def __init__(self, folder: Path):
        self.sync = FillsOnSubmit(folder)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request):
        if request.method == "POST" and "/predictions" not in request.url.path and "/media" not in request.url.path:
            self.sync.submits += 1
            self.sync.ballast = _fill(self.sync.folder)
        return await self.inner.handle_async_request(request)


def test_a_disk_full_right_after_the_submit_keeps_the_task_id_and_the_rerun_resumes(project, small_disk):
    path = project(FILM)
    (path.parent / ".storyboard").symlink_to(small_disk)
    transport = AsyncFillsOnSubmit(small_disk)
    with Emulator(task_seconds=0.2) as emu:
        env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
        first = render_project(str(path), env=env, options=Options(rate=0), transport=transport, engine=None)
        failed = [o for o in first.report.outcomes if o.state == "failed"]
        assert transport.sync.submits == 1 and len(failed) == 1  # the shot fails, saying why, never the render
        assert "No space left" in failed[0].message and "journal" in failed[0].message, failed[0].message
        entries = list((small_disk / "journal").glob("*.json"))
        assert len(entries) == 1
        entry = json.loads(entries[0].read_bytes())
        assert entry["state"] == "submitted" and entry["task_id"]  # paid, and known
        transport.sync.ballast.unlink()  # space again
        again = render_project(str(path), env=env, options=Options(rate=0), engine=None)
        assert [o.state for o in again.report.outcomes] == ["done"] and again.report.outcomes[0].resumed
        assert emu.stats()["total_submits"] == 1  # never paid twice


def test_no_room_for_the_journal_entry_means_no_submit(project, small_disk):
    path = project(FILM)
    (path.parent / ".storyboard").symlink_to(small_disk)
    (small_disk / "journal").mkdir()
    ballast = _fill(small_disk)
    with Emulator(task_seconds=0.2) as emu:
        env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
        try:
            result = render_project(str(path), env=env, options=Options(rate=0), engine=None)
            message = result.report.outcomes[0].message
        except Exception as exc:  # an earlier write (the lock, the cache) refused: said before any submit
            message = str(exc)
        assert emu.stats()["total_submits"] == 0
        assert "nothing was sent" in message or "No space" in message, message
    ballast.unlink()
