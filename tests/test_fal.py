"""fal as a host, end to end against the emulator's fal protocol over HTTP:
one submit per shot to the right endpoint with fal's fields, no duplicate
after a kill -9, and a switch of host that changes every key and says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import MP4_4S, PNG_1, PNG_2
from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.journal import Journal
from storyboard.render.run import render_project
from storyboard.store.storage import LocalStorage

KEY = "fal-test-key"
FILM = """version: 1
title: On fal
provider: fal
defaults:
  model: kwaivgi/kling-video-o3-std/reference-to-video
characters:
  mara:
    name: Mara
    images: [refs/mara.png]
shots:
  - id: boat
    prompt: "{{ mara }} rows a small boat"
    characters: [mara]
    duration: 3
    sound: true
  - id: storm
    prompt: Waves break on the rocks
    video: refs/waves.mp4
    images: [refs/tower.png]
    duration: 4
  - id: lamp
    prompt: The lamp is lit
    duration: 4
    shot_type: customize
    multi_prompt:
      - {prompt: "Wide on the lamp room", duration: 2}
      - {prompt: "Close on the flame", duration: 2}
  - id: dawn
    model: kwaivgi/kling-video-o3-pro/image-to-video
    image: {shot: lamp, frame: last}
    end_image: refs/tower.png
    prompt: The sun rises
    duration: 3
"""
FILES = {"refs/mara.png": PNG_1, "refs/tower.png": PNG_2, "refs/waves.mp4": MP4_4S}


def fal_env(emu: Emulator) -> dict:
    return {"FAL_BASE_URL": emu.url, "FAL_KEY": KEY}


def render(path, emu, **kw):
    kw.setdefault("options", Options(concurrency=4, rate=0))
    return render_project(str(path), env=fal_env(emu), **kw)


def test_a_film_renders_on_fal_with_one_submit_per_shot_to_the_right_endpoints_and_fields(project):
    path = project(FILM, FILES)
    with Emulator(task_seconds=0.3, api_key=KEY) as emu:
        result = render(path, emu)
        log = {entry["body"].get("prompt") or entry["body"]["multi_prompt"][0]["prompt"]: entry
               for entry in emu.stats()["log"]}
        assert emu.stats()["total_submits"] == 4 and all(n == 1 for n in emu.submits.values())
    assert result.film is not None and result.film.exists()
    assert {o.state for o in result.report.outcomes} == {"done"}
    boat, storm = log["Mara rows a small boat"], log["Waves break on the rocks"]
    lamp, dawn = log["Wide on the lamp room"], log["The sun rises"]
    assert boat["endpoint"] == "fal-ai/kling-video/o3/standard/reference-to-video"
    assert boat["body"]["generate_audio"] is True and boat["body"]["duration"] == "3"
    assert len(boat["body"]["image_urls"]) == 1 and "sound" not in boat["body"] and "images" not in boat["body"]
    # a reference video goes to the separate endpoint, as video_url, with keep_audio
    assert storm["endpoint"] == "fal-ai/kling-video/o3/standard/video-to-video/reference"
    assert storm["body"]["video_url"].endswith("/waves.mp4") and storm["body"]["keep_audio"] is True
    assert storm["body"]["duration"] == "4" and "generate_audio" not in storm["body"]
    # segments with string durations, and no prompt beside them
    assert lamp["body"]["multi_prompt"] == [{"prompt": "Wide on the lamp room", "duration": "2"},
                                            {"prompt": "Close on the flame", "duration": "2"}]
    assert "prompt" not in lamp["body"]
    # a frame of another shot is a start image; the end image its own field
    assert dawn["endpoint"] == "fal-ai/kling-video/o3/pro/image-to-video"
    assert dawn["body"]["start_image_url"].startswith(emu.url) and dawn["body"]["end_image_url"].endswith("tower.png")
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    assert lock["shots"]["boat"]["origin"] == emu.url and lock["shots"]["boat"]["model"] == boat["endpoint"]


def _render_process(path, emu) -> subprocess.Popen:
    env = {**os.environ, **fal_env(emu)}
    env.pop("WAVESPEED_BASE_URL", None)
    return subprocess.Popen([sys.executable, "-m", "storyboard", "render", str(path), "--rate", "0",
                             "--concurrency", "4", "--no-stitch"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_kill_9_mid_render_then_render_again_submits_nothing_twice(project):
    path = project(FILM.replace("    image: {shot: lamp, frame: last}\n", "    image: refs/tower.png\n"), FILES)
    with Emulator(task_seconds=6.0, api_key=KEY) as emu:
        keys = [job.key for job in compile_project(str(path), env=fal_env(emu)).plan.jobs]
        victim = _render_process(path, emu)
        journal = Journal(LocalStorage(path.parent / ".storyboard"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until every task id is journalled: the tasks run, unpaid-for twice
            entries = [journal.get(key) for key in keys]
            if all(e is not None and e.task_id for e in entries):
                break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        assert emu.stats()["total_submits"] == 4
        again = render(path, emu, engine=None)
        assert emu.stats()["total_submits"] == 4 and all(n == 1 for n in emu.submits.values())
    assert {o.state for o in again.report.outcomes} == {"done"} and all(o.resumed for o in again.report.outcomes)


def test_switching_a_storyboard_from_wavespeed_to_fal_changes_every_key_and_diff_says_why(project, cli,
                                                                                          monkeypatch):
    monkeypatch.delenv("FAL_BASE_URL", raising=False)
    monkeypatch.delenv("WAVESPEED_BASE_URL", raising=False)
    on_ws = project(FILM.replace("provider: fal\n", "").replace("    image: {shot: lamp, frame: last}\n",
                                                                "    image: refs/tower.png\n"), FILES, name="ws")
    on_fal = project(on_ws.read_text().replace("version: 1\n", "version: 1\nprovider: fal\n"), FILES, name="fal")
    old, new = compile_project(str(on_ws)).plan, compile_project(str(on_fal)).plan
    assert (old.provider, new.provider, new.origin) == ("wavespeed", "fal", "https://queue.fal.run")
    assert not {j.key for j in old.jobs} & {j.key for j in new.jobs}
    # --provider on the command line does the same as `provider:` in the file
    assert [j.key for j in compile_project(str(on_ws), provider="fal").plan.jobs] == [j.key for j in new.jobs]
    out = cli("diff", str(on_ws), str(on_fal), "--format", "json")
    assert out.code == 0, out.err
    shots = {s["shot"]: s for s in json.loads(out.out)["shots"]}
    assert set(shots) == {"boat", "storm", "lamp", "dawn"} and all(s["status"] == "changed" for s in shots.values())
    for s in shots.values():
        host = next(c for c in s["changes"] if c["field"] == "host")
        assert host["before"] == "wavespeed (https://api.wavespeed.ai)"
        assert host["after"] == "fal (https://queue.fal.run)"
    text = cli("diff", str(on_ws), str(on_fal))
    assert "fal (https://queue.fal.run)" in text.out


def test_status_says_which_host_each_clip_came_from(project, cli, monkeypatch):
    text = FILM.replace("    image: {shot: lamp, frame: last}\n", "    image: refs/tower.png\n")
    path = project(text, FILES)
    with Emulator(task_seconds=0.2, api_key=KEY) as emu:
        render(path, emu, engine=None)
        monkeypatch.setenv("FAL_BASE_URL", emu.url)
        rows = json.loads(cli("status", str(path), "--json").out)["shots"]
        assert {r["state"] for r in rows} == {"here"} and {r["host"] for r in rows} == {"fal"}
        assert "from fal" in cli("status", str(path)).out
        # back to WaveSpeed: every shot is to be rendered again, and status says the host changed
        path.write_text(text.replace("provider: fal\n", "provider: wavespeed\n"))
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        rows = json.loads(cli("status", str(path), "--json").out)["shots"]
    assert {r["state"] for r in rows} == {"changed"}
    assert all("the host differs: paid on fal" in r["reason"] for r in rows)


def test_an_element_id_made_by_hand_is_an_error_at_its_place_on_fal(project, cli):
    text = FILM.replace("    images: [refs/mara.png]\n", "    images: [refs/mara.png]\n    element_id: 307212335131305\n")
    text = text.replace("    duration: 3\n    sound: true\n", "    duration: 3\n    sound: true\n    element_list: [\"42\"]\n"
                        "    model: kwaivgi/kling-video-o3-pro/reference-to-video\n")
    path = project(text, FILES)
    out = cli("validate", str(path))
    assert out.code == 1
    lines = [line for line in out.err.splitlines() if "element id" in line]
    assert len(lines) == 2
    assert "storyboard.yaml:10:17: characters.mara.element_id: fal takes no Kling element ids" in lines[0]
    assert "storyboard.yaml:17:20: shots[0].element_list[0]: fal takes no Kling element ids" in lines[1]
    assert all("declare the element from its images" in line for line in lines)
    # on WaveSpeed the same storyboard is fine
    assert cli("validate", str(path), "--provider", "wavespeed").code == 0


def test_max_cost_refuses_a_job_fal_has_no_price_for_before_any_submit(project, cli, monkeypatch):
    path = project("version: 1\nprovider: fal\nshots:\n  - id: a\n    prompt: A quiet harbour\n")
    plan = json.loads(cli("plan", str(path), "--json").out)
    assert plan["jobs"][0]["model"] == "fal-ai/kling-video/o3/pro/reference-to-video" and plan["jobs"][0]["cost"] is None
    with Emulator(task_seconds=0.2, api_key=KEY) as emu:
        monkeypatch.setenv("FAL_BASE_URL", emu.url)
        monkeypatch.setenv("FAL_KEY", KEY)
        out = cli("render", str(path), "--max-cost", "100")
        assert out.code == 4 and emu.stats()["total_submits"] == 0
    assert "the cost of a is unknown" in out.err


def test_a_clone_without_clips_gets_them_back_from_fal_by_request_id_for_free(project):
    import shutil

    path = project(FILM.replace("    image: {shot: lamp, frame: last}\n", "    image: refs/tower.png\n"), FILES)
    with Emulator(task_seconds=0.2, api_key=KEY) as emu:
        first = render(path, emu)
        shutil.rmtree(path.parent / ".storyboard")  # as a fresh clone has only the storyboard and the lock
        again = render(path, emu)
        assert emu.stats()["total_submits"] == 4 and again.report.spent == 0
    assert [o.state for o in again.report.outcomes] == ["cached"] * 4
    assert again.film.read_bytes() == first.film.read_bytes()


MIXED = """version: 1
shots:
  - id: harbour
    prompt: A quiet harbour
    duration: 3
  - id: boat
    provider: fal
    model: kwaivgi/kling-video-o3-std/reference-to-video
    prompt: A boat leaves the harbour
    images: [{shot: harbour, frame: last}]
    duration: 3
    sound: true
"""


def test_one_shot_on_fal_in_a_film_on_wavespeed_goes_there_and_comes_back_from_there(project, cli, monkeypatch):
    import shutil

    path = project(MIXED)
    plan = json.loads(cli("plan", str(path), "--json").out)
    harbour, boat = plan["jobs"]
    assert plan["provider"] == "wavespeed" and "provider" not in harbour  # a one-host job names no host of its own
    assert (boat["provider"], boat["origin"]) == ("fal", "https://queue.fal.run")
    assert boat["model"] == "fal-ai/kling-video/o3/standard/reference-to-video" and boat["cost"] == "0.336"
    with Emulator(task_seconds=0.2) as emu:
        env = {**fal_env(emu), "WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": "ws-key"}
        first = render_project(str(path), env=env, options=Options(concurrency=2, rate=0))
        assert {o.state for o in first.report.outcomes} == {"done"}
        log = {e["protocol"]: e for e in emu.stats()["log"]}
        assert log["wavespeed"]["endpoint"] == "kwaivgi/kling-video-o3-pro/reference-to-video"
        assert log["fal"]["endpoint"] == "fal-ai/kling-video/o3/standard/reference-to-video"
        assert log["fal"]["body"]["image_urls"][0].startswith(emu.url) and log["fal"]["body"]["generate_audio"]
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        rows = {r["shot"]: r for r in json.loads(cli("status", str(path), "--json").out)["shots"]}
        assert (rows["harbour"]["host"], rows["boat"]["host"]) == ("wavespeed", "fal")
        shutil.rmtree(path.parent / ".storyboard")  # each clip comes back from its own host, by its task id
        again = render_project(str(path), env=env, options=Options(concurrency=2, rate=0))
        assert [o.state for o in again.report.outcomes] == ["cached", "cached"]
        assert emu.stats()["total_submits"] == 2 and again.report.spent == 0
    # moving the shot back to the film's host changes its key, and diff says which host it left
    old = project(MIXED, name="old")
    new = project(MIXED.replace("    provider: fal\n", ""), name="new")
    for name in ("FAL_BASE_URL", "WAVESPEED_BASE_URL"):
        monkeypatch.delenv(name)
    shots = {s["shot"]: s for s in json.loads(cli("diff", str(old), str(new), "--format", "json").out)["shots"]}
    assert shots["harbour"]["status"] == "unchanged"
    assert {"field": "host", "before": "fal (https://queue.fal.run)",
            "after": "wavespeed (https://api.wavespeed.ai)"}.items() <= next(
        c for c in shots["boat"]["changes"] if c["field"] == "host").items()


def test_status_names_fals_address_variable_when_a_fal_clip_was_paid_at_another_address(project, cli, monkeypatch):
    text = FILM.replace("    image: {shot: lamp, frame: last}\n", "    image: refs/tower.png\n")
    path = project(text, FILES)
    with Emulator(task_seconds=0.2, api_key=KEY) as emu:
        render(path, emu, engine=None)
    monkeypatch.delenv("FAL_BASE_URL", raising=False)  # this shell points at fal itself
    rows = json.loads(cli("status", str(path), "--json").out)["shots"]
    assert {r["state"] for r in rows} == {"changed"}
    assert all("the API address differs" in r["reason"] and "(FAL_BASE_URL)" in r["reason"] for r in rows), rows
