"""Captions in the cut film: the .srt and .vtt beside it, the soft ``mov_text`` track in it
(written with the film: no picture encoded, and none on a re-cut after a caption
change), burned captions that change only their box, and both engines agreeing."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from storyboard.cut.burn import box
from storyboard.cut.mp4 import tracks
from storyboard.cut.probe import ffmpeg_exe, probe
from storyboard.cut.stitch import stitch
from storyboard.cut.subtitles import read_text_track
from storyboard.format.captions import CaptionStyle
from storyboard.plan.project import compile_project
from storyboard.store.cache import ClipCache, cache_dir

FPS, SIZE = 24, (320, 180)

STORY = """\
version: 1
shots:
  - id: one
    prompt: one
    duration: 3
  - id: two
    prompt: two
    duration: 3
    transition: {{type: crossfade, duration: 0.5}}
    caption: {two}
  - id: three
    prompt: three
    duration: 3
    dialogue:
      - {{speaker: Ann, line: First line, start: 0.25, end: 1.5}}
      - {{speaker: Bob, line: "Second, & last", start: 1.5, end: 2.5}}
cut:
  output: renders/film.mp4
  quality: 12
  captions: {mode}
"""


def make_clip(path: Path, k: int, seconds: float) -> Path:
    """A provider-like clip: x264's defaults (B-frames), its own sound, a little longer than planned."""
    source = ["testsrc2", "mandelbrot", "rgbtestsrc"][k % 3]
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}=s={SIZE[0]}x{SIZE[1]}:r={FPS}",
                    "-f", "lavfi", "-i", f"sine=f={300 + 100 * k}:r=48000:d={seconds}",
                    "-vf", f"hue=h={k * 50},trim=duration={seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-ac", "2", "-t", f"{seconds}", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    return [make_clip(folder / f"clip{k}.mp4", k, 3.04) for k in range(3)]


def captioned(project, clips, *, two="Out at sea", mode="soft", name="proj"):
    path = project(STORY.format(two=two, mode=mode), name=name)
    compiled = compile_project(str(path), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for cs, clip in zip(compiled.plan.cut.shots, clips):
        cache.put(cs.key, clip, duration=cs.duration, model="m", provider="preview", task_id="t")
    return compiled, cache


def cut(compiled, cache, engine="ffmpeg", name="film.mp4") -> Path:
    return stitch(compiled.plan, compiled.root, cache, storyboard="s", engine=engine,
                  output=compiled.root / "renders" / name)


def srt_cues(text: str) -> list[tuple[str, str, str]]:
    return re.findall(r"(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})\n(.*?)\n\n", text, re.S)


def streams(path: Path) -> str:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def decoded_subtitles(path: Path) -> str:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:s:0", "-f", "srt", "-"],
                          capture_output=True, text=True, check=True).stdout


def picture_digest(path: Path) -> str:
    """The picture track's samples, as bytes: equal only when no frame was encoded differently."""
    video = tracks(path)[b"vide"]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for offset, size in video.samples:
            f.seek(offset)
            digest.update(f.read(size))
    return digest.hexdigest()


def frames(path: Path) -> np.ndarray:
    info = probe(path)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width, 3).astype(np.int16)


EXPECTED = [  # two starts at 2.5 s (3 - 0.5 crossfade); three at 5.5 s, its lines at +0.25 and +1.5
    ("00:00:02,500", "00:00:05,500", "Out at sea"),
    ("00:00:05,750", "00:00:07,000", "First line"),
    ("00:00:07,000", "00:00:08,000", "Second, & last"),
]


def test_soft_captions_are_files_and_a_track_timed_on_the_timeline(project, clips):
    compiled, cache = captioned(project, clips)
    film = cut(compiled, cache)
    srt, vtt = film.with_suffix(".srt").read_text(), film.with_suffix(".vtt").read_text()
    assert srt_cues(srt) == EXPECTED
    assert vtt.startswith("WEBVTT\n") and "00:00:02.500 --> 00:00:05.500\nOut at sea" in vtt
    assert "Second, &amp; last" in vtt
    assert re.search(r"Subtitle: mov_text \(tx3g", streams(film))
    assert srt_cues(decoded_subtitles(film)) == EXPECTED  # the track says what the files say
    track = tracks(film)
    assert set(track) == {b"vide", b"soun", b"sbtl"}  # the project's MP4 reader sees it too
    assert read_text_track(film) == [(2.5, 5.5, "Out at sea"), (5.75, 7.0, "First line"), (7.0, 8.0, "Second, & last")]
    assert len(track[b"vide"].samples) == round(compiled.plan.cut.duration * FPS)


def test_soft_captions_change_no_picture(project, clips):
    """The film with soft captions has the same picture samples as the film without them."""
    compiled, cache = captioned(project, clips)
    plain, _ = captioned(project, clips, mode="off", name="plain")
    with_captions, without = cut(compiled, cache), cut(plain, cache, name="plain.mp4")
    assert picture_digest(with_captions) == picture_digest(without)
    assert "Subtitle" not in streams(without) and not without.with_suffix(".srt").exists()


def encodes(monkeypatch) -> list[str]:
    """Every process that encodes picture or sound, whichever module starts it."""
    runs: list[str] = []
    real = subprocess.run

    def counting(cmd, *args, **kwargs):
        text = [str(a) for a in cmd]
        if "libx264" in text or any(a == "aac" and b in ("-c:a", "-acodec") for b, a in zip(text, text[1:])):
            runs.append(" ".join(text))
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting)
    return runs


def test_a_caption_change_recuts_with_nothing_encoded(project, clips, monkeypatch):
    compiled, cache = captioned(project, clips)
    first = cut(compiled, cache)
    before = picture_digest(first), first.with_suffix(".srt").read_text()
    changed, _ = captioned(project, clips, two="Far out at sea", name="proj")  # the same project, edited
    assert [j.key for j in changed.plan.jobs] == [j.key for j in compiled.plan.jobs]
    runs = encodes(monkeypatch)
    again = cut(changed, cache)
    assert runs == []
    assert picture_digest(again) == before[0]
    assert "Far out at sea" in again.with_suffix(".srt").read_text() != before[1]
    assert "Far out at sea" in decoded_subtitles(again)


def test_the_joined_way_back_carries_the_track_too(project, clips, monkeypatch):
    """When the film cannot be written from samples, ffmpeg joins it and the track is muxed in by copy."""
    import storyboard.cut.ffmpeg_engine as engine

    compiled, cache = captioned(project, clips)
    monkeypatch.setattr(engine, "write_film", lambda *args, **kwargs: False)
    film = cut(compiled, cache)
    assert srt_cues(decoded_subtitles(film)) == EXPECTED


def caption_frames(path: Path) -> np.ndarray:
    return frames(path)[[70, 130, 150, 180]]  # within each cue (frames 60-131, 138-167, 168-191)


def test_burned_frames_differ_only_in_the_caption_box(project, clips, monkeypatch):
    compiled, cache = captioned(project, clips)
    soft = cut(compiled, cache)
    burned_plan, _ = captioned(project, clips, mode="{mode: burn, size: 0.08}", name="burned")
    burned = cut(burned_plan, cache, name="burned.mp4")
    assert "Subtitle" not in streams(burned) and burned.with_suffix(".srt").exists()
    style = CaptionStyle(mode="burn", size=0.08)
    all_soft, all_burned = frames(soft), frames(burned)
    assert len(all_soft) == len(all_burned)
    texts = ["Out at sea", "Out at sea", "First line", "Second, & last"]
    for n, (a, b, text) in enumerate(zip(caption_frames(soft), caption_frames(burned), texts)):
        left, top, right, bottom = box(text, style, *SIZE)
        assert bottom <= SIZE[1] and top > SIZE[1] // 2, "at the bottom"
        changed = np.abs(a - b).max(axis=2) > 48
        inside = np.zeros_like(changed)
        inside[top:bottom, left:right] = True
        assert changed[inside].sum() > 50, f"frame {n}: the caption is drawn"
        assert not changed[~inside].any(), f"frame {n}: changed outside the caption box"
    before = np.abs(all_soft[:55] - all_burned[:55])  # no caption yet: only the re-encode's noise
    assert before.mean() < 2.5 and (before.max(axis=3) > 48).sum() == 0
    first = burned.read_bytes()
    runs = encodes(monkeypatch)  # the same film and captions again: the burned film is in the cache
    assert cut(burned_plan, cache, name="burned.mp4").read_bytes() == first and runs == []


def test_engines_agree_on_captions(project, clips):
    compiled, cache = captioned(project, clips)
    fast = cut(compiled, cache)
    reference = cut(compiled, cache, engine="moviepy", name="reference.mp4")
    assert reference.with_suffix(".srt").read_text() == fast.with_suffix(".srt").read_text()
    assert srt_cues(decoded_subtitles(reference)) == EXPECTED
    burned_plan, _ = captioned(project, clips, mode="burn", name="burned")
    fast_burned = cut(burned_plan, cache, name="fast-burned.mp4")
    reference_burned = cut(burned_plan, cache, engine="moviepy", name="reference-burned.mp4")
    left, top, right, bottom = box("First line", CaptionStyle(mode="burn"), *SIZE)
    a, b = frames(fast_burned)[150], frames(reference_burned)[150]
    region = np.abs(a - b)[top:bottom, left:right]
    assert region.mean() < 6, "the same caption, in the same place"


def test_otio_markers_are_the_cues(project, clips):
    import opentimelineio as otio

    compiled, cache = captioned(project, clips)
    timeline = compiled.root / "film.otio"
    stitch(compiled.plan, compiled.root, cache, storyboard="s", output=compiled.root / "renders" / "film.mp4",
           otio=timeline)
    markers = otio.adapters.read_from_file(str(timeline)).tracks[0].markers
    got = [(m.name, m.marked_range.start_time.to_frames(), m.marked_range.duration.to_frames()) for m in markers]
    assert got == [("Out at sea", 60, 72), ("First line", 138, 30), ("Second, & last", 168, 24)]
