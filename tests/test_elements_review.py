"""Kling elements where a film is reviewed: ``plan``, ``status``, ``diff``,
``textconv``, the render's summary and the preview's cards show them like
shots, and say why a shot changed when its element did."""

from __future__ import annotations

import json
import subprocess

import numpy as np
from PIL import Image

from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project
from storyboard.review.diff import diff_plans

from test_elements_render import KEY, REFS, STORY, png


def render(path, emu, **kw):
    env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
    return render_project(str(path), env=env, options=Options(concurrency=6, rate=0), engine=None, **kw)


def status_json(cli, path, url) -> dict:
    result = cli("status", str(path), "--json")
    assert result.code == 0, result.err
    return {row["shot"]: row for row in json.loads(result.out)["shots"]}


def test_status_shows_elements_new_created_and_changed_and_why_their_shots_changed(project, cli, monkeypatch):
    path = project(STORY, REFS)
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        before = status_json(cli, path, emu.url)
        assert (before["element:mara"]["state"], before["element:mara"]["cost"]) == ("new", "0.010")
        render(path, emu)
        rows = status_json(cli, path, emu.url)
        lock = json.loads((path.parent / "storyboard.lock").read_text())
        assert rows["element:mara"]["state"] == "created"
        assert rows["element:mara"]["reason"] == f"element {lock['elements']['mara']['element_id']}"
        (path.parent / "refs/mara-front.png").write_bytes(png("green"))
        rows = status_json(cli, path, emu.url)
        assert (rows["element:mara"]["state"], rows["element:tom"]["state"]) == ("changed", "created")
        assert rows["a"]["state"] == "changed" and rows["a"]["reason"] == "because element `mara` changed"
        assert rows["b"]["state"] == "here"
        text = cli("status", str(path))
        assert "element:mara  changed   $0.010" in text.out


def test_status_says_an_element_of_another_api_origin_is_not_this_one_s(project, cli, monkeypatch):
    path = project(STORY, REFS)
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu)
        made_at = emu.url
    with Emulator(task_seconds=0.2) as other:
        monkeypatch.setenv("WAVESPEED_BASE_URL", other.url)
        rows = status_json(cli, path, other.url)
    assert rows["element:tom"]["state"] == "changed"
    assert rows["element:tom"]["reason"] == (f"an element belongs to the API that made it: made at {made_at}, this "
                                             f"render goes to {other.url} (WAVESPEED_BASE_URL) and makes its own")


def test_diff_says_which_element_changed_and_why_its_shots_change(project):
    path = project(STORY, REFS)
    old = compile_project(str(path)).plan
    (path.parent / "refs/mara-front.png").write_bytes(png("green"))
    new = compile_project(str(path)).plan
    diff = diff_plans(old, new)
    by = {d.shot: d for d in diff.shots}
    assert diff.shots[0].shot == "element:mara"
    assert by["element:mara"].status == "changed" and "element:tom" not in by  # an unchanged element is no news
    assert by["element:mara"].reason == "frontal_image: refs/mara-front.png (bytes changed)"
    assert by["a"].reason == "because element `mara` changed" and by["c"].reason == "because element `mara` changed"
    assert by["d"].status == "changed"
    assert by["b"].status == "unchanged"
    assert diff.rerender_cost == 3 * new.job("a").cost + new.elements[0].cost  # a, c and d send mara


def test_textconv_shows_each_element_with_its_files_and_the_shots_that_send_it(project, cli):
    path = project(STORY, REFS)
    subprocess.run(["git", "init", "-q"], cwd=path.parent, check=True)
    out = cli("textconv", str(path)).out
    assert "element mara: kwaivgi/kling-elements-advanced $0.010, sent by a, c, d" in out
    assert "  frontal_image: refs/mara-front.png @" in out and "  refer_images: refs/mara-left.png @" in out
    assert "  element_list: element tom, element mara" in out and "{" not in out


def test_plan_lists_the_elements_first(project, cli):
    out = cli("plan", str(project(STORY, REFS))).out
    assert "7 jobs (2 Kling elements, made once)" in out
    lines = [line.split()[0] for line in out.splitlines()[3:6]]
    assert lines == ["element:mara", "element:tom", "a"]


def test_the_render_summary_counts_elements(project, cli, monkeypatch):
    path = project(STORY, REFS)
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        first = cli("render", str(path), "--rate", "0", "--no-stitch")
        assert first.code == 0 and "Elements: 2 made, 0 from the lock, 0 failed." in first.out
        assert "Spent this run: $1.700." in first.out
        (path.parent / "refs/tom-front.png").write_bytes(png("black"))
        second = cli("render", str(path), "--rate", "0", "--no-stitch", "--json")
        summary = json.loads(second.out)
        assert summary["elements"]["mara"]["state"] == "cached" and summary["elements"]["tom"]["state"] == "done"
        assert summary["elements"]["tom"]["element_id"].isdigit() and summary["rendered"] == 2


def test_the_preview_card_shows_the_frontal_image_of_each_element_the_shot_sends(project):
    path = project(STORY, {**REFS, "refs/mara-front.png": png("#ff0000"), "refs/tom-front.png": png("#0000ff")})
    result = render_project(str(path), provider="preview", env={}, engine=None)
    clips = {o.job.shot: o.clip.path for o in result.report.outcomes}

    def colours(shot: str) -> set[str]:
        from storyboard.cut.frames import extract_frame

        still = extract_frame(clips[shot], 0, path.parent / f"{shot}.png")
        pixels = np.asarray(Image.open(still).convert("RGB")).reshape(-1, 3).astype(int)
        red = np.sum((pixels[:, 0] > 200) & (pixels[:, 1] < 60) & (pixels[:, 2] < 60))
        blue = np.sum((pixels[:, 2] > 200) & (pixels[:, 0] < 60) & (pixels[:, 1] < 60))
        return {name for name, count in (("red", red), ("blue", blue)) if count > 500}

    assert colours("a") == {"red"} and colours("b") == {"blue"} and colours("c") == {"red", "blue"}
    assert colours("e") == set()


def test_the_review_site_shows_each_element_with_its_frontal_image_and_state(project, cli, monkeypatch):
    path = project(STORY, REFS)
    html_file = path.parent / ".storyboard" / "review" / "index.html"
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        assert cli("review", str(path)).code == 0
        before = html_file.read_text()
        assert "element mara: new, $0.010 to make" in before and "{&#39;" not in before
        render(path, emu)
        assert cli("review", str(path)).code == 0
    html = html_file.read_text()
    mara = json.loads((path.parent / "storyboard.lock").read_text())["elements"]["mara"]["element_id"]
    assert f"element mara: created, element {mara}" in html
    stills = list((path.parent / ".storyboard" / "review" / "media").glob("*"))
    assert stills and "element_id" not in html


def test_an_element_the_film_no_longer_sends_is_paid_not_in_the_film_until_pruned(project, cli, monkeypatch):
    path = project(STORY, REFS)
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu)
        old = json.loads((path.parent / "storyboard.lock").read_text())["elements"]["mara"]
        (path.parent / "refs/mara-front.png").write_bytes(png("green"))
        render(path, emu)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        status = json.loads(cli("status", str(path), "--json").out)
        assert {"shot": "element:mara", "take": 1, "key": old["key"], "cost": "0.010"} in status["paid_not_in_film"]
        assert cli("lock", "prune", str(path)).code == 0
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    assert "retired_elements" not in lock and set(lock["elements"]) == {"mara", "tom"}
    assert lock["elements"]["mara"]["key"] != old["key"]
