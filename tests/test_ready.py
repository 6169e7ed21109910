"""The render readies each clip for the cut as it lands (its loudness, the tail of its smart
render), so the cut after the render does only what needs the whole film."""

from __future__ import annotations

import threading

import storyboard.cut.sound as sound
import storyboard.cut.stitch as stitch_module
from storyboard.cut.ready import ready_clip
from storyboard.cut.stitch import stitch
from storyboard.render.run import render_project
from test_fastcut import SECONDS, decode_errors, encoders, film, frames, make_clip
from conftest import psnr


def measured(monkeypatch) -> list[str]:
    """For each loudness measurement: "cut" if the cut made it, else "render"."""
    seen: list[str] = []
    cutting = threading.Event()
    real, real_stitch = sound.measure_graphs, stitch_module.stitch

    def stitching(*a, **k):
        cutting.set()
        try:
            return real_stitch(*a, **k)
        finally:
            cutting.clear()

    monkeypatch.setattr(sound, "measure_graphs", lambda *a: seen.append("cut" if cutting.is_set() else "render")
                        or real(*a))
    monkeypatch.setattr(stitch_module, "stitch", stitching)
    return seen


def test_a_readied_b_frame_clip_is_cut_with_no_encode_and_no_measure(project, tmp_path, monkeypatch):
    clips = [make_clip(tmp_path / f"c{k}.mp4", k) for k in range(3)]
    compiled, cache = film(project, tmp_path, clips)
    for cs in compiled.plan.cut.shots:
        ready_clip(cache.get(cs.key).path, cs.duration, compiled.plan.cut, cache)
    runs, seen = encoders(monkeypatch), measured(monkeypatch)
    out = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    assert [r for r in runs if "sound" not in r] == [] and seen == []  # tails and loudness were ready
    assert decode_errors(out) == ""
    n = SECONDS * 24
    assert psnr(frames(out)[2 * n - 1], frames(clips[1])[n - 1]) >= 35  # a tail frame, frame-exact


def test_the_cut_after_a_render_measures_no_clip_again(project, monkeypatch):
    path = project("version: 1\nshots:\n" + "".join(f"  - {{id: s{k}, prompt: shot {k}, duration: 3, sound: true}}\n"
                                                    for k in range(4)) + "cut:\n  output: film.mp4\n")
    seen = measured(monkeypatch)
    result = render_project(str(path), provider="preview")
    assert result.film is not None and result.film.exists()
    assert seen == ["render"] * 4  # each clip measured as it landed, none again by the cut


def test_nothing_is_readied_without_a_cut(project, monkeypatch):
    path = project("version: 1\nshots:\n  - {id: a, prompt: a, duration: 3}\ncut:\n  output: film.mp4\n")
    seen = measured(monkeypatch)
    render_project(str(path), provider="preview", engine=None)
    assert seen == []
