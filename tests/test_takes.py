"""Takes: a shot rendered more than once, each take a job of its own, paid once,
all in the lock; the film uses the take the storyboard chooses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard.cut.probe import probe
from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator
from storyboard.providers.emulator.server import body_digest
from storyboard.render.executor import Options
from storyboard.render.run import render_project
from storyboard.store.cache import ClipCache

from conftest import frame, git, psnr

KEY = "sk-takes-key"
FILM = """version: 1
shots:
  - id: s1
    prompt: A lighthouse keeper climbs the stairs at dusk.
    duration: 5
  - id: s2
    prompt: Waves break over the rocks.
"""


def render(path, emulator, **kw):
    kw.setdefault("options", Options(concurrency=4, rate=0))
    env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
    return render_project(str(path), env=env, **kw)


def submits(emulator, path: Path, shot: str) -> int:
    """How many times the emulator was sent this shot's request (every take sends the same)."""
    job = compile_project(str(path), base_url=emulator.url).plan.job(shot)
    return emulator.stats()["submits"].get(body_digest({"model": job.model, **job.request}), 0)


def choose(path: Path, shot: str, take: int) -> None:
    text = path.read_text()
    lines, out, inside = text.splitlines(), [], False
    for line in lines:
        if line.strip().startswith("- id:"):
            inside = line.split(":", 1)[1].strip() == shot
        if inside and line.strip().startswith("take:"):
            continue
        out.append(line)
        if inside and line.strip().startswith("- id:"):
            out.append(f"    take: {take}")
    path.write_text("\n".join(out) + "\n")


def clip_of(film: Path, key: str) -> Path:
    clip = ClipCache.at(film.parent / ".storyboard" / "cache").get(key)
    assert clip is not None, key
    return clip.path






@pytest.fixture
def film(project):
    return project(FILM)


def test_take_one_keeps_the_key_a_shot_had_before_takes_existed(film):
    # Pinned from the code before takes: existing films, locks and caches are unchanged.
    plan = compile_project(str(film)).plan
    assert [j.key for j in plan.jobs] == ["23f4c78535ae8d698602a66bf00d79d5e7cb00dc0a109ad4a8540b99f586056b",
                                          "776cda0b03f922419012f1216c268fe7a9fc0c5064b1e18bbce009547d9dab55"]
    choose(film, "s1", 2)
    two = compile_project(str(film)).plan
    assert two.jobs[0].take == 2 and two.jobs[0].key != plan.jobs[0].key
    assert two.jobs[0].request == plan.jobs[0].request  # the same request goes to the provider
    assert two.jobs[1].key == plan.jobs[1].key


def test_takes_render_once_each_are_all_locked_and_choosing_a_paid_take_costs_nothing(film, cli, monkeypatch):
    with Emulator(task_seconds=0.2) as emu:
        first = render(film, emu, takes={"s1": 3})
        assert not first.report.failed
        assert submits(emu, film, "s1") == 3 and submits(emu, film, "s2") == 1
        assert emu.stats()["total_submits"] == 4
        again = render(film, emu, takes={"s1": 3})
        assert emu.stats()["total_submits"] == 4 and again.report.spent == 0

        lock = json.loads((film.parent / "storyboard.lock").read_text())
        assert set(lock["shots"]) == {"s1", "s2"} and set(lock["takes"]["s1"]) == {"2", "3"}
        takes = compile_project(str(film), base_url=emu.url, takes={"s1": 3}).plan.takes
        assert {t.take: t.key for t in takes} == {n: lock["takes"]["s1"][str(n)]["key"] for n in (2, 3)}
        for entry in lock["takes"]["s1"].values():
            assert entry["task_id"] and entry["clip"].startswith("sha256:") and entry["cost"] == "0.56"
            assert entry["completed_at"] and entry["duration"] > 5

        # The emulator returns a different picture for each take.
        clips = [clip_of(film, k).read_bytes() for k in [first.compiled.plan.jobs[0].key] + [t.key for t in takes]]
        assert len(set(clips)) == 3

        # Choose take 2: a re-cut with no submit, and the film shows take 2.
        choose(film, "s1", 2)
        chosen = render(film, emu)
        assert emu.stats()["total_submits"] == 4 and chosen.report.spent == 0
        take2 = next(o.clip.path for o in first.report.outcomes if o.job.label == "s1#2")
        take1 = next(o.clip.path for o in first.report.outcomes if o.job.label == "s1")
        assert psnr(frame(chosen.film, 2.0), frame(take2, 2.0)) >= 35
        assert psnr(frame(chosen.film, 2.0), frame(take1, 2.0)) < 30

        # Take 4 is not paid: plan, status and render say so, and render pays for it alone.
        choose(film, "s1", 4)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        plan = cli("plan", str(film))
        assert "s1#4" in plan.out and "$0.560" in plan.out
        status = cli("status", str(film), "--json")
        row = next(r for r in json.loads(status.out)["shots"] if r["shot"] == "s1")
        assert row["state"] == "new" and row["cost"] == "0.560" and "take 4" in row["reason"]
        render(film, emu)
        assert emu.stats()["total_submits"] == 5
        lock = json.loads((film.parent / "storyboard.lock").read_text())
        assert set(lock["takes"]["s1"]) == {"2", "3", "4"} and "s1" in lock["shots"]


def test_takes_listing_and_contact_sheets(film, cli, monkeypatch, tmp_path):
    with Emulator(task_seconds=0.2) as emu:
        render(film, emu, takes={"s1": 3}, engine=None)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        choose(film, "s1", 2)
        listed = cli("takes", str(film), "s1", "--json")
        assert listed.code == 0, listed.err
        rows = json.loads(listed.out)["takes"]
        assert [(r["take"], r["where"], r["chosen"]) for r in rows] == [(1, "here", False), (2, "here", True),
                                                                        (3, "here", False)]
        assert all(r["cost"] == "0.560" and r["length"] > 5 for r in rows)
        text = cli("takes", str(film))
        assert text.code == 0 and "s2" in text.out and "*2" in text.out

        sheet = tmp_path / "s1.mp4"
        made = cli("takes", str(film), "s1", "--sheet", str(sheet))
        assert made.code == 0, made.err
        info = probe(sheet)
        assert (info.width, info.height) == (2 * 320, 2 * 180)  # three 320×180 takes: a 2×2 grid
        assert abs(info.duration - 5.04) < 0.05 and info.has_audio is False
        picture = frame(sheet, 2.0)
        tiles = [picture[r * 180:(r + 1) * 180, c * 320:(c + 1) * 320] for r, c in ((0, 0), (0, 1), (1, 0))]
        # Each tile is its take (the label covers a corner: compare below it), the fourth cell is empty.
        plan = compile_project(str(film), base_url=emu.url, takes={"s1": 3}).plan
        keys = {j.take: j.key for j in plan.all_jobs if j.shot == "s1"}
        for n, tile in zip((1, 2, 3), tiles):
            own = frame(clip_of(film, keys[n]), 2.0)
            assert psnr(tile[60:170, 20:300], own[60:170, 20:300]) >= 30, f"take {n}"
        assert picture[200:340, 340:620].max() < 20
        # The labels: the chosen take's tile is framed in the accent colour, the others are not.
        accent = np.array([224, 168, 74])
        assert np.abs(tiles[1][90, 1] - accent).max() < 40
        assert np.abs(tiles[0][90, 1] - accent).max() > 60

        still = tmp_path / "s1.png"
        assert cli("takes", str(film), "s1", "--sheet", str(still)).code == 0
        with Image.open(still) as img:
            assert img.size == (3 * 320, 3 * 180)  # a row per take: first, middle, last


def test_a_diff_names_the_take_change_and_the_takes_paid_for(repo, cli, monkeypatch):
    path = repo / "storyboard.yaml"
    path.write_text(FILM)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "film")
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        render(path, emu, takes={"s1": 3}, engine=None)
        choose(path, "s1", 3)
        d = cli("diff", "--base", "HEAD", str(path))
        assert d.code == 0, d.err
        assert "~ shot s1: re-cut only, $0.000" in d.out and "take: 1 → 3" in d.out
        assert "+ take s1#2: paid $0.560, not in the film" in d.out
        assert "+ take s1#3: paid $0.560, in the film" in d.out
        assert "4 takes added to the lock, $2.240" in d.out  # s1 1–3 and s2 1: the first render of the film
        choose(path, "s1", 5)
        d = cli("diff", "--base", "HEAD", str(path), "--format", "json")
        shot = next(s for s in json.loads(d.out)["shots"] if s["shot"] == "s1")
        assert shot["status"] == "changed" and shot["cost"] == "0.560"
        assert {"field": "take", "before": 1, "after": 5} in shot["changes"]


def test_preview_takes_are_free_and_their_cards_say_which_take(film, cli, tmp_path):
    result = cli("render", str(film), "--provider", "preview", "--takes", "s1=2", "--no-stitch")
    assert result.code == 0, result.err
    assert "Spent this run: $0.000" in result.out
    plan = compile_project(str(film), provider="preview", takes={"s1": 2}).plan
    clips = [frame(clip_of(film, job.key), 1.0) for job in (plan.jobs[0], plan.takes[0])]
    corner = (slice(0, 90), slice(400, 640))  # where the card writes its take number
    assert psnr(clips[0][corner], clips[1][corner]) < 30
    sheet = cli("takes", str(film), "s1", "--provider", "preview", "--sheet", str(tmp_path / "p.png"))
    assert sheet.code == 0, sheet.err


@pytest.mark.parametrize("args, message", [
    (["--takes", "all=21"], "more than 20 takes of every shot is refused"),
    (["--takes", "s3=2"], "there is no such shot"),
    (["--takes", "s1=0"], "write SHOT=N"),
    (["--takes", "s1"], "write SHOT=N"),
    (["--takes", "s1=101"], "at most 100 takes"),
])
def test_bad_takes_are_refused_before_anything(film, cli, args, message):
    result = cli("plan", str(film), *args)
    assert result.code == 2 and message in result.err


def test_a_take_past_twenty_needs_takes_to_ask_for_it(film, cli, monkeypatch):
    choose(film, "s1", 25)
    plan = cli("plan", str(film))
    assert plan.code == 0 and "--takes s1=25" in plan.err
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        refused = cli("render", str(film))
        assert refused.code == 2 and "--takes s1=25" in refused.err and emu.stats()["total_submits"] == 0
        cost = cli("plan", str(film), "--takes", "s1=25")
        assert "26 jobs" in cost.out


def test_max_cost_counts_the_takes(film, cli, monkeypatch):
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        refused = cli("render", str(film), "--takes", "s1=3", "--max-cost", "2")
        assert refused.code == 4 and "$2.240" in refused.err and emu.stats()["total_submits"] == 0
