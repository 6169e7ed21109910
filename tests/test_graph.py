"""Shots built on shots: a frame or the clip of one shot as another's input,
the plan as a graph, and a render that runs it in order, paying once."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import psnr

from storyboard.cut.probe import ffmpeg_exe, probe
from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator, Fault
from storyboard.render.executor import Options
from storyboard.render.run import render_project
from storyboard.store.cache import ClipCache

KEY = "sk-graph-key"
I2V = "kwaivgi/kling-video-o3-pro/image-to-video"
CHAIN = f"""version: 1
shots:
  - id: c
    model: {I2V}
    prompt: The lamp turns over the sea.
    image: {{shot: b, frame: last}}
  - id: a
    prompt: The keeper climbs the stairs.
  - id: b
    model: {I2V}
    prompt: The keeper lights the lamp.
    image: {{shot: a, frame: last}}
"""
DIAMOND = f"""version: 1
shots:
  - id: a
    prompt: The keeper climbs the stairs.
  - id: b
    prompt: The keeper looks out to sea.
    images: [{{shot: a, frame: first}}]
  - id: c
    prompt: The keeper winds the clock.
    images: [{{shot: a, frame: 2.5}}]
  - id: d
    model: {I2V}
    prompt: The keeper sleeps.
    image: {{shot: b, frame: last}}
    end_image: {{shot: c, frame: last}}
"""


def render(path, emulator, **kw):
    kw.setdefault("options", Options(concurrency=4, rate=0))
    env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
    return render_project(str(path), env=env, **kw)


def tasks_by_prompt(emulator) -> dict[str, list]:
    out: dict[str, list] = {}
    for task in emulator.state.tasks.values():
        out.setdefault(task.body["prompt"], []).append(task)
    return out


def uploaded(emulator, url: str) -> bytes:
    ident = re.search(r"/_media/([0-9a-f]+)/", url).group(1)
    return emulator.state.media[ident][1]


def frame_by_ffmpeg(clip: Path, number: int) -> np.ndarray:
    info = probe(clip)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(clip), "-vf", f"select=eq(n\\,{number})",
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(info.height, info.width, 3).astype(np.float64)




def cached(path: Path, key: str) -> Path:
    clip = ClipCache.at(path.parent / ".storyboard" / "cache").get(key)
    assert clip is not None
    return clip.path


def test_the_plan_knows_every_key_and_the_dependencies(project):
    plan = compile_project(str(project(CHAIN))).plan
    jobs = {j.shot: j for j in plan.jobs}
    assert [j.shot for j in plan.jobs] == ["c", "a", "b"]  # the film's order; work follows the graph
    assert jobs["b"].depends_on == ["a"] and jobs["c"].depends_on == ["b"] and jobs["a"].depends_on == []
    assert jobs["b"].request["image"] == {"shot": "a", "frame": "last", "key": jobs["a"].key}
    assert jobs["c"].request["image"] == {"shot": "b", "frame": "last", "key": jobs["b"].key}
    assert plan.total_cost > 0 and all(j.cost for j in plan.jobs)


def test_a_change_upstream_changes_every_key_downstream_and_the_diff_says_why(project, cli):
    old = project(CHAIN, name="old")
    new = project(CHAIN.replace("climbs the stairs", "climbs the spiral stairs"), name="new")
    before = {j.shot: j.key for j in compile_project(str(old)).plan.jobs}
    after = {j.shot: j.key for j in compile_project(str(new)).plan.jobs}
    assert all(before[s] != after[s] for s in "abc")
    d = cli("diff", str(old), str(new))
    assert d.code == 0, d.err
    assert "~ shot a: to re-render" in d.out and "prompt:" in d.out
    assert "~ shot b: to re-render, $0.560 to pay\n    ~ because `a` changed" in d.out
    assert "~ shot c: to re-render, $0.560 to pay\n    ~ because `b` changed" in d.out
    assert "3 to change" in d.out and "Re-render cost $1.680" in d.out
    data = json.loads(cli("diff", str(old), str(new), "--format", "json").out)
    assert data["summary"]["change"] == 3
    c = next(s for s in data["shots"] if s["shot"] == "c")
    assert c["changes"] == [{"field": "upstream", "because": ["b"], "text": "because `b` changed"}]


def test_plan_table_marks_dependent_shots(project, cli):
    out = cli("plan", str(project(DIAMOND))).out
    assert "b ← a:first" in out and "c ← a:2.5" in out and "d ← b:last, c:last" in out


def test_dependency_errors_are_positioned_and_reported_together(project, cli):
    path = project(f"""version: 1
shots:
  - id: a
    prompt: One.
    images: [{{shot: a, frame: first}}]
  - id: b
    prompt: Two.
    images: [{{shot: c, frame: first}}]
  - id: c
    prompt: Three.
    images: [{{shot: b, frame: 6}}]
  - id: d
    prompt: Four.
    images: [{{shot: bb, frame: last}}]
  - id: e
    model: {I2V}
    prompt: Five.
    image: {{shot: a, frame: 5}}
  - id: f
    model: kwaivgi/kling-video-o3-pro/video-edit
    prompt: Six.
    video: {{shot: g}}
  - id: g
    prompt: Seven.
    duration: 15
""")
    result = cli("validate", str(path))
    assert result.code == 1
    err = result.err
    assert re.search(r"storyboard.yaml:5:\d+: shots\[0\]\.images\[0\]\.shot: shot `a` cannot take a frame of itself", err)
    cycle = [line for line in err.splitlines() if "in a cycle" in line]
    assert len(cycle) == 2 and all("b → c → b" in line or "c → b → c" in line for line in cycle)
    assert all(re.search(r"`b` at \S*storyboard.yaml:6:5", line) and re.search(r"`c` at \S*storyboard.yaml:9:5", line)
               for line in cycle)
    assert re.search(r":11:\d+: shots\[2\]\.images\[0\]\.frame: 6 s is outside shot `b`", err)
    assert re.search(r":8:\d+: shots\[1\]\.images\[0\]\.shot: shots that depend", err)
    assert re.search(r":11:\d+: shots\[2\]\.images\[0\]\.shot: shots that depend", err)
    assert re.search(r":14:\d+: shots\[3\]\.images\[0\]\.shot: unknown shot `bb`; did you mean `b`\?", err)
    assert re.search(r":18:\d+: shots\[4\]\.image\.frame: 5 s is outside shot `a`, which is planned 5 s long", err)
    assert re.search(r":22:\d+: shots\[5\]\.video\.shot: shot `g` is planned 15 s long; .* 3 to 10 seconds", err)


def test_a_chain_renders_in_order_and_the_frame_sent_is_the_upstream_last_planned_frame(project):
    path = project(CHAIN)
    with Emulator(task_seconds=0.5) as emu:
        result = render(path, emu)
        assert not result.report.failed and result.film is not None
        tasks = tasks_by_prompt(emu)
        a, b, c = (tasks[p][0] for p in ("The keeper climbs the stairs.", "The keeper lights the lamp.",
                                          "The lamp turns over the sea."))
        assert emu.stats()["total_submits"] == 3
        assert b.created >= a.created + a.seconds and c.created >= b.created + b.seconds
        jobs = {j.shot: j for j in result.compiled.plan.jobs}
        clip_a = cached(path, jobs["a"].key)
        png = uploaded(emu, b.body["image"])
        sent = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.float64)
        last_planned = 5 * 24 - 1  # the clip runs 5.04 s: its last frame is not the planned one
        assert psnr(sent, frame_by_ffmpeg(clip_a, last_planned)) >= 35
        assert psnr(sent, frame_by_ffmpeg(clip_a, last_planned + 1)) < psnr(sent, frame_by_ffmpeg(clip_a, last_planned))
        lock = json.loads((path.parent / "storyboard.lock").read_text())
        digest = lock["shots"]["b"]["inputs"]["image a:last"]
        assert digest == "sha256:" + __import__("hashlib").sha256(png).hexdigest()
        assert "inputs" not in lock["shots"]["a"]
        again = render(path, emu)
        assert emu.stats()["total_submits"] == 3 and again.report.spent == 0


def test_a_diamond_runs_the_middle_shots_at_once(project):
    path = project(DIAMOND)
    with Emulator(task_seconds=1.0) as emu:
        result = render(path, emu, options=Options(concurrency=2, rate=0))
        assert not result.report.failed
        t = {task.body["prompt"].split()[2].strip("."): task for task in emu.state.tasks.values()}
        a, b, c, d = t["climbs"], t["looks"], t["winds"], t["sleeps"]
        assert b.created >= a.created + a.seconds and c.created >= a.created + a.seconds
        assert abs(b.created - c.created) < 0.9  # side by side, within the concurrency of 2
        assert d.created >= max(b.created + b.seconds, c.created + c.seconds)


def test_a_failed_shot_stops_its_dependents_and_names_it(project, cli, monkeypatch):
    path = project(DIAMOND.replace("  - id: d", "  - id: e\n    prompt: Alone at sea.\n  - id: d"))
    with Emulator(task_seconds=0.3) as emu:
        emu.add_fault(Fault("submit", "fail", times=1, match="looks out"))
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        result = cli("render", str(path), "--keep-going", "--rate", "0")
        assert result.code == 1
        assert re.search(r"shots\[4\]: not started: shot `b`, whose output it takes, failed", result.err)
        prompts = {task.body["prompt"] for task in emu.state.tasks.values()}
        assert "The keeper sleeps." not in prompts  # d was never submitted
        assert {"Alone at sea.", "The keeper winds the clock."} <= prompts  # independent shots finished
        assert "1 failed, 1 not started" in result.out


def test_kill_9_between_upstream_and_dependent_resumes_without_a_second_submit(project):
    path = project(CHAIN)
    with Emulator(task_seconds=2.0) as emu:
        env = {**os.environ, "WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
        cmd = [sys.executable, "-m", "storyboard", "render", str(path), "--rate", "0"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and emu.stats()["total_submits"] < 2:
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert emu.stats()["total_submits"] == 2  # a done and cached, b submitted, c waiting
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert emu.stats()["total_submits"] == 3 and all(n == 1 for n in emu.submits.values())


def test_a_shot_clip_as_a_video_edit_input(project):
    path = project("""version: 1
shots:
  - id: a
    prompt: The keeper climbs the stairs.
    duration: 4
    sound: true
  - id: night
    model: kwaivgi/kling-video-o3-pro/video-edit
    prompt: Make it night.
    video: {shot: a}
""")
    plan = compile_project(str(path)).plan
    night = plan.job("night")
    assert night.duration == 4 and night.request["video"] == {"shot": "a", "key": plan.job("a").key}
    with Emulator(task_seconds=0.3) as emu:
        result = render(path, emu)
        assert not result.report.failed and result.film is not None
        task = next(t for t in emu.state.tasks.values() if t.body["prompt"] == "Make it night.")
        sent = path.parent / "sent.mp4"
        sent.write_bytes(uploaded(emu, task.body["video"]))
        info = probe(sent)
        assert abs(info.duration - 4.0) < 0.03 and info.has_audio  # trimmed to a's planned length
        assert abs(probe(result.film).duration - 8.0) < 0.05


def test_preview_renders_dependent_shots_from_the_cards(project, cli):
    path = project(CHAIN)
    result = cli("render", str(path), "--provider", "preview")
    assert result.code == 0, result.err
    plan = compile_project(str(path), provider="preview").plan
    inputs = list((path.parent / ".storyboard" / "inputs").glob("*.png"))
    assert len(inputs) == 2  # a's last frame for b, b's last frame for c
    last_of_a = frame_by_ffmpeg(cached(path, plan.job("a").key), 5 * 24 - 1)
    pictures = [np.asarray(Image.open(p).convert("RGB")).astype(np.float64) for p in inputs]
    assert max(psnr(last_of_a, picture) for picture in pictures) >= 35


def test_status_names_the_upstream_change_and_frames_count_toward_the_image_limit(project, cli, monkeypatch):
    path = project(CHAIN)
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu, engine=None)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        path.write_text(CHAIN.replace("climbs the stairs", "climbs the spiral stairs"))
        rows = {r["shot"]: r for r in json.loads(cli("status", str(path), "--json").out)["shots"]}
        assert rows["a"]["state"] == "changed" and rows["a"]["reason"] == ""
        assert rows["b"]["state"] == "changed" and rows["b"]["reason"] == "because `a` changed"
        assert rows["c"]["state"] == "changed" and rows["c"]["reason"] == "because `b` changed"
    many = project("version: 1\nshots:\n  - id: a\n    prompt: One.\n  - id: b\n    prompt: Two.\n    images: ["
                   + ", ".join(f"{{shot: a, frame: {t}}}" for t in range(8)) + "]\n", name="many")
    result = cli("validate", str(many))
    assert result.code == 1 and "8 reference images is more than the model allows" in result.err
