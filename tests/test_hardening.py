"""What broke when the project was attacked on purpose, each fixed at its depth.

The YAML and template cases live in the golden corpus (tests/data/invalid/
60-67); these are the rest: money, secrets and files, hangs and crashes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import httpx
import pytest

from conftest import MP4_4S, PNG_1
from storyboard.plan.project import compile_project
from storyboard.providers import ProviderError
from storyboard.providers.emulator import Emulator
from storyboard.providers.wavespeed import WaveSpeed, _retry_after
from storyboard.render.executor import Options
from storyboard.render.run import render_project
from storyboard.store.cache import ClipCache, record_name

KEY = "sk-hardening-DO-NOT-LEAK-9a7e"
ONE_SHOT = "version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n"
TWO_SHOTS = ONE_SHOT + "  - id: b\n    prompt: Gulls over the harbour.\n"


@pytest.fixture
def emulator():
    with Emulator(task_seconds=0.3) as emu:
        yield emu


@pytest.fixture
def env(emulator, monkeypatch):
    monkeypatch.setenv("WAVESPEED_BASE_URL", emulator.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    return {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}


def run_cli(args: list[str], env: dict | None = None, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """``storyboard ARGS`` in a child process (for what must not hang, and for real pipes)."""
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "storyboard", *args], env=full, capture_output=True, text=True,
                          timeout=timeout, **kw)


# -- money and budget --

def test_the_same_storyboard_gives_the_same_plan_bytes_with_templates(project):
    path = project("version: 1\nvars:\n  colours: [red, blue, green]\nshots:\n"
                   "  - id: a\n    prompt: \"{% for c in colours %}{{ c }} {% endfor %}{{ colours | sort | first }}\"\n"
                   "  - id: b\n    prompt: \"{{ colours | join(', ') | upper }} {{ dict(a=1) }}\"\n")
    plans = {compile_project(str(path)).plan.to_json() for _ in range(3)}
    again = run_cli(["plan", str(path), "--json"]).stdout
    assert len(plans) == 1 and again == plans.pop()


@pytest.mark.parametrize("prompt, words", [
    ("{{ cycler('a', 'b') }}", "changes from run to run"),
    ("{{ 'a'.upper }}", "not a value"),
    ("{{ [1, 2] | random }}", "not available in prompts"),
])
def test_templates_that_are_not_pure_are_refused(project, cli, prompt, words):
    path = project(f'version: 1\nshots:\n  - id: a\n    prompt: "{prompt}"\n')
    result = cli("validate", str(path))
    assert result.code == 1 and f"{path}:4:13: shots[0].prompt:" in result.err and words in result.err


def test_an_immutable_sandbox_keeps_later_shots_unchanged(project, cli):
    path = project("version: 1\nvars:\n  lst: [1, 2, 3]\nshots:\n  - id: a\n    prompt: \"{{ lst.append(4) }}x\"\n"
                   "  - id: b\n    prompt: \"{{ lst | length }}\"\n")
    result = cli("validate", str(path))
    assert result.code == 1 and "cannot change a list" in result.err
    good = project("version: 1\nvars:\n  lst: [1, 2, 3]\nshots:\n  - id: b\n    prompt: \"{{ lst | length }} birds\"\n",
                   name="good")
    assert compile_project(str(good)).plan.jobs[0].request["prompt"] == "3 birds"


def test_a_url_video_edit_has_an_unknown_cost_and_is_refused_by_max_cost(project, cli, emulator, env, tmp_path):
    prices = tmp_path / "proj" / "prices.yaml"
    text = ("version: 1\nprices: prices.yaml\nshots:\n  - id: e\n    model: kwaivgi/kling-video-o3-pro/video-edit\n"
            "    prompt: Make it night.\n    video: https://cdn.example.com/clip.mp4\n")
    path = project(text)
    prices.write_text("name: mine\nas_of: 2026-01-01\nmodels:\n  kwaivgi/kling-video-o3-pro/video-edit:\n"
                      "    per_second: 0.2\n")
    plan = json.loads(cli("plan", str(path), "--json").out)
    assert plan["jobs"][0]["cost"] is None and plan["unpriced"] == ["e"]
    shown = cli("plan", str(path))
    assert "URL video is not known" in shown.err and "$0.000" not in shown.out
    refused = cli("render", str(path), "--max-cost", "0")
    assert refused.code == 4 and "cost of e is unknown" in refused.err
    assert emulator.stats()["requests"] == {} and emulator.stats()["total_submits"] == 0


def test_a_closed_pipe_never_stops_a_render(project, emulator, env):
    path = project(TWO_SHOTS)
    cmd = [sys.executable, "-m", "storyboard", "render", str(path), "--rate", "0", "--no-stitch"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # `| head` that has read enough, for both streams
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0
    assert emulator.stats()["total_submits"] == 2
    journal = path.parent / ".storyboard" / "journal"
    assert not journal.exists() or list(journal.iterdir()) == []
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    assert sorted(lock["shots"]) == ["a", "b"]
    rerun = run_cli(["render", str(path), "--no-stitch"], env)
    assert rerun.returncode == 0 and emulator.stats()["total_submits"] == 2


def test_plan_into_a_closed_pipe_exits_0_quietly(lighthouse):
    proc = subprocess.Popen([sys.executable, "-m", "storyboard", "schema"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and err == ""
    head = subprocess.run(f"'{sys.executable}' -m storyboard plan '{lighthouse}' | head -1", shell=True,
                          capture_output=True, text=True, timeout=60)
    assert head.stdout.startswith("The Lighthouse Keeper") and "Traceback" not in head.stderr


def test_a_lock_with_merge_markers_is_refused_before_any_request(project, cli, emulator, env):
    path = project(ONE_SHOT)
    (path.parent / "storyboard.lock").write_text('{\n<<<<<<< HEAD\n  "shots": {}\n=======\n>>>>>>> theirs\n}\n')
    result = cli("render", str(path))
    assert result.code == 1 and "merge conflict markers" in result.err and "Traceback" not in result.err
    assert emulator.stats()["requests"] == {}


def test_an_unwritable_cache_is_refused_before_any_request(project, cli, emulator, env, tmp_path):
    path = project(ONE_SHOT)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cli("render", str(path), "--cache", str(blocker / "cache"))
    assert result.code == 1 and "the clip cache cannot be written" in result.err and "nothing was sent" in result.err
    assert emulator.stats()["requests"] == {}


def test_an_unwritable_film_folder_is_refused_before_any_request(project, cli, emulator, env):
    path = project(ONE_SHOT + "cut:\n  output: renders/film.mp4\n")
    (path.parent / "renders").write_text("a file where the folder should be")
    result = cli("render", str(path))
    assert result.code == 1 and "cut.output" in result.err and emulator.stats()["requests"] == {}


# -- secrets and files --

def test_a_price_list_outside_the_project_is_refused_without_quoting_it(project, cli, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".env").write_text(f"WAVESPEED_API_KEY={KEY}\n")
    path = project("version: 1\nprices: ../outside/.env\nshots:\n  - id: a\n    prompt: x\n")
    result = cli("plan", str(path))
    assert result.code == 1 and f"{path}:2:9: prices:" in result.err and "outside the project" in result.err
    assert KEY not in result.err + result.out
    link = path.parent / "prices.yaml"
    link.symlink_to(outside / ".env")
    path.write_text("version: 1\nprices: prices.yaml\nshots:\n  - id: a\n    prompt: x\n")
    result = cli("plan", str(path))
    assert result.code == 1 and "outside the project" in result.err and KEY not in result.err + result.out


def test_a_file_that_is_not_a_price_list_is_not_quoted(project, cli):
    path = project("version: 1\nprices: .env\nshots:\n  - id: a\n    prompt: x\n",
                   files={".env": f"WAVESPEED_API_KEY={KEY}\nOTHER=1\n".encode()})
    result = cli("plan", str(path))
    assert result.code == 1 and "a price list is a mapping of keys, not text" in result.err
    assert KEY not in result.err + result.out


def test_a_saved_plan_naming_a_price_list_outside_is_refused(project, cli, emulator, env, tmp_path):
    path = project(ONE_SHOT)
    saved = tmp_path / "plan.json"
    assert cli("plan", str(path), "--out", str(saved)).code == 0
    data = json.loads(saved.read_text())
    data["price_list"]["source"] = "../outside/.env"
    saved.write_text(json.dumps(data))
    result = cli("render", str(path), "--plan", str(saved))
    assert result.code == 1 and "outside the project" in result.err and emulator.stats()["requests"] == {}


@pytest.mark.parametrize("output", ["storyboard.yaml", "storyboard.lock", "refs/ada.png", "prices.yaml",
                                    ".storyboard/cache/film.mp4", "linked/film.mp4"])
def test_the_film_may_not_overwrite_an_input_or_leave_the_project(project, cli, tmp_path, output):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = project(f"version: 1\nprices: prices.yaml\nshots:\n  - id: a\n    prompt: x\n    images: [refs/ada.png]\n"
                   f"cut:\n  output: {output}\n",
                   files={"refs/ada.png": PNG_1,
                          "prices.yaml": b"name: p\nas_of: 2026-01-01\nmodels: {}\n"})
    (path.parent / "linked").symlink_to(elsewhere)
    result = cli("validate", str(path))
    assert result.code == 1 and "cut.output" in result.err, result.err


def test_redirects_are_checked_at_every_hop(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.example.com" and request.url.scheme == "https":
            return httpx.Response(302, headers={"Location": "http://cdn.example.com/clip.mp4"})
        return httpx.Response(200, content=b"clip")

    async def go():
        client = WaveSpeed(KEY, "https://api.example.com", transport=httpx.MockTransport(handler))
        try:
            await client.download("https://cdn.example.com/clip.mp4", tmp_path / "clip.mp4")
        finally:
            await client.aclose()

    with pytest.raises(ProviderError, match="refusing a http URL"):
        asyncio.run(go())


# -- hangs and crashes --

@pytest.mark.parametrize("value, expected", [("1e9", 60.0), ("inf", 60.0), ("nan", None), ("2", 2.0), ("-5", 0.0)])
def test_retry_after_is_capped(value, expected):
    assert _retry_after(httpx.Response(429, headers={"Retry-After": value})) == expected


def test_a_huge_retry_after_does_not_stall_a_render(project, emulator, env):
    from storyboard.providers.emulator import Fault
    from storyboard.render.timing import FakeClock

    emulator.add_fault(Fault("submit", "429", times=1, retry_after=1e9))
    clock = FakeClock()
    events = []
    path = project(ONE_SHOT)
    result = render_project(str(path), env=env, options=Options(concurrency=1, rate=0), clock=clock, engine=None,
                            progress=lambda plan, estimate: _Collect(events))
    assert result.report.outcomes[0].state == "done"
    assert max(clock.sleeps) <= 60
    assert any("storyboard waits at most 60 s" in detail for _, state, detail in events if state == "retrying")


class _Collect:
    def __init__(self, events):
        self.events = events

    def __enter__(self):
        return lambda *event: self.events.append(event)

    def __exit__(self, *exc):
        return None


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_special_files_are_refused_not_read_for_ever(tmp_path, command):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    for target in (fifo, zero):
        result = run_cli([command, str(target)], timeout=30)
        assert result.returncode == 1 and "not a storyboard file" in result.stderr, result.stderr


def test_a_fifo_price_list_or_plan_is_refused(project, tmp_path):
    path = project("version: 1\nprices: prices.yaml\nshots:\n  - id: a\n    prompt: x\n")
    os.mkfifo(path.parent / "prices.yaml")
    result = run_cli(["plan", str(path)], timeout=30)
    assert result.returncode == 1 and "named pipe" in result.stderr
    plan = tmp_path / "plan.json"
    os.mkfifo(plan)
    path.write_text(ONE_SHOT)
    result = run_cli(["render", str(path), "--plan", str(plan)], timeout=30)
    assert result.returncode == 1 and "named pipe" in result.stderr


def test_a_large_reference_image_warns_and_uploads_in_pieces(project, cli, tmp_path):
    big = PNG_1 + b"\0" * (12 * 1024 * 1024)
    path = project("version: 1\nshots:\n  - id: a\n    prompt: x\n    images: [refs/big.png]\n",
                   files={"refs/big.png": big})
    result = cli("validate", str(path))
    assert result.code == 0 and "warning: shots[0].images[0]: `refs/big.png` is 12.6 MB" in result.err

    received = []

    class Counting(httpx.AsyncBaseTransport):  # unlike MockTransport, it never reads a body whole
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/v3/media/uploads":
                await request.aread()
                return httpx.Response(200, json={"data": {"upload": {"url": "https://up.example.com/x"},
                                                          "download_url": "https://up.example.com/x"}})
            size = 0
            async for chunk in request.stream:
                size += len(chunk)
            received.append(size)
            return httpx.Response(200, json={"code": 200})

    async def go():
        client = WaveSpeed(KEY, "https://api.example.com", transport=Counting())
        try:
            return await client.upload(path.parent / "refs" / "big.png", "image/png")
        finally:
            await client.aclose()

    tracemalloc.start()
    asyncio.run(go())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert received == [len(big)]
    assert peak < len(big) / 2  # never the whole file in memory


def test_a_nul_byte_in_a_media_path_is_a_positioned_error(project, cli):
    path = project('version: 1\nshots:\n  - id: a\n    prompt: x\n    images: ["refs/a\\0.png"]\n')
    result = cli("validate", str(path))
    assert result.code == 1 and f"{path}:5:14: shots[0].images[0]: the path contains a NUL" in result.err


def test_a_fifo_image_is_named_as_a_pipe(project, cli):
    path = project("version: 1\nshots:\n  - id: a\n    prompt: x\n    images: [refs/pipe.png]\n")
    (path.parent / "refs").mkdir()
    os.mkfifo(path.parent / "refs" / "pipe.png")
    result = cli("validate", str(path))
    assert result.code == 1 and "`refs/pipe.png` is a named pipe (FIFO), not a file" in result.err


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_diff_across_a_revision_with_links_out_of_the_folder(tmp_path, cli, monkeypatch):
    repo = tmp_path / "repo"
    film = repo / "films" / "a"
    (repo / "shared").mkdir(parents=True)
    (repo / "shared" / "logo.png").write_bytes(PNG_1)
    film.mkdir(parents=True)
    (film / "storyboard.yaml").write_text(ONE_SHOT)
    (film / "shared").symlink_to("../../shared")  # a monorepo's shared assets
    (film / "absolute").symlink_to("/etc/hostname")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "add", "-A")
    _git(repo, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "film")
    monkeypatch.chdir(repo)
    (film / "storyboard.yaml").write_text(ONE_SHOT.replace("quiet", "busy"))
    result = cli("diff", "--base", "HEAD", "films/a/storyboard.yaml")
    assert result.code == 0, result.err
    assert "~ a" in result.out or "a" in result.out


def test_a_damaged_cache_record_is_a_miss(tmp_path):
    cache = ClipCache.at(tmp_path / "cache")
    key = "ab" * 32
    for sha in (None, 123, "../../etc/passwd", "objects/x"):
        name = tmp_path / "cache" / record_name(key)
        name.parent.mkdir(parents=True, exist_ok=True)
        name.write_text(json.dumps({"key": key, "sha256": sha, "size": 1, "duration": 5.0, "model": "m",
                                    "provider": "wavespeed", "task_id": "t"}))
        assert cache.record(key) is None and cache.get(key) is None


def test_a_damaged_cache_record_in_a_render_is_not_a_crash(project, emulator, env, cli):
    path = project(ONE_SHOT)
    assert cli("render", str(path), "--no-stitch").code == 0
    records = list((path.parent / ".storyboard" / "cache" / "keys").rglob("*.json"))
    record = json.loads(records[0].read_text())
    record["sha256"] = None
    records[0].write_text(json.dumps(record))
    assert cli("status", str(path)).code == 0
    result = cli("stitch", str(path))
    assert result.code == 1 and "no clip in the cache" in result.err and "internal error" not in result.err


@pytest.mark.parametrize("value", ['"1e30"', "1e30", "-1"])
def test_an_absurd_price_is_a_positioned_error(project, cli, value):
    path = project(ONE_SHOT.replace("version: 1\n", "version: 1\nprices: p.yaml\n"),
                   files={"p.yaml": (f"name: p\nas_of: 2026-01-01\nmodels:\n  kwaivgi/kling-video-o3-pro/reference-to-video:\n"
                                     f"    per_second: {value}\n").encode()})
    result = cli("plan", str(path))
    assert result.code == 1 and "p.yaml:5:17: models.kwaivgi/kling-video-o3-pro/reference-to-video.per_second" in result.err


@pytest.mark.parametrize("key, words", [("sk-clé-ünïcode", "non-ASCII"), ("sk-abc\ndef", "line break")])
def test_a_key_no_header_can_carry_is_refused_before_any_request(project, cli, emulator, monkeypatch, key, words):
    monkeypatch.setenv("WAVESPEED_BASE_URL", emulator.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", key)
    path = project(ONE_SHOT)
    result = cli("render", str(path))
    assert result.code == 1 and words in result.err and "a task may exist" not in result.err
    assert key not in result.err and emulator.stats()["requests"] == {}
    assert not (path.parent / ".storyboard" / "journal").exists() or not list(
        (path.parent / ".storyboard" / "journal").iterdir())


# -- smaller --

def test_an_element_id_with_a_leading_zero_is_kept_as_written(project):
    path = project("version: 1\ncharacters:\n  k:\n    name: Tom\n    element_id: 0307212335131305\n"
                   "shots:\n  - id: a\n    prompt: \"{{ k }} waits\"\n    characters: [k]\n")
    request = compile_project(str(path)).plan.jobs[0].request
    assert request["element_list"] == [{"element_id": "0307212335131305"}]


def test_a_very_large_storyboard_is_not_called_an_alias_bomb(project, cli):
    shots = "".join(f"  - {{id: s{i}, prompt: x, duration: 5, sound: false}}\n" for i in range(170_000))
    path = project("version: 1\nshots:\n" + shots)
    result = cli("validate", str(path))
    assert result.code == 1 and "alias" not in result.err and "may hold at most 1,000,000" in result.err


def test_leftovers_of_a_killed_cut_are_cleaned_on_the_next_run(project, cli):
    path = project(ONE_SHOT + "cut:\n  output: renders/film.mp4\n")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    renders = path.parent / "renders"
    renders.mkdir()
    stale_film = renders / f".film-{dead.pid}-abc123.mp4"
    stale_film.write_bytes(b"")
    live_film = renders / f".film-{os.getpid()}-live99.mp4"
    live_film.write_bytes(b"")
    stale_dir = Path(tempfile.gettempdir()) / f"storyboard-stitch-{dead.pid}-xyz"
    stale_dir.mkdir(exist_ok=True)
    (stale_dir / "part.mp4").write_bytes(b"x")
    try:
        assert cli("render", str(path), "--provider", "preview").code == 0
        assert not stale_film.exists() and not stale_dir.exists()
        assert live_film.exists()  # a cut still running in a live process is left alone
        assert (renders / "film.mp4").exists()
    finally:
        shutil.rmtree(stale_dir, ignore_errors=True)


def test_a_video_edit_of_a_local_clip_still_plans_its_length(project):
    path = project("version: 1\nprices: p.yaml\nshots:\n  - id: e\n    model: kwaivgi/kling-video-o3-pro/video-edit\n"
                   "    prompt: Make it night.\n    video: refs/waves.mp4\n",
                   files={"refs/waves.mp4": MP4_4S,
                          "p.yaml": b"name: p\nas_of: 2026-01-01\nmodels:\n  kwaivgi/kling-video-o3-pro/video-edit:\n"
                                    b"    per_second: 0.2\n"})
    job = compile_project(str(path)).plan.jobs[0]
    assert job.duration > 3 and job.cost is not None and job.cost > 0


def test_a_url_video_edit_renders_and_cuts_at_its_clips_length(project, cli, emulator, env):
    path = project("version: 1\nshots:\n  - id: e\n    model: kwaivgi/kling-video-o3-pro/video-edit\n"
                   "    prompt: Make it night.\n    video: https://cdn.example.com/clip.mp4\n"
                   "  - id: b\n    prompt: The harbour at night.\n    duration: 3\n")
    result = cli("render", str(path))
    assert result.code == 0, result.err
    assert "ffmpeg failed" not in result.err and emulator.stats()["total_submits"] == 2
    from storyboard.format.media import inspect_file

    film = inspect_file(path.parent / "renders" / "final.mp4")
    assert abs(film.duration - (5.0 + 3.0)) < 0.1  # the edit's clip (5 s from the emulator), then 3 s


def test_damaged_state_files_are_a_fresh_start(project, cli):
    path = project(ONE_SHOT)
    state = path.parent / ".storyboard"
    state.mkdir()
    os.mkfifo(state / "media.json")
    (state / "uploads.json").write_text("[1, 2, 3]")
    result = run_cli(["validate", str(path)], timeout=30)
    assert result.returncode == 0, result.stderr
