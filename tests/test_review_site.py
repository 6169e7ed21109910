"""``storyboard review`` and ``apply-review``: the static site built from an
emulator render with takes and a base revision, and decisions written back
into the storyboard changing only the lines they change."""

from __future__ import annotations

import json

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import frame, git, psnr
from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project
from storyboard.review.approvals import approvals
from storyboard.review.site.build import Options as SiteOptions, build_site
from storyboard.store.cache import ClipCache

BASE_FILM = """version: 1
title: Review <test> & co
# the opening
shots:
  - id: s1
    prompt: A keeper climbs the lighthouse stairs at dusk.   # kept as written
    duration: 3

  - {id: s2, prompt: "Waves break over the rocks.", duration: 3}
  - id: s3
    image: {shot: s1, frame: last}
    model: kwaivgi/kling-video-o3-pro/image-to-video
    prompt: The lamp turns over a calm sea.
    duration: 3
"""
CHANGED = "Waves break hard over the black rocks."


@dataclass
class Site:
    repo: Path
    film: Path
    index: Path
    url: str  # the emulator's: part of every job key

    @property
    def out(self) -> Path:
        return self.index.parent

    def cache(self) -> ClipCache:
        return ClipCache.at(self.repo / ".storyboard" / "cache")

    def plan(self):
        return compile_project(str(self.film), base_url=self.url).plan


def _render(film: Path, emu, **kw):
    env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": "sk-review-site"}
    result = render_project(str(film), env=env, options=Options(concurrency=4, rate=0), **kw)
    assert not result.report.failed
    return result


def make_site(root: Path, monkeypatch) -> Site:
    """A repository: the film rendered and committed (the base), then s2's prompt changed and
    rendered again, with three takes of s1; the site built against HEAD."""
    root.mkdir()
    film = root / "storyboard.yaml"
    film.write_text(BASE_FILM)
    (root / ".gitignore").write_text(".storyboard/\nrenders/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    monkeypatch.chdir(root)
    with Emulator(task_seconds=0.05) as emu:
        _render(film, emu)
        git(root, "add", "-A")
        git(root, "commit", "-qm", "the film")
        film.write_text(BASE_FILM.replace("Waves break over the rocks.", CHANGED))
        _render(film, emu, takes={"s1": 3})
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        index = build_site(str(film), SiteOptions(base="HEAD", base_url=emu.url))
        return Site(root, film, index, emu.url)


@pytest.fixture
def built_site(tmp_path, monkeypatch) -> Site:
    return make_site(tmp_path / "repo", monkeypatch)


def srcs(html: str, attr: str) -> list[str]:
    return re.findall(rf'{attr}="([^"]+)"', html)


def test_the_site_is_self_contained_and_its_media_are_placed_by_content(built_site):
    site = built_site
    html = site.index.read_text()
    assert site.index == site.repo / ".storyboard" / "review" / "index.html"
    # No network: every script, style and picture is a file of the site.
    for text in [html, *(p.read_text() for p in (site.out / "static").iterdir())]:
        assert not re.search(r"(src|href)=\"(https?:)?//", text) and "url(http" not in text
    refs = set(srcs(html, "src") + srcs(html, "href") + srcs(html, "data-src") + srcs(html, "poster"))
    for ref in refs:
        assert (site.out / ref).is_file(), ref
    cache = site.cache()
    for job in site.plan().jobs:
        clip = cache.get_local(job.key)
        placed = site.out / "media" / f"{clip.record.sha256}.mp4"
        assert hashlib.sha256(placed.read_bytes()).hexdigest() == clip.record.sha256
        assert placed.stat().st_ino == clip.path.stat().st_ino  # hard-linked, not copied
        assert f'data-src="media/{clip.record.sha256}.mp4"' in html


def test_posters_are_the_clips_first_frames(built_site):
    html = built_site.index.read_text()
    pairs = re.findall(r'poster="(media/[0-9a-f]{64}\.jpg)" data-src="(media/[0-9a-f]{64}\.mp4)"', html)
    assert len(pairs) >= 6
    for poster, clip in pairs:
        still = np.asarray(Image.open(built_site.out / poster).convert("RGB"), dtype=np.float64)
        first = frame(built_site.out / clip, 0)
        second = frame(built_site.out / clip, 1 / 24)  # the clips run at 24 frames a second
        # JPEG of a busy test picture: ~30 dB against its own frame, ~21 dB against the next one.
        assert psnr(still, first) >= 28 and psnr(still, first) > psnr(still, second) + 5, poster


def test_cards_takes_before_after_and_the_summary(built_site):
    html = built_site.index.read_text()
    assert "<h1>Review &lt;test&gt; &amp; co</h1>" in html  # autoescaped
    cards = re.findall(r'<article class="shot" id="shot-(\w+)"', html)
    assert cards == ["s1", "s2", "s3"]
    s1 = html.split('id="shot-s1"')[1].split("</article>")[0]
    assert [int(n) for n in re.findall(r'name="take-s1" value="(\d)"', s1)] == [1, 2, 3]
    assert len(set(re.findall(r'data-sha256="(\w+)"', s1))) == 3  # three different clips side by side
    assert "<details>" in s1  # unchanged against the base: folded away
    s2 = html.split('id="shot-s2"')[1].split("</article>")[0]
    assert "<details open>" in s2 and "<ins> hard</ins>" in s2 and "<ins>black </ins>" in s2
    old = re.search(r'class="old".*?data-sha256="(\w+)"', s2).group(1)
    new = re.search(r'class="new".*?data-sha256="(\w+)"', s2).group(1)
    assert old != new
    assert "Plan: 0 to add, 1 to change, 0 to remove. Re-render cost $0.336" in html
    s3 = html.split('id="shot-s3"')[1].split("</article>")[0]
    assert "<details>" in s3 and 'class="change' not in s3 and "image: s1:last" in s3
    still = re.search(r'<img loading="lazy" src="(media/[0-9a-f]{64}-last\.png)" alt="image: s1:last">', s3).group(1)
    s1_clip = built_site.cache().get_local(built_site.plan().job("s1").key).path
    picture = np.asarray(Image.open(built_site.out / still).convert("RGB"), dtype=np.float64)
    assert psnr(picture, frame(s1_clip, 3 - 1 / 24)) >= 40  # the frame s3 starts from: s1's last planned one
    assert "planned <b>$1.008</b> · spent <b>$2.016</b> · left to pay <b>$0.000</b>" in html  # 6 clips of 3 s paid
    vtt = (built_site.out / "chapters.vtt").read_text()
    assert vtt.startswith("WEBVTT\n") and "00:00:03.000 --> 00:00:06.000\ns2" in vtt


def decisions_text(site: Site, picks: dict[str, tuple[int, str, str]], keys: dict[str, str] | None = None) -> str:
    """A decisions file as the page exports it: per shot (take, verdict, note)."""
    plan = site.plan()
    rows = []
    for shot, (take, verdict, note) in picks.items():
        from storyboard.catalog import load_catalog
        from storyboard.plan.takes import take_of

        job = plan.job(shot)
        key = (keys or {}).get(shot) or (job.key if job.take == take else
                                          take_of(job, take, plan.provider, plan.origin, load_catalog(plan.provider)).key)
        rows.append(f'  - shot: "{shot}"\n    take: {take}\n    key: "{key}"\n'
                    + (f"    verdict: {verdict}\n" if verdict else "") + (f'    note: "{note}"\n' if note else ""))
    head = '# Review decisions: apply with `storyboard apply-review FILE`\nversion: 1\nstoryboard: "storyboard.yaml"\n'
    return head + 'revision: "0123456789abcdef"\ndecisions:\n' + "".join(rows)


def test_apply_review_writes_the_takes_and_nothing_else_and_keeps_the_verdicts_beside(built_site, cli, tmp_path):
    site = built_site
    before = site.film.read_bytes()
    file = tmp_path / "decisions.yaml"
    file.write_text(decisions_text(site, {"s1": (2, "approved", "the second is steadier"), "s2": (1, "retake", "")}))
    result = cli("apply-review", str(file), str(site.film))
    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == ["s1: take 2 (was 1), approved, a note", "s2: take 1, retake"]
    expected = before.replace(b"  - id: s1\n", b"  - id: s1\n    take: 2\n")
    assert site.film.read_bytes() == expected
    marks = approvals(compile_project(str(site.film), base_url=site.url))
    assert (marks["s1"].state, marks["s1"].take, marks["s2"].state) == ("approved", 2, "retake")
    assert marks["s1"].notes[0].text == "the second is steadier" and marks["s1"].revision == "0123456789abcdef"
    review = (site.repo / "storyboard.review.yaml").read_text()
    assert review.startswith("# Review decisions on storyboard.yaml") and "verdict: approved" in review
    # The next site shows them; a shot changed after its approval is no longer approved.
    html = build_site(str(site.film), SiteOptions(base_url=site.url)).read_text()
    assert 'approval-approved">approved' in html and "the second is steadier" in html
    site.film.write_text(site.film.read_text().replace("at dusk.", "at night."))
    marks = approvals(compile_project(str(site.film), base_url=site.url))
    assert marks["s1"].state == "changed since approval" and marks["s2"].state == "retake"


def test_status_shows_approvals_and_drops_one_when_the_shot_changes(built_site, cli, tmp_path, monkeypatch):
    site = built_site
    file = tmp_path / "decisions.yaml"
    file.write_text(decisions_text(site, {"s1": (2, "approved", ""), "s2": (1, "retake", "")}))
    assert cli("apply-review", str(file), str(site.film)).code == 0
    monkeypatch.setenv("WAVESPEED_BASE_URL", site.url)
    rows = {r["shot"]: r["approval"] for r in json.loads(cli("status", str(site.film), "--json").out)["shots"]}
    assert rows["s1"] == "approved" and rows["s2"] == "retake"
    assert "[approved]" in cli("status", str(site.film)).out
    site.film.write_text(site.film.read_text().replace("at dusk.", "at night."))
    rows = {r["shot"]: r["approval"] for r in json.loads(cli("status", str(site.film), "--json").out)["shots"]}
    assert rows["s1"] == "changed since approval"


def test_a_decision_on_a_shot_changed_since_is_refused_and_the_rest_apply(built_site, cli, tmp_path):
    site = built_site
    old_key = compile_project(str(site.film), base_url=site.url).plan.job("s2").key
    site.film.write_text(site.film.read_text().replace(CHANGED, "Waves crash over the black rocks."))
    file = tmp_path / "decisions.yaml"
    file.write_text(decisions_text(site, {"s1": (3, "", ""), "s2": (1, "approved", "")}, keys={"s2": old_key}))
    result = cli("apply-review", str(file), str(site.film))
    assert result.code == 1
    assert result.out.startswith("s1: take 3 (was 1)\n")
    assert ("refused s2: changed since 0123456789ab (take 1 would now be another request than the one "
            "reviewed); review it again") in result.err
    assert "    take: 3\n" in site.film.read_text() and "s2" not in (site.repo / "storyboard.review.yaml").read_text()


@pytest.mark.parametrize("text, problem", [
    ("version: 1\nstoryboard: storyboard.yaml\ndecisions:\n  - shot: s1\n    take: 0\n    key: x\n",
     "decisions[0].take: Input should be greater than or equal to 1"),
    ("version: 2\nstoryboard: storyboard.yaml\ndecisions: []\n", "version: Input should be 1"),
    ("{{{", "not a decisions file (not readable YAML)"),
    ("version: 1\nstoryboard: teaser.yaml\ndecisions: []\n", "the decisions are for teaser.yaml, not storyboard.yaml"),
])
def test_a_bad_decisions_file_is_named_and_nothing_changes(built_site, cli, tmp_path, text, problem):
    before = built_site.film.read_bytes()
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    result = cli("apply-review", str(file), str(built_site.film))
    assert result.code == 1 and result.err.startswith(f"error: {file}: ") and problem in result.err, result.err
    assert "Traceback" not in result.err and built_site.film.read_bytes() == before


def test_media_url_refers_to_the_clips_instead_of_copying_them(built_site, cli, tmp_path):
    out = tmp_path / "site"
    result = cli("review", str(built_site.film), "--out", str(out), "--media-url", "https://cdn.example.invalid/films/")
    assert result.code == 0, result.err
    assert result.out.strip() == str(out / "index.html")
    html = (out / "index.html").read_text()
    clips = set(re.findall(r'data-src="([^"]+\.mp4)"', html))
    sha = built_site.cache().get_local(built_site.plan().job("s2").key).record.sha256
    assert f"https://cdn.example.invalid/films/objects/{sha[:2]}/{sha}.mp4" in clips
    assert all(c.startswith("https://cdn.example.invalid/films/objects/") for c in clips)
    assert not list((out / "media").glob("*.mp4")) and (out / "media" / f"{sha}.jpg").is_file()  # posters are here


def test_review_of_a_missing_storyboard_is_an_error_not_a_traceback(tmp_path, cli):
    result = cli("review", str(tmp_path / "nope.yaml"))
    assert result.code == 1 and result.err.startswith("error: ") and "Traceback" not in result.err


def test_element_ids_are_shown_as_ids_not_python_values(project, cli):
    path = project('version: 1\ncharacters:\n  mara:\n    name: Mara\n    element_id: "307212335131305"\n'
                   'shots:\n  - id: a\n    prompt: Mara waits.\n    characters: [mara]\n')
    result = cli("review", str(path), "--provider", "preview")
    assert result.code == 0, result.err
    html = (path.parent / ".storyboard" / "review" / "index.html").read_text()
    assert "element 307212335131305" in html and "element_id" not in html and "{&#39;" not in html
