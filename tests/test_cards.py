"""Title and end cards: drawn locally, joined like clips, cached, $0 in the plan."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import frame, psnr

from storyboard.cut import cards as cards_module
from storyboard.cut.cards import title_image
from storyboard.cut.probe import ffmpeg_exe, probe
from storyboard.cut.stitch import stitch
from storyboard.plan.project import compile_project
from storyboard.store.cache import ClipCache, cache_dir

STORY = """\
version: 1
shots:
  - {{id: one, prompt: one, duration: 3, sound: true{t1}}}
  - {{id: two, prompt: two, duration: 3, sound: true}}
cut:
  output: renders/film.mp4
  quality: 12
  title: {{text: {title}, subtitle: a short film, seconds: 2, background: "#203040"}}
  credits: {{lines: [Old Tom, Mara], seconds: 2{credits}}}
{transition}"""


def make_clip(path: Path, seconds: float, hue: int) -> Path:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=s=320x180:r=24:d={seconds}",
                    "-f", "lavfi", "-i", f"sine=f={300 + hue}:r=48000:d={seconds}",
                    "-vf", f"hue=h={hue}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-threads", "1", "-c:a", "aac", "-ac", "2", str(path)], check=True)
    return path


def carded(project, *, title="The Keeper", t1="", credits="", transition=""):
    """A project with a title and credits whose shots' clips are in the cache."""
    path = project(STORY.format(title=title, t1=t1, credits=credits, transition=transition))
    compiled = compile_project(str(path), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for n, job in enumerate(compiled.plan.jobs):
        clip = make_clip(path.parent / f"src-{job.shot}.mp4", job.duration + 0.04, hue=90 * n)
        cache.put(job.key, clip, duration=job.duration, model="m", provider="preview", task_id="t")
    return compiled, cache


def cut(compiled, cache, name="film.mp4"):
    return stitch(compiled.plan, compiled.root, cache, storyboard="s", output=compiled.root / "renders" / name)


def card_of(compiled, kind):
    return next(cs.card for cs in compiled.plan.cut.shots if cs.card is not None and cs.card.kind == kind)


def test_the_film_opens_with_the_title_as_drawn_and_ends_with_the_credits(project):
    compiled, cache = carded(project)
    film = cut(compiled, cache)
    info = probe(film)
    assert (info.width, info.height) == (320, 180)
    assert abs(info.duration - 10.0) < 0.05  # title 2 + two shots of 3 + credits 2
    drawn = np.asarray(title_image(card_of(compiled, "title"), (320, 180), compiled.root), dtype=np.float64)
    for t in (0.2, 1.0, 1.8):
        assert psnr(frame(film, t), drawn) > 30
    # the shots come after it, and the credits at the end: dark background with light letters
    assert psnr(frame(film, 3.0), drawn) < 15
    end = frame(film, 9.0)
    assert end.mean() < 40 and end.max() > 150


def test_the_card_matches_the_film_so_it_joins_by_copy(project):
    compiled, cache = carded(project)
    cut(compiled, cache)
    made = sorted(Path(cache.storage.root).glob("cards/*.mp4"))
    assert len(made) == 2
    clip = probe(cache.get(compiled.plan.jobs[0].key).path)
    for card in map(probe, made):
        assert (card.width, card.height, card.fps, card.pix_fmt, card.vcodec) == \
            (clip.width, clip.height, clip.fps, clip.pix_fmt, clip.vcodec)
        assert (card.acodec, card.rate, card.layout) == (clip.acodec, clip.rate, clip.layout)
        assert card.tbn == clip.tbn


def test_a_card_is_drawn_once_and_kept(project, monkeypatch):
    compiled, cache = carded(project)
    first = cut(compiled, cache, "a.mp4").read_bytes()
    drawn = []
    real = cards_module.encode
    monkeypatch.setattr(cards_module, "encode", lambda *a, **k: drawn.append(a[0].shot) or real(*a, **k))
    assert cut(compiled, cache, "b.mp4").read_bytes() == first
    assert drawn == []  # both cards from the cache
    story = compiled.path.read_text().replace("The Keeper", "The Lighthouse Keeper")
    compiled.path.write_text(story)
    again = compile_project(str(compiled.path), provider="preview")
    cut(again, cache, "c.mp4")
    assert drawn == ["[title]"]  # a changed title is drawn again; the credits are not


def test_crossfades_into_and_out_of_cards_blend_like_shots(project):
    compiled, cache = carded(project, t1=", transition: {type: crossfade, duration: 1}",
                             transition="  transition: {type: crossfade, duration: 1}\n")
    film = cut(compiled, cache)
    assert abs(probe(film).duration - 7.0) < 0.05  # 10 s less three overlaps of 1 s
    drawn = np.asarray(title_image(card_of(compiled, "title"), (320, 180), compiled.root), dtype=np.float64)
    shot = frame(cache.get(compiled.plan.jobs[0].key).path, 0.5)
    middle = frame(film, 1.5)  # halfway through the dissolve from the title into shot one
    assert psnr(middle, (drawn + shot) / 2) > 25
    assert psnr(middle, drawn) < psnr(middle, (drawn + shot) / 2) - 5


def test_a_fade_into_the_credits_goes_through_black(project):
    compiled, cache = carded(project, transition="  transition: {type: fade, duration: 1}\n")
    film = cut(compiled, cache)
    assert abs(probe(film).duration - 7.0) < 0.05  # 10 s less three fades of 1 s
    assert frame(film, 5.5).mean() < 8  # the midpoint of the fade into the credits (they start at 5)
    assert frame(film, 6.6).max() > 150  # the credits after it


def test_rolling_credits_move_up(project):
    compiled, cache = carded(project, credits=", style: rolling")
    film = cut(compiled, cache)
    rows = []
    for t in (8.7, 9.0, 9.3):
        picture = frame(film, t).mean(axis=(1, 2))
        rows.append(float(np.average(np.arange(picture.size), weights=picture + 1e-9)))
    assert rows[0] > rows[1] > rows[2]


def test_the_plan_lists_cards_at_no_cost(project, cli):
    compiled, _ = carded(project)
    result = cli("plan", str(compiled.path), "--provider", "preview")
    assert result.code == 0
    assert "title card" in result.out and "end card" in result.out
    data = json.loads(cli("plan", str(compiled.path), "--json").out)
    shots = data["cut"]["shots"]
    assert [s["shot"] for s in shots] == ["[title]", "one", "two", "[credits]"]
    assert shots[0]["card"]["lines"] == ["The Keeper", "a short film"] and shots[-1]["card"]["kind"] == "credits"
    assert len(data["jobs"]) == 2 and data["cut"]["duration"] == 10


def test_a_plan_without_cards_reads_as_before(project, cli):
    path = project("version: 1\nshots:\n  - {id: one, prompt: one}\n")
    data = json.loads(cli("plan", str(path), "--json").out)
    assert "card" not in data["cut"]["shots"][0] and "deliverables" not in data


@pytest.mark.parametrize("bad, words", [
    ("background: red", "is not a colour"),
    ("seconds: 0", "must be more than 0, got 0"),
])
def test_bad_cards_are_reported_at_their_place(project, cli, bad, words):
    path = project(f"version: 1\nshots:\n  - {{id: one, prompt: one}}\ncut:\n  title: {{text: T, {bad}}}\n")
    result = cli("validate", str(path))
    assert result.code == 1 and words in result.err and ":5:" in result.err and "Traceback" not in result.err


def test_the_title_is_laid_out_for_a_tall_frame():
    from storyboard.plan.finishing import CardPlan

    card = CardPlan(kind="title", lines=["A rather long title for a narrow frame"], background="#000000",
                    color="#ffffff")
    tall = np.asarray(title_image(card, (180, 320), Path(".")))
    ink = np.argwhere(tall.max(axis=2) > 128)
    assert ink[:, 1].min() > 0 and ink[:, 1].max() < 179  # wrapped inside the frame, not cut off
    assert ink[:, 0].max() - ink[:, 0].min() > 40  # on several lines


def test_cards_are_in_the_otio_export_status_and_diff(project, cli, tmp_path):
    import opentimelineio as otio

    compiled, cache = carded(project)
    stitch(compiled.plan, compiled.root, cache, storyboard="s", output=tmp_path / "f.mp4", otio=tmp_path / "f.otio")
    timeline = otio.adapters.read_from_file(str(tmp_path / "f.otio"))
    clips = [c for c in timeline.tracks[0]
             if isinstance(c, otio.schema.Clip)]
    assert [c.name for c in clips] == ["[title]", "one", "two", "[credits]"]
    assert list(clips[0].metadata["storyboard"]["card"]["lines"]) == ["The Keeper", "a short film"]  # an OTIO list
    status = json.loads(cli("status", str(compiled.path), "--provider", "preview", "--json").out)
    cards = {r["shot"]: r for r in status["shots"] if r["shot"].startswith("[")}
    assert set(cards) == {"[title]", "[credits]"} and cards["[title]"]["state"] == "drawn"
    assert status["cost"] == "0.000"  # nothing to pay for the cards (the shots are not in any lock: preview)
    before = compiled.path.read_text()
    (compiled.path.parent / "new.yaml").write_text(before.replace("The Keeper", "The Lighthouse"))
    shown = cli("diff", str(compiled.path), str(compiled.path.parent / "new.yaml"), "--provider", "preview")
    assert "cut.cards.title.lines" in shown.out and "The Lighthouse" in shown.out and "$0.000" in shown.out


def test_a_title_over_an_image_is_keyed_by_the_images_bytes(project):
    from PIL import Image

    from storyboard.cut.cards import font

    compiled, cache = carded(project)
    Image.new("RGB", (64, 36), "#c03020").save(compiled.root / "bg.png")
    story = compiled.path.read_text().replace('background: "#203040"', "image: bg.png")
    compiled.path.write_text(story)
    first = compile_project(str(compiled.path), provider="preview")
    film = cut(first, cache, "a.mp4")
    corner = frame(film, 1.0)[:20, :20].mean(axis=(0, 1))
    assert corner[0] > 150 and corner[1] < 80 and corner[2] < 80  # the image covers the frame
    Image.new("RGB", (64, 36), "#2040c0").save(compiled.root / "bg.png")
    second = compile_project(str(compiled.path), provider="preview")
    assert first.plan.cut.shots[0].key != second.plan.cut.shots[0].key  # same path, other bytes: another card
    assert frame(cut(second, cache, "b.mp4"), 1.0)[:20, :20].mean(axis=(0, 1))[2] > 150
    assert font(40).getname()[0] == "Aileron"  # Pillow's own font, on every machine
