"""A clip that is not what the plan says never makes a wrong film with exit 0.

A clip a little shorter than planned is held on its last frame, its sound
padded with silence, in both engines: the film keeps the planned timeline and
every later shot starts with its own sound. A clip too short, or a file that
is not a readable video, is refused with its shot and take named, and nothing
is written."""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import frame, psnr

from storyboard.cut.frames import trim_clip
from storyboard.cut.probe import ffmpeg_exe
from storyboard.cut.sheet import Tile, still_sheet, video_sheet
from storyboard.cut.stitch import StitchError, stitch
from storyboard.plan.project import compile_project
from storyboard.store.cache import ClipCache, cache_dir

FPS, RATE = 24, 48000
TONES = {"one": 300, "two": 500, "three": 700, "four": 900}
STORY = """\
version: 1
shots:
  - {{id: one, prompt: one, duration: 3, sound: true}}
  - {{id: two, prompt: two, duration: 3, sound: true}}
  - {{id: three, prompt: three, duration: 3, sound: true{t3}}}
  - {{id: four, prompt: four, duration: 3, sound: true}}
cut:
  output: renders/film.mp4
  quality: 12
{cut}"""


def make_clip(path: Path, picture: float, *, sound: float | None = None, tone: int = 440, hue: int = 0,
              bframes: bool = False, size: str = "160x90") -> Path:
    """``picture`` seconds of testsrc2 (a new picture every frame) and ``sound`` seconds of a tone
    (as long as the picture by default; 0: no sound track)."""
    sound = picture if sound is None else sound
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r={FPS}:d={picture}"]
    if sound:
        cmd += ["-f", "lavfi", "-i", f"sine=f={tone}:r={RATE}:d={sound}", "-c:a", "aac", "-ac", "2"]
    cmd += ["-vf", f"hue=h={hue}", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-threads", "1", *([] if bframes else ["-bf", "0"])]
    subprocess.run(cmd + [str(path)], check=True)
    return path


def film_project(project, clips: dict[str, dict], *, t3: str = "", cut: str = "", **common):
    """The four-shot film whose clips (``make_clip`` options per shot; 3.04 s by default) are cached."""
    path = project(STORY.format(t3=t3, cut=cut))
    compiled = compile_project(str(path), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for n, cs in enumerate(compiled.plan.cut.shots):
        options = {"picture": 3.04, "tone": TONES[cs.shot], "hue": n * 90, **common, **clips.get(cs.shot, {})}
        clip = make_clip(path.parent / f"src-{cs.shot}.mp4", **options)
        cache.put(cs.key, clip, duration=cs.duration, model="m", provider="preview", task_id="t")
    return compiled, cache


def cut(compiled, cache, engine: str = "ffmpeg", name: str = "film.mp4") -> Path:
    return stitch(compiled.plan, compiled.root, cache, storyboard="s", engine=engine,
                  output=compiled.root / "renders" / name)


def stream_ends(path: Path) -> dict[int, float]:
    """Each stream's end time in seconds, from its packets."""
    text = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-c", "copy", "-f", "framecrc", "-"],
                          capture_output=True, text=True, check=True).stdout
    bases = {int(i): Fraction(int(n), int(d)) for i, n, d in re.findall(r"#tb (\d+): (\d+)/(\d+)", text)}
    ends: dict[int, float] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            index, _, pts, duration = (int(x) for x in line.split(",")[:4])
            ends[index] = max(ends.get(index, 0.0), float((pts + duration) * bases[index]))
    return ends


def sound_of(path: Path) -> np.ndarray:
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(pcm, np.int16).astype(float)


def tone(sound: np.ndarray, at: float) -> float:
    window = sound[int(at * RATE):int(at * RATE) + 1920] * np.hanning(1920)
    return float(np.argmax(np.abs(np.fft.rfft(window, RATE))))


def rms(sound: np.ndarray, start: float, end: float) -> float:
    return float(np.sqrt(np.mean(sound[int(start * RATE):int(end * RATE)] ** 2)))


def onset(sound: np.ndarray, after: float, level: float) -> float:
    """The first time after ``after`` that the sound reaches ``level``."""
    loud = np.nonzero(np.abs(sound[int(after * RATE):]) >= level)[0]
    return after + loud[0] / RATE


def pictures(path: Path, size: tuple[int, int] = (160, 90)) -> np.ndarray:
    """Every picture of the clip at ``size``, RGB as floats."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", "scale=%d:%d" % size,
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, size[1], size[0], 3).astype(np.float64)


def last_frame(path: Path) -> np.ndarray:
    return pictures(path)[-1]


def is_last_frame(shown: np.ndarray, clip: Path) -> bool:
    """``shown`` is the clip's last picture: nearer to it than to any other of its last five, and near."""
    scores = [psnr(shown, picture) for picture in pictures(clip)[-5:]]
    return int(np.argmax(scores)) == len(scores) - 1 and scores[-1] >= 25


def check_length(film: Path, planned: float) -> None:
    ends = stream_ends(film)
    assert set(ends) == {0, 1}, "a picture and a sound stream"
    assert abs(ends[0] - planned) <= 1 / FPS + 1e-6, f"picture ends at {ends[0]:.3f} s, not {planned} s"
    assert abs(ends[1] - planned) <= 1 / FPS + 1e-6, f"sound ends at {ends[1]:.3f} s, not {planned} s"


# -- a clip a little short: held on its last frame, every later shot with its sound --

SHORT = {"two": {"picture": 2.6}, "three": {"picture": 3.5}}  # 0.4 s short (held), 0.5 s long (trimmed)
CASES = {  # engine, every clip's options, shot two's own, the transition into shot three, the cut's settings
    "copied": ("ffmpeg", {}, {}, "", "  loudness: null\n"),
    "copied, B-frames": ("ffmpeg", {"bframes": True}, {}, "", ""),
    "conformed": ("ffmpeg", {"bframes": True}, {"size": "192x108"}, "", ""),
    "crossfades": ("ffmpeg", {"bframes": True}, {}, ", transition: {type: crossfade, duration: 0.5}", ""),
    "moviepy": ("moviepy", {"bframes": True}, {}, "", ""),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_short_clip_is_held_on_its_last_frame_and_every_later_shot_starts_with_its_sound(project, case):
    engine, common, own, t3, extra = CASES[case]
    clips = {**SHORT, "two": {**SHORT["two"], **own}}
    compiled, cache = film_project(project, clips, t3=t3, cut=extra, **common)
    planned = compiled.plan.cut.duration
    film = cut(compiled, cache, engine)
    check_length(film, planned)
    sound = sound_of(film)
    body = rms(sound, 1.0, 2.0)
    four = 9.0 - (0.5 if t3 else 0.0)
    assert abs(tone(sound, 3.03) - TONES["two"]) < 10 and abs(tone(sound, four + 0.03) - TONES["four"]) < 10
    assert abs(tone(sound, 6.55) - TONES["three"]) < 10
    if t3:  # the hold lies inside the crossfade into shot three: the engines are compared below
        return
    two, three = compiled.root / "src-two.mp4", compiled.root / "src-three.mp4"
    for t in (5.66, 5.8, 5.95):
        assert is_last_frame(frame(film, t), two), f"at {t} s: the clip's last frame is held to the planned end"
    # shot three's picture starts at its planned time, not 0.4 s early, and its sound with it
    assert psnr(frame(film, 6.0 + 0.5 / FPS), frame(three, 0.5 / FPS)) >= 30
    assert rms(sound, 5.66, 5.95) < 0.02 * body, "the held frame's sound is silence"
    assert abs(onset(sound, 5.7, 0.3 * body) - 6.0) <= 1 / FPS, "shot three's sound is with its picture"
    assert len(sound) / RATE == pytest.approx(planned, abs=1 / FPS)


@pytest.mark.parametrize("t3", ["", CASES["crossfades"][3]], ids=["cuts", "crossfades"])
def test_both_engines_agree_on_a_film_with_a_short_clip(project, t3):
    compiled, cache = film_project(project, SHORT, t3=t3, bframes=True)
    fast, reference = cut(compiled, cache, "ffmpeg", "fast.mp4"), cut(compiled, cache, "moviepy", "reference.mp4")
    assert stream_ends(fast)[0] == pytest.approx(stream_ends(reference)[0], abs=1 / FPS)
    assert stream_ends(fast)[0] == pytest.approx(compiled.plan.cut.duration, abs=1 / FPS)
    for t in (2.95, 3.03, 5.45, 5.6, 5.7, 5.8, 5.97, 6.03, 8.45, 8.55, 8.97, 9.03, 11.4):
        assert psnr(frame(fast, t), frame(reference, t)) >= 30, f"the engines differ at {t} s"
    a, b = sound_of(fast), sound_of(reference)
    for at in (3.03, 5.8, 6.03, 9.03):
        assert abs(tone(a, at) - tone(b, at)) < 10 or max(rms(a, at, at + 0.04), rms(b, at, at + 0.04)) < 50


@pytest.mark.parametrize("frames, held", [(60, True), (59, False)])
def test_half_a_second_is_held_and_a_frame_more_is_refused(project, frames, held):
    compiled, cache = film_project(project, {"two": {"picture": frames / FPS}})
    if held:
        check_length(cut(compiled, cache), 12.0)
    else:
        with pytest.raises(StitchError, match=r"shot two \(take 1\): its clip is 2\.46 s long, 0\.54 s shorter"):
            cut(compiled, cache)


@pytest.mark.parametrize("engine", ["ffmpeg", "moviepy"])
def test_a_clip_too_short_is_refused_naming_every_such_shot_and_nothing_is_written(project, cli, engine):
    compiled, cache = film_project(project, {"two": {"picture": 2.3}, "four": {"picture": 2.0, "sound": 2.0}})
    result = cli("stitch", str(compiled.path), "--provider", "preview", "--engine", engine)
    assert result.code == 1, result.err
    assert "shot two (take 1): its clip is 2.33 s long, 0.67 s shorter than the 3 s planned" in result.err
    assert "shot four (take 1): its clip is 2.00 s long, 1.00 s shorter than the 3 s planned" in result.err
    assert "take: N" in result.err and "--sheet" in result.err
    assert "shot one" not in result.err and "Traceback" not in result.err
    assert not (compiled.root / "renders" / "film.mp4").exists()
    assert not list((compiled.root / "renders").glob(".film-*"))


# -- sound that is not the picture's length --

@pytest.mark.parametrize("engine, levelled", [("ffmpeg", False), ("ffmpeg", True), ("moviepy", True)])
def test_a_clip_without_sound_or_with_short_sound_keeps_every_shot_with_its_picture(project, engine, levelled):
    clips = {"two": {"sound": 0}, "three": {"sound": 2.0}}  # no sound track; sound ends a second early
    compiled, cache = film_project(project, clips, cut="" if levelled else "  loudness: null\n", bframes=True)
    film = cut(compiled, cache, engine)
    check_length(film, 12.0)
    sound = sound_of(film)
    body = rms(sound, 1.0, 2.0)
    assert rms(sound, 3.05, 5.95) < 0.02 * body, "shot two has no sound"
    assert abs(onset(sound, 3.05, 0.3 * body) - 6.0) <= 1 / FPS, "shot three's sound starts at its cut"
    check_short_sound(sound, body)


@pytest.mark.parametrize("engine, levelled", [("ffmpeg", False), ("ffmpeg", True), ("moviepy", False)])
def test_sound_shorter_than_its_picture_is_padded_with_silence_and_the_next_shot_keeps_its_sound(
        project, engine, levelled):
    # every clip has sound, alike: without levelling the fast engine would copy it as it is
    compiled, cache = film_project(project, {"three": {"sound": 2.0}}, cut="" if levelled else "  loudness: null\n",
                                   bframes=True)
    film = cut(compiled, cache, engine)
    check_length(film, 12.0)
    sound = sound_of(film)
    check_short_sound(sound, rms(sound, 1.0, 2.0))


def check_short_sound(sound: np.ndarray, body: float) -> None:
    """Shot three's sound (2 s of a 3 s shot at 6 s) is followed by silence, and shot four's starts at 9 s."""
    assert abs(tone(sound, 7.0) - TONES["three"]) < 10
    assert rms(sound, 8.1, 8.95) < 0.02 * body, "shot three's sound ended after 2 s"
    assert abs(onset(sound, 8.5, 0.3 * body) - 9.0) <= 1 / FPS, "shot four's sound starts at its cut"
    assert abs(tone(sound, 9.5) - TONES["four"]) < 10


# -- a file that is not a video --

def _faststart(clip: Path, dest: Path) -> Path:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(clip), "-c", "copy", "-movflags", "+faststart",
                    str(dest)], check=True)
    return dest


NOT_VIDEOS = {
    "empty": (lambda good: b"", "the file is empty"),
    "a web page": (lambda good: b"<!DOCTYPE html>\n<html><body>Access denied</body></html>\n", "a web page"),
    "noise": (lambda good: bytes(range(256)) * 64, "ffmpeg cannot read a picture from it"),
    "cut short, index last": (lambda good: good.read_bytes()[:len(good.read_bytes()) // 2], "without its index"),
    "cut short, index first": (lambda good: _faststart(good, good.with_name("fs.mp4")).read_bytes()[:20000],
                               "a download cut short"),
}


def garbage_project(project, kind: str):
    compiled, cache = film_project(project, {})
    good = compiled.root / "src-two.mp4"
    bad = compiled.root / "bad.mp4"
    bad.write_bytes(NOT_VIDEOS[kind][0](good))
    two = compiled.plan.cut.shots[1]
    cache.put(two.key, bad, duration=3, model="m", provider="preview", task_id="t")
    return compiled, cache


@pytest.mark.parametrize("kind", list(NOT_VIDEOS))
def test_a_cached_file_that_is_not_a_video_is_named_by_its_shot(project, cli, kind):
    compiled, cache = garbage_project(project, kind)
    result = cli("stitch", str(compiled.path), "--provider", "preview")
    assert result.code == 1, result.err
    if kind == "empty":  # the cache keeps no record of an empty clip: it is a miss, named by its shot
        assert "no clip in the cache for shot two" in result.err
    else:
        assert "shot two (take 1): its clip is not a readable video (" in result.err
        assert NOT_VIDEOS[kind][1] in result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    assert not (compiled.root / "renders" / "film.mp4").exists()


def test_the_reference_engine_and_the_cut_after_a_render_name_it_too(project, cli):
    compiled, cache = garbage_project(project, "a web page")
    with pytest.raises(StitchError, match=r"shot two \(take 1\): its clip is not a readable video \(it is a web page"):
        cut(compiled, cache, "moviepy")
    result = cli("render", str(compiled.path), "--provider", "preview")
    assert result.code == 1, result.err
    assert "shot two (take 1): its clip is not a readable video (it is a web page" in result.err
    assert "Traceback" not in result.err and "internal error" not in result.err


@pytest.mark.parametrize("sheet", [video_sheet, still_sheet], ids=["mp4", "png"])
def test_a_contact_sheet_names_the_take_that_is_not_a_video(tmp_path, sheet):
    good = make_clip(tmp_path / "good.mp4", 1.0)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"<html>gone</html>")
    dest = tmp_path / ("sheet.mp4" if sheet is video_sheet else "sheet.png")
    with pytest.raises(StitchError, match=r"shot two \(take 2\): its clip is not a readable video \(it is a web page"):
        sheet([Tile(1, good, True, shot="two"), Tile(2, bad, shot="two")], dest)
    assert not dest.exists()


TAKES = """version: 1
shots:
  - {id: one, prompt: one, duration: 3}
  - {id: two, prompt: two, duration: 3}
"""


def takes_project(project) -> Path:
    path = project(TAKES)
    compiled = compile_project(str(path), provider="preview")
    bad = path.parent / "bad.mp4"
    bad.write_bytes(NOT_VIDEOS["a web page"][0](None))
    ClipCache.at(cache_dir(compiled.root)).put(compiled.plan.job("two").key, bad, duration=3, model="m",
                                               provider="preview", task_id="t")
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".png"])
def test_takes_sheet_of_a_take_that_is_not_a_video_exits_1_naming_the_take(project, cli, suffix):
    path = takes_project(project)
    dest = path.parent / f"sheet{suffix}"
    result = cli("takes", str(path), "two", "--provider", "preview", "--sheet", str(dest))
    assert result.code == 1, result.err
    assert re.search(r"take 1\)?: its clip is not a readable video \(.*a web page", result.err)
    assert "Traceback" not in result.err and "internal error" not in result.err
    assert not dest.exists()


def test_takes_sheet_names_the_shot_too(project, cli):
    path = takes_project(project)
    result = cli("takes", str(path), "two", "--provider", "preview", "--sheet", str(path.parent / "sheet.png"))
    assert "shot two (take 1): its clip is not a readable video" in result.err


# -- a clip that others are built on --

def test_a_short_clip_given_as_a_video_input_is_held_to_its_planned_length(tmp_path):
    clip = make_clip(tmp_path / "short.mp4", 2.6, bframes=True)
    made = trim_clip(clip, 3.0, tmp_path / "input.mp4")
    ends = stream_ends(made)
    assert ends[0] == pytest.approx(3.0, abs=1e-6) and ends[1] == pytest.approx(3.0, abs=1 / FPS)
    assert psnr(frame(made, 2.9), last_frame(clip)) >= 35
    long_enough = make_clip(tmp_path / "long.mp4", 3.04)
    assert stream_ends(trim_clip(long_enough, 3.0, tmp_path / "input2.mp4"))[0] == pytest.approx(3.0, abs=1e-6)


KEY = "sk-clip-lengths"
I2V = "kwaivgi/kling-video-o3-pro/image-to-video"
CHAIN = f"""version: 1
shots:
  - id: c
    model: {I2V}
    prompt: The lamp turns over the sea.
    image: {{shot: b, frame: last}}
  - id: a
    prompt: The keeper climbs the stairs.
  - id: e
    prompt: Alone at sea.
  - id: b
    model: {I2V}
    prompt: The keeper lights the lamp.
    image: {{shot: a, frame: last}}
"""


def upstream_render(project, cli, monkeypatch, *flags):
    """Render CHAIN on the emulator (--keep-going unless ``flags`` are given), shot a's cached clip a web page."""
    from storyboard.providers.emulator import Emulator

    path = project(CHAIN)
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        compiled = compile_project(str(path), base_url=emu.url)
        bad = path.parent / "bad.mp4"
        bad.write_bytes(b"<!DOCTYPE html><html><body>Not found</body></html>")
        ClipCache.at(cache_dir(compiled.root)).put(compiled.plan.job("a").key, bad, duration=5, model="m",
                                                   provider="wavespeed", task_id="t")
        result = cli("render", str(path), *(flags or ("--keep-going",)), "--rate", "0")
        prompts = sorted(task.body["prompt"] for task in emu.state.tasks.values())
    return result, prompts


def test_a_shot_built_on_a_clip_that_is_not_a_video_fails_alone_with_its_dependents(project, cli, monkeypatch):
    result, prompts = upstream_render(project, cli, monkeypatch)
    assert result.code == 1, result.err  # not 3: no internal error, no traceback
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert re.search(r"shots\[3\]: .*not a readable video|shots\[3\]: .*no video stream", result.err)
    assert "shots[0]: not started: shot `b`, whose output it takes, failed" in result.err
    assert prompts == ["Alone at sea."]  # b and c were never submitted; the independent shot was made
    assert "1 rendered, 1 from the cache, 1 failed, 1 not started" in result.out


def test_without_keep_going_a_clip_that_is_not_a_video_stops_the_render_before_any_submit(project, cli, monkeypatch):
    # The cached clip shot b builds on is checked before the first submit: the
    # independent shot e is not paid for in a render that is going to stop.
    result, prompts = upstream_render(project, cli, monkeypatch, "--concurrency", "1")
    assert result.code == 1, result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    assert "shot `a` (take 1), whose output it takes: its clip is not a readable video" in result.err
    assert prompts == []  # nothing at all was submitted
    assert "0 rendered" in result.out


def test_the_shot_whose_clip_is_not_a_video_is_named(project, cli, monkeypatch):
    result, _ = upstream_render(project, cli, monkeypatch)
    assert "shot `a` (take 1), whose output it takes: its clip is not a readable video" in result.err
    assert ".storyboard/cache/objects" not in result.err


# -- a paid clip the cut would refuse, found at download --

ONE_SHOT = """version: 1
shots:
  - id: calm
    prompt: Calm harbour.
    duration: 5
"""


def short_render(project, cli, monkeypatch, shorter: float):
    """Render ONE_SHOT on the emulator, its clip ``shorter`` seconds short (and again)."""
    from storyboard.providers.emulator import Emulator, Fault

    path = project(ONE_SHOT)
    with Emulator(task_seconds=0.2, faults=[Fault("submit", "short", seconds=shorter)]) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        first = cli("render", str(path), "--rate", "0")
        again = cli("render", str(path), "--rate", "0")
        stats = emu.stats()
        compiled = compile_project(str(path), base_url=emu.url)
    return compiled, first, again, stats


def test_a_paid_clip_the_cut_would_refuse_fails_its_shot_at_download_and_is_never_paid_again(
        project, cli, monkeypatch):
    compiled, first, again, stats = short_render(project, cli, monkeypatch, 1.0)
    assert first.code == 1, first.err
    assert "Traceback" not in first.err and "internal error" not in first.err
    assert re.search(r"its clip is 4\.\d\d s long, 0\.\d\d s shorter than the 5 s planned", first.err)
    assert "paid for" in first.err and "take 1" in first.err and "another take" in first.err
    assert stats["requests"]["download"] == 1  # the same bytes again would be no better: no retries
    assert stats["total_submits"] == 1  # the rerun takes the kept clip, and the cut refuses it
    assert ClipCache.at(cache_dir(compiled.root)).get(compiled.plan.job("calm").key) is not None
    assert compiled.plan.job("calm").key in (compiled.root / "storyboard.lock").read_text()  # in the lock: paid
    assert again.code == 1 and "shorter than the 5 s planned" in again.err


def test_a_clip_short_by_less_than_the_cut_holds_passes_the_download_check(project, cli, monkeypatch):
    _, first, _, stats = short_render(project, cli, monkeypatch, 0.3)
    assert first.code == 0, first.err
    assert stats["total_submits"] == 1
