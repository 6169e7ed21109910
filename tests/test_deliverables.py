"""Deliverables: reframed from the master's clips ($0, following `focus`), or rendered again (paid once)."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import frame

from storyboard.cut.deliver import stitch_all
from storyboard.cut.probe import ffmpeg_exe, probe
from storyboard.cut.reframe import crop_box, standard_size
from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.lock import lock_path, read_lock
from storyboard.render.run import render_project
from storyboard.store.cache import ClipCache, cache_dir

KEY = "sk-test-deliverables"

STORY = """\
version: 1
shots:
  - {{id: left, prompt: someone on the left, duration: 3{focus}}}
  - {{id: plain, prompt: the sea, duration: 3}}
cut:
  output: renders/film.mp4
  title: {{text: The Keeper, seconds: 1}}
deliverables:
  - {{name: master, aspect_ratio: "16:9", output: renders/film.mp4}}
  - {{name: vertical, aspect_ratio: "9:16", output: renders/vertical.mp4{method}}}
"""


def marked_clip(path: Path, seconds: float) -> Path:
    """Black, 320x180, with a white marker near the left edge (x 8..28) and sound."""
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"color=c=black:s=320x180:r=24:d={seconds}",
                    "-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}",
                    "-vf", "drawbox=x=8:y=60:w=20:h=60:color=white:t=fill", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1", "-c:a", "aac", "-ac", "2", str(path)],
                   check=True)
    return path


def reframe_project(project, focus=""):
    path = project(STORY.format(focus=focus, method=""))
    compiled = compile_project(str(path), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for job in compiled.plan.jobs:
        clip = marked_clip(path.parent / f"src-{job.shot}.mp4", job.duration + 0.04)
        cache.put(job.key, clip, duration=job.duration, model="m", provider="preview", task_id="t")
    return compiled, cache


def marker_seen(picture) -> bool:
    return bool((picture.max(axis=2) > 200).sum() > 100)


def test_a_reframed_film_is_the_standard_size_for_its_ratio_and_costs_nothing(project):
    compiled, cache = reframe_project(project)
    vertical = next(d for d in compiled.plan.deliverables if d.name == "vertical")
    assert vertical.method == "reframe" and vertical.cost == 0 and vertical.jobs == []
    made = dict(stitch_all(compiled.plan, compiled.root, cache, storyboard="s"))
    assert set(made) == {"master", "vertical"}
    master, tall = probe(made["master"]), probe(made["vertical"])
    assert (master.width, master.height) == (320, 180)
    assert (tall.width, tall.height) == (180, 320)  # the master's short side stays the short side
    assert abs(tall.duration - master.duration) < 0.05 and tall.acodec == "aac"
    # both shots have the same clip and the centre as focus: one reframe, made once, shared
    assert len(list(Path(cache.storage.root).glob("reframed/*.mp4"))) == 1


def test_the_crop_follows_focus(project):
    compiled, cache = reframe_project(project, focus=", focus: 0.05")
    films = dict(stitch_all(compiled.plan, compiled.root, cache, storyboard="s", only="vertical"))
    assert set(films) == {"vertical"}
    film = films["vertical"]
    assert marker_seen(frame(film, 2.0))  # shot `left` (focus 0.05): its marker stays in the tall frame
    assert not marker_seen(frame(film, 5.0))  # shot `plain` (the centre): the marker is cropped away


def test_reframed_clips_are_made_once_and_a_recut_encodes_nothing(project):
    compiled, cache = reframe_project(project, focus=", focus: [0.1, 0.5]")
    first = dict(stitch_all(compiled.plan, compiled.root, cache, storyboard="s", only="vertical"))["vertical"]
    kept = sorted(Path(cache.storage.root).glob("reframed/*.mp4"))
    assert len(kept) == 2
    before = first.read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in kept}
    again = dict(stitch_all(compiled.plan, compiled.root, cache, storyboard="s", only="vertical"))["vertical"]
    assert again.read_bytes() == before
    assert {p: p.stat().st_mtime_ns for p in kept} == stamps


def test_the_title_is_drawn_for_each_films_frame(project):
    compiled, cache = reframe_project(project)
    made = dict(stitch_all(compiled.plan, compiled.root, cache, storyboard="s"))
    tall = frame(made["vertical"], 0.5)
    ink = np.argwhere(tall.max(axis=2) > 128)
    assert tall.shape[:2] == (320, 180) and len(ink) > 50
    assert ink[:, 1].min() > 2 and ink[:, 1].max() < 177  # laid out inside the narrow frame, not cropped


@settings(max_examples=200, deadline=1000)
@given(st.integers(20, 4000), st.integers(20, 4000), st.sampled_from([(9, 16), (1, 1), (4, 5), (16, 9)]),
       st.floats(0, 1), st.floats(0, 1))
def test_the_crop_is_inside_the_picture_at_the_ratio_around_the_focus(width, height, ratio, fx, fy):
    size = standard_size(f"{ratio[0]}:{ratio[1]}", 1280, 720)
    w, h, x, y = crop_box(width, height, size, [fx, fy])
    assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
    assert abs(w / h - size[0] / size[1]) < 2.5 / min(w, h) + 0.02 or w == width or h == height
    if w < width:  # the focus is in the box, or the box is against the picture's edge
        assert x <= fx * width <= x + w + 2 or x in (0, width - w)


def test_standard_sizes():
    assert standard_size("9:16", 1920, 1080) == (1080, 1920)
    assert standard_size("9:16", 1280, 720) == (720, 1280)
    assert standard_size("1:1", 1280, 720) == (720, 720)
    assert standard_size("4:5", 1920, 1080) == (1080, 1350)
    assert standard_size("9:16", 1280, 720, "1080x1920") == (1080, 1920)


def test_an_unknown_deliverable_is_a_clear_error(project, cli):
    compiled, _ = reframe_project(project)
    result = cli("stitch", str(compiled.path), "--provider", "preview", "--deliverable", "square")
    assert result.code == 2 and "square" in result.err and "master, vertical" in result.err  # a usage error
    assert "Traceback" not in result.err


def test_bad_deliverables_are_reported_at_their_place(project, cli):
    path = project("version: 1\nshots:\n  - {id: one, prompt: one}\ndeliverables:\n"
                   "  - {name: a, aspect_ratio: \"9:16\", output: a.mp4}\n"
                   "  - {name: a, aspect_ratio: \"1:1\", output: b.mp4}\n"
                   "  - {name: c, aspect_ratio: \"1:1\", output: ../c.mp4}\n")
    result = cli("validate", str(path))
    assert result.code == 1 and "Traceback" not in result.err
    assert ":6:" in result.err and "duplicate deliverable name `a`" in result.err
    assert ":7:" in result.err and "inside the project folder" in result.err
    path.write_text(path.read_text().replace("output: ../c.mp4", "output: c.mp4").replace('"1:1"', "wide"))
    result = cli("validate", str(path))
    assert result.code == 1 and ":6:" in result.err and "not an aspect ratio" in result.err


# -- render: every shot again at the deliverable's ratio, priced and paid once, against the emulator --

@pytest.fixture
def emulator():
    with Emulator(task_seconds=0.2) as emu:
        yield emu


def test_a_rendered_deliverable_is_priced_and_paid_once(project, emulator, cli):
    path = project(STORY.format(focus="", method=", method: render"))
    env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
    plan = compile_project(str(path), base_url=emulator.url).plan
    vertical = next(d for d in plan.deliverables if d.name == "vertical")
    assert [j.shot for j in vertical.jobs] == ["left@vertical", "plain@vertical"]
    assert all(j.request["aspect_ratio"] == "9:16" for j in vertical.jobs)
    assert not {j.key for j in vertical.jobs} & {j.key for j in plan.jobs}
    assert vertical.cost == sum(j.cost for j in vertical.jobs) > 0
    assert plan.total_cost == sum(j.cost for j in plan.jobs) + vertical.cost

    first = render_project(str(path), env=env, options=Options(concurrency=4, rate=0))
    assert emulator.stats()["total_submits"] == 4
    assert Decimal(str(first.report.spent)) == plan.total_cost
    assert dict(first.films).keys() == {"master", "vertical"}
    tall = probe(dict(first.films)["vertical"])
    assert tall.height > tall.width
    lock = read_lock(lock_path(path))
    assert {"left", "plain", "left@vertical", "plain@vertical"} <= set(lock.shots)

    second = render_project(str(path), env=env, options=Options(concurrency=4, rate=0))
    assert emulator.stats()["total_submits"] == 4 and second.report.spent == 0
    assert all(count == 1 for count in emulator.submits.values())
    assert {"left@vertical", "plain@vertical"} <= set(read_lock(lock_path(path)).shots)  # kept, not retired

    shown = cli("plan", str(path))
    assert "vertical (9:16, render)" in shown.out and "left@vertical" in shown.out


def test_render_with_deliverable_renders_only_that_films_jobs(project, emulator):
    path = project(STORY.format(focus="", method=", method: render"))
    env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
    result = render_project(str(path), env=env, options=Options(concurrency=4, rate=0), deliverable="vertical")
    assert emulator.stats()["total_submits"] == 2
    assert [name for name, _ in result.films] == ["vertical"]
    assert not (path.parent / "renders" / "film.mp4").exists()


def test_a_ratio_the_models_do_not_offer_is_reported_at_the_deliverable(project, cli):
    path = project("version: 1\nshots:\n  - {id: one, prompt: one}\ndeliverables:\n"
                   "  - {name: tall, aspect_ratio: \"4:5\", output: tall.mp4, method: render}\n")
    result = cli("validate", str(path))
    assert result.code == 1 and ":5:" in result.err and "deliverables[0].aspect_ratio" in result.err
    assert "4:5" in result.err and "Traceback" not in result.err


def test_status_and_diff_know_a_rendered_deliverable(project, cli):
    path = project(STORY.format(focus="", method=", method: render"))
    status = json.loads(cli("status", str(path), "--json").out)
    rows = {r["shot"]: r for r in status["shots"]}
    assert rows["left@vertical"]["state"] == "new" and rows["plain@vertical"]["state"] == "new"
    plan = compile_project(str(path)).plan
    assert Decimal(status["cost"]) == plan.total_cost  # the master's shots and the 9:16 ones
    (path.parent / "new.yaml").write_text(path.read_text().replace("method: render", "method: reframe"))
    shown = cli("diff", str(path), str(path.parent / "new.yaml"))
    assert "left@vertical" in shown.out and "deliverables.vertical.method" in shown.out


def test_render_reframes_each_clip_as_it_lands_so_the_cut_encodes_none(project, emulator, monkeypatch):
    import threading

    from storyboard.cut import reframe

    encodes = []
    real = reframe.ffmpeg
    monkeypatch.setattr(reframe, "ffmpeg", lambda args, what: encodes.append(threading.current_thread().name)
                        or real(args, what))
    path = project(STORY.format(focus=", focus: 0.1", method=""))
    env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
    result = render_project(str(path), env=env, options=Options(concurrency=4, rate=0))
    assert [name for name, _ in result.films] == ["master", "vertical"]
    assert len(encodes) == 2 and all(name.startswith("ready") for name in encodes)  # none in the cut
    tall = probe(dict(result.films)["vertical"])
    assert (tall.width, tall.height) == (180, 320)  # the emulator's 320x180 clips, reframed
