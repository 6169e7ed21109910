"""The same request spelt two ways gives one job key; keys written the ordinary way never move.

A job key hashes what the provider receives. Two spellings that send the same
bytes (a frame by the frame it resolves to, numbers by value, defaults written
out or left out, key order, element ids as numbers or text) must be one key,
so a shot is never paid for twice; and the keys of storyboards written the
ordinary way are pinned here, so no normalisation moves a key that is in
somebody's lock.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tempfile
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import psnr
from storyboard.plan.frames import key_frame, resolve_frame
from storyboard.cut.probe import ffmpeg_exe, probe
from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project
from storyboard.store.cache import ClipCache

ROOT = Path(__file__).resolve().parent.parent
REFS = Path(__file__).resolve().parent / "data" / "invalid" / "refs"
I2V = "kwaivgi/kling-video-o3-pro/image-to-video"
EDIT = "kwaivgi/kling-video-o3-pro/video-edit"

# Storyboards written the ordinary way: their keys are pinned below.
PINNED_TEXTS = {
    "graph": f"""version: 1
characters:
  keeper:
    images: [refs/keeper-front.png]
    element_id: "307212335131305"
shots:
  - id: a
    prompt: The keeper climbs the stairs.
    characters: [keeper]
  - id: b
    prompt: The keeper looks out to sea.
    images: [{{shot: a, frame: first}}, refs/tower.png]
  - id: c
    prompt: The keeper winds the clock.
    images: [{{shot: a, frame: 2.5}}, {{shot: a, frame: 3}}, {{shot: a, frame: 1.3}}]
  - id: d
    model: {I2V}
    prompt: The keeper sleeps.
    image: {{shot: b, frame: last}}
    end_image: {{shot: c, frame: last}}
    duration: 4
  - id: e
    model: {EDIT}
    prompt: Make it night.
    video: {{shot: d}}
    element_list: [307212335131306]
""",
    "settings": """version: 1
defaults:
  aspect_ratio: "9:16"
  duration: 6
characters:
  mara:
    name: Mara
    images: [refs/mara.png]
shots:
  - id: plain
    prompt: The sea at night.
  - id: loud
    prompt: "{{ mara }} shouts into the wind."
    characters: [mara]
    sound: true
    duration: 10
    shot_type: customize
    multi_prompt:
      - {prompt: "Wide: {{ mara }} on the rocks", duration: 4}
      - {prompt: "Close: she shouts", duration: 6}
  - id: motion
    prompt: Waves as in the reference.
    video: refs/waves.mp4
    keep_original_sound: false
    images: [refs/tower.png]
  - id: square
    model: kwaivgi/kling-video-o3-pro/text-to-video
    prompt: Gulls circle.
    aspect_ratio: "1:1"
    element_list: ["307212335131305"]
""",
}

# The keys these storyboards had before spellings were normalised (commit dad9468).
PINNED = {
    ("graph", "wavespeed"): {
        "a": "03b6245067fd2622ddcf60344931b63a18c444f58338ec2dbf3d53e690dacc20",
        "b": "c9c29c776efdceb4e47e2bea639cea6d8bd3965133d23cc5087f5269352ea7d3",
        "c": "2f7dba6260e224475974cd106ba3f71044a1980e0eecf4862383d30b0353f290",
        "d": "3efa1eca97b2f5398fbd7c5586c944dca81b1a2e31c05af987b7e0ae54c14c6d",
        "e": "45acd37d2f4319c2533111230f8b10857d80e6181ad2ee3bf363fd6dd19b642d",
    },
    ("graph", "preview"): {
        "a": "3a068021add2e6626d13604c5b5836043327aa78d246b017010231080b2bce17",
        "b": "47b9aae1c310eefa151c9db45fe2423725b6fc79573687925921b9a3f2f8a06f",
        "c": "9d2a4e4124fec34cfbdf357d7493f0556aea5cd476e9f7ec2c66a7c6cd464561",
        "d": "af2ec3f960830ed8a858b24e72b051445719819df00832794c943a303873a5db",
        "e": "1919971ada92bd55fb2f44699354fa3266465dda48d7c7df062a405dc5d8b3a1",
    },
    ("settings", "wavespeed"): {
        "plain": "55a0dd3a9bb3b6559834f285df387537fef0453dcbaf108ee88446c35293cb4b",
        "loud": "8ed13f98081d58fcb76e5d74cfb417a985b247b920358b81a6e0213bc073a462",
        "motion": "4261e32807c7b887073eed7568460507a71ad1ec48349faf3ddb92920db880d8",
        "square": "161f3c13f773a0231658bc22e5e917e27db6a79f84288206602123d81fac7be7",
    },
    ("settings", "preview"): {
        "plain": "7d48a86a187bc16e2eb21d33fc0d4c2b25d711c4ce84ebcf6702056055a44dd4",
        "loud": "1d4b439e2df8efecb049bf2db1bb1a696999caf343df121b7433d36cfc394ecc",
        "motion": "e56f31e386fc8b28ffc408b34f162b2a035c79855c109341bae9d6cd5875782d",
        "square": "5c35b3f9198ec01d34e25b99b739da15cfea10882930fde970bffd685a43680a",
    },
    ("lighthouse", "wavespeed"): {
        "arrival": "253f06a8917cfb63b1d0c643338648873e98effd2c12f8f8cb3b592f17f2bd22",
        "storm": "0a507ada8217cc6c690743bef23d1a3796c9ac9ff9fb86586a81c26f25694fd0",
        "boat": "fcab9474593ec0b4d651f03fe1a5be168ada536187b7e2c6f6b52069833019b7",
        "rescue": "eee599fc7b2f88aa88ece17e82034924768b2a7f51e0b73d5bc6955e509ac01a",
        "dawn": "8e8251b743b0660e0e5225e42a7c21f78b39ba418ea44c390699a502a6c35829",
        "credits": "1e347b27b7c99e606ed638544b351d3209a812aeab60cb72654e09c5470c9c87",
    },
    ("lighthouse", "preview"): {
        "arrival": "807b87f9f05aef73d598189cae46472133c7c5a1dc39d11cabcc8f88aab66728",
        "storm": "9de43aa2b7748473a296d055aa1ef24cb3af34d952b82dfc703fdc45e6148ea7",
        "boat": "dff0aab4c0a19ddd7f016ea8365fe5adeccdaf81909fb21899342cbe61657946",
        "rescue": "6897ddfc112480444ded442d5c90217c602d28dc055052d41c3d497d000bfc98",
        "dawn": "c24e493ab91f696dbe1f57736901521a84809411256866b46f1130d1f81dd4c3",
        "credits": "8fd94b64f90993a75ae50bb1e3e24b318836ec1daa628bbb441827fb8f1c9ce8",
    },
    ("minimal", "wavespeed"): {
        "sunrise": "c189961c65b571e72ec86c1b4a5618e11fc3d1b857e5502c627597357ccba529",
    },
}


def make_project(tmp: Path, text: str, name: str = "proj") -> Path:
    """A project folder holding ``text`` as its storyboard and the test references in refs/."""
    root = tmp / name
    root.mkdir(parents=True)
    shutil.copytree(REFS, root / "refs")
    path = root / "storyboard.yaml"
    path.write_text(text, "utf-8")
    return path


def keys_of(path: Path, provider: str = "wavespeed") -> dict[str, str]:
    return {job.shot: job.key for job in compile_project(str(path), provider=provider).plan.jobs}


@pytest.mark.parametrize("name, provider", sorted(PINNED))
def test_keys_of_storyboards_written_the_ordinary_way_do_not_move(tmp_path, name, provider):
    if name in PINNED_TEXTS:
        path = make_project(tmp_path, PINNED_TEXTS[name])
    else:
        path = ROOT / "examples" / name / "storyboard.yaml"
    assert keys_of(path, provider) == PINNED[(name, provider)]


# -- frames: a frame by the frame it resolves to --

UPSTREAM = """version: 1
shots:
  - id: a
    prompt: The keeper climbs the stairs.
  - id: b
    model: kwaivgi/kling-video-o3-pro/image-to-video
    prompt: The keeper lights the lamp.
    image: {{shot: a, frame: {frame}}}
"""


def frame_key(tmp: Path, frame: str, text: str = UPSTREAM, name: str = "") -> str:
    path = make_project(tmp, text.format(frame=frame), name or f"f{abs(hash((frame, text)))}")
    return keys_of(path)["b"]


# a is planned 5 s at 24 fps: frames 0 to 119; frame 60 starts at 2.5 s, 61 at 2.541666… s
SAME_FRAME = [
    ["first", "0", "0.0", "-0.0", "0.01", "0.04", "0.0e+3"],
    ["last", "4.99", "4.96", "4.9999999"],
    ["2.5", "2.50", "2.51", "2.54", "0.25e+1"],
    ["3", "3.0", "3.04"],
]


@pytest.mark.parametrize("spellings", SAME_FRAME, ids=[s[0] for s in SAME_FRAME])
def test_spellings_of_one_frame_are_one_key(tmp_path, spellings):
    keys = {frame_key(tmp_path, frame) for frame in spellings}
    assert len(keys) == 1


def test_different_frames_are_different_keys(tmp_path):
    keys = [frame_key(tmp_path, frame) for frame in ("first", "0.05", "2.5", "2.55", "4.95", "last")]
    assert len(set(keys)) == len(keys)


def test_the_request_names_the_frame_in_its_one_spelling(tmp_path):
    for frame, sent in (("0.01", "first"), ("4.99", "last"), ("2.51", 2.5), ("1.29", 1.25), ("3", 3.0)):
        plan = compile_project(str(make_project(tmp_path, UPSTREAM.format(frame=frame), f"r{frame}"))).plan
        assert plan.job("b").request["image"] == {"shot": "a", "frame": sent, "key": plan.job("a").key}


def test_last_follows_the_upstream_planned_length(tmp_path):
    """`last` of a 4 s shot is the frame at 3.99 s, and so is `last` of an edit of it (as long as its input)."""
    text = """version: 1
shots:
  - id: a
    prompt: The keeper climbs the stairs.
    duration: 4
  - id: e
    model: kwaivgi/kling-video-o3-pro/video-edit
    prompt: Make it night.
    video: {{shot: a}}
  - id: b
    model: kwaivgi/kling-video-o3-pro/image-to-video
    prompt: The keeper lights the lamp.
    image: {{shot: {up}, frame: {frame}}}
"""
    keys = {(up, frame): keys_of(make_project(tmp_path, text.format(up=up, frame=frame), f"{up}{frame}"))["b"]
            for up in "ae" for frame in ("last", "3.99")}
    assert keys[("a", "last")] == keys[("a", "3.99")] and keys[("e", "last")] == keys[("e", "3.99")]
    assert keys[("a", "last")] != keys[("e", "last")]  # another shot's frame


def test_two_spellings_of_one_frame_in_images_are_sent_once(tmp_path):
    text = """version: 1
shots:
  - id: a
    prompt: The keeper climbs the stairs.
  - id: b
    prompt: The keeper looks out to sea.
    images: [{images}]
"""
    once = compile_project(str(make_project(tmp_path, text.format(images="{shot: a, frame: first}"), "once"))).plan
    twice = compile_project(str(make_project(
        tmp_path, text.format(images="{shot: a, frame: first}, {shot: a, frame: 0.01}, refs/tower.png, "
                                     "{shot: a, frame: 0}, refs/tower.png"), "twice"))).plan
    assert len(twice.job("b").request["images"]) == 2
    assert twice.job("b").request["images"][0] == once.job("b").request["images"][0]


def frame_of(clip: Path, number: int) -> np.ndarray:
    info = probe(clip)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(clip), "-vf", f"select=eq(n\\,{number})",
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(info.height, info.width, 3).astype(np.float64)


def test_a_frame_spelt_another_way_after_the_render_is_not_paid_again(tmp_path):
    path = make_project(tmp_path, UPSTREAM.format(frame="2.51"))
    with Emulator(task_seconds=0.2) as emu:
        env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": "sk-spellings"}
        first = render_project(str(path), env=env, options=Options(concurrency=2, rate=0), engine=None)
        assert not first.report.failed and emu.stats()["total_submits"] == 2
        task = next(t for t in emu.state.tasks.values() if t.body["prompt"] == "The keeper lights the lamp.")
        png = emu.state.media[re.search(r"/_media/([0-9a-f]+)/", task.body["image"]).group(1)][1]
        sent = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.float64)
        clip = ClipCache.at(path.parent / ".storyboard" / "cache").get(first.compiled.plan.job("a").key).path
        assert psnr(sent, frame_of(clip, 60)) >= 35  # 2.51 s at 24 fps: frame 60
        assert psnr(sent, frame_of(clip, 61)) < psnr(sent, frame_of(clip, 60))
        lock = json.loads((path.parent / "storyboard.lock").read_text())
        assert list(lock["shots"]["b"]["inputs"]) == ["image a:2.5"]
        for frame in ("2.5", "2.54"):
            path.write_text(UPSTREAM.format(frame=frame))
            again = render_project(str(path), env=env, options=Options(concurrency=2, rate=0), engine=None)
            assert not again.report.failed and again.report.spent == 0
        assert emu.stats()["total_submits"] == 2


# -- every other field: numbers by value, defaults written or not, key order, list forms, ids --

R2V = "kwaivgi/kling-video-o3-pro/reference-to-video"
SAME_REQUEST = {
    "duration as a float": ("    duration: 6\n", "    duration: 6.0\n"),
    "duration as text": ("    duration: 6\n", '    duration: "6"\n'),
    "duration by default": ("", "    duration: 5\n"),
    "duration from defaults": ("", "    duration: 5\n", "defaults: {duration: 5.0}\n"),
    "sound off by default": ("", "    sound: false\n"),
    "sound as a YAML word": ("    sound: true\n", "    sound: yes\n"),
    "shot type by default": ("", "    shot_type: intelligent\n"),
    "aspect ratio by default": ("", '    aspect_ratio: "16:9"\n'),
    "aspect ratio from defaults": ("", "", 'defaults: {aspect_ratio: "16:9", sound: false, shot_type: intelligent}\n'),
    "model by default": ("", f"    model: {R2V}\n"),
    "model from defaults": ("", "", f"defaults: {{model: {R2V}}}\n"),
    "empty lists": ("", "    images: []\n    element_list: []\n    characters: []\n"),
    "element id as a number": ('    element_list: ["307212335131306"]\n', "    element_list: [307212335131306]\n"),
    "element id twice": ("    element_list: [307212335131306]\n",
                         '    element_list: [307212335131306, "307212335131306"]\n'),
    "character element id written again": ("    characters: [keeper]\n",
                                           "    characters: [keeper]\n    element_list: [307212335131305]\n"),
    "character named twice": ("    characters: [keeper]\n", "    characters: [keeper, keeper]\n"),
    "image named twice": ("    images: [refs/tower.png]\n", "    images: [refs/tower.png, refs/tower.png]\n"),
    "image under two names": ("    images: [refs/tower.png]\n", "    images: [refs/tower.png, ./refs/tower.png]\n"),
    "character image named again": ("    characters: [keeper]\n",
                                    "    characters: [keeper]\n    images: [refs/keeper-front.png]\n"),
    "segment durations as floats": (
        "    duration: 6\n    shot_type: customize\n    multi_prompt:\n"
        "      - {prompt: Wide, duration: 2}\n      - {prompt: Close, duration: 4}\n",
        "    multi_prompt:\n      - {duration: 2.0, prompt: Wide}\n      - {duration: 4.0, prompt: Close}\n"
        "    shot_type: customize\n    duration: 6.0\n"),
    "key order": ("    sound: true\n    duration: 8\n    aspect_ratio: \"9:16\"\n",
                  "    aspect_ratio: \"9:16\"\n    duration: 8\n    sound: true\n"),
    "a prompt that renders the same": ("", "", "vars: {place: harbour}\n", "The sun rises over the {{ place }}."),
    "keep the video's sound by default": ("    video: refs/waves.mp4\n",
                                          "    video: refs/waves.mp4\n    keep_original_sound: true\n"),
    "no generated sound with a video, written": ("    video: refs/waves.mp4\n",
                                                 "    video: refs/waves.mp4\n    sound: false\n"),
    "the video's sound without a video": ("", "    keep_original_sound: false\n"),
    "take 1 written": ("", "    take: 1\n"),
}
SETTINGS_SHOT = """version: 1
{top}characters:
  keeper:
    images: [refs/keeper-front.png]
    element_id: "307212335131305"
shots:
  - id: s
    prompt: {prompt}
{fields}"""


def settings_key(tmp: Path, name: str, fields: str, top: str = "", prompt: str = "") -> str:
    text = SETTINGS_SHOT.format(top=top, fields=fields, prompt=prompt or "The sun rises over the harbour.")
    return keys_of(make_project(tmp, text, name))["s"]


@pytest.mark.parametrize("case", sorted(SAME_REQUEST))
def test_spellings_of_one_request_are_one_key(tmp_path, case):
    ordinary, variant, *extra = SAME_REQUEST[case]
    top = extra[0] if extra else ""
    prompt = extra[1] if len(extra) > 1 else ""
    assert settings_key(tmp_path, "ordinary", ordinary) == settings_key(tmp_path, "variant", variant, top, prompt)


def test_requests_that_differ_are_different_keys(tmp_path):
    """The normalising does not merge what the provider receives differently (order of a list is sent)."""
    keys = [settings_key(tmp_path, f"k{i}", fields) for i, fields in enumerate([
        "", "    duration: 6\n", "    sound: true\n", "    shot_type: customize\n", '    aspect_ratio: "1:1"\n',
        "    element_list: [307212335131306]\n", "    images: [refs/tower.png, refs/mara.png]\n",
        "    images: [refs/mara.png, refs/tower.png]\n", "    characters: [keeper]\n",
    ])]
    assert len(set(keys)) == len(keys)


# -- frames still report where they are wrong, and review shows them --

def test_frame_errors_keep_their_positions(tmp_path, cli):
    text = """version: 1
shots:
  - id: a
    prompt: The keeper climbs the stairs.
  - id: b
    prompt: The keeper looks out to sea.
    images: [{shot: a, frame: 5.0}, {shot: a, frame: 0}, {shot: a, frame: 0.01}, {shot: a, frame: 9}]
  - id: c
    model: kwaivgi/kling-video-o3-pro/image-to-video
    prompt: The lamp.
    image: {shot: a, frame: 7}
    end_image: {shot: a, frame: -0.5}
"""
    result = cli("validate", str(make_project(tmp_path, text)))
    assert result.code == 1 and "Traceback" not in result.err
    lines = [line.split("storyboard.yaml:", 1)[1] for line in result.err.splitlines()
             if "storyboard.yaml:" in line and not line.endswith(" errors")]  # not the count that ends the output
    assert lines == [
        "7:31: shots[1].images[0].frame: 5 s is outside shot `a`, which is planned 5 s long "
        "(its frames run from 0 to under 5 s)",
        "7:99: shots[1].images[3].frame: 9 s is outside shot `a`, which is planned 5 s long "
        "(its frames run from 0 to under 5 s)",
        "12:33: shots[2].end_image.frame: must be at least 0.0, got -0.5",
    ]


def test_diff_textconv_and_plan_show_a_frame_by_what_is_sent(tmp_path, cli):
    old = make_project(tmp_path, UPSTREAM.format(frame="first"), "old")
    same = make_project(tmp_path, UPSTREAM.format(frame="0.01"), "same")
    later = make_project(tmp_path, UPSTREAM.format(frame="2.51"), "later")
    nothing = cli("diff", str(old), str(same), "--exit-code")
    assert nothing.code == 0 and "0 to change" in nothing.out and "re-render" not in nothing.out
    changed = cli("diff", str(old), str(later), "--format", "json")
    shot = next(s for s in json.loads(changed.out)["shots"] if s["shot"] == "b")
    assert [(c["field"], c["before"], c["after"]) for c in shot["changes"]] == [("image", "a:first", "a:2.5")]
    assert "  image: shot a, frame 2.5\n" in cli("textconv", str(later)).out
    assert "  image: shot a, frame first\n" in cli("textconv", str(same)).out
    assert "b ← a:2.5" in cli("plan", str(later)).out


def test_status_counts_a_frame_spelt_another_way_as_paid(tmp_path, cli, monkeypatch):
    path = make_project(tmp_path, UPSTREAM.format(frame="last"))
    with Emulator(task_seconds=0.1) as emu:
        env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": "sk-spellings"}
        assert not render_project(str(path), env=env, options=Options(rate=0), engine=None).report.failed
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)  # the origin is part of the key
    path.write_text(UPSTREAM.format(frame="4.99"))
    rows = {r["shot"]: r for r in json.loads(cli("status", str(path), "--json").out)["shots"]}
    assert rows["b"]["state"] == "here" and rows["a"]["state"] == "here"



# -- properties (Hypothesis) --

RATES = st.one_of(st.integers(1, 120).map(Fraction), st.sampled_from([Fraction(30000, 1001), Fraction(24000, 1001)]))
LENGTHS = st.one_of(st.integers(3, 15).map(float), st.floats(3, 15, allow_nan=False))


@st.composite
def frame_times(draw, planned: float):
    """A frame as someone might write it: a name, or a time (a round one or not) within the planned length."""
    time = st.one_of(st.floats(0, planned, exclude_max=True), st.integers(0, int(planned * 100) - 1).map(lambda c: c / 100))
    return draw(st.one_of(st.sampled_from(["first", "last"]), time.filter(lambda t: t < planned)))


@settings(max_examples=300, deadline=timedelta(seconds=2))
@given(data=st.data(), fps=RATES, planned=LENGTHS)
def test_a_frame_and_its_key_spelling_resolve_to_the_same_frame(data, fps, planned):
    frame = data.draw(frame_times(planned))
    spelt = key_frame(frame, planned, fps)
    assert resolve_frame(spelt, planned, fps) == resolve_frame(frame, planned, fps)
    assert key_frame(spelt, planned, fps) == spelt  # one spelling: spelling it again changes nothing
    other = data.draw(frame_times(planned))
    same_frame = resolve_frame(other, planned, fps) == resolve_frame(frame, planned, fps)
    assert (key_frame(other, planned, fps) == spelt) == same_frame



def yaml_number(value: float) -> str:
    return np.format_float_positional(value, unique=True, trim="0")


MICROS = st.integers(0, 5 * 10**6 - 1)  # a time within a 5 s shot, written to the microsecond


@settings(max_examples=25, deadline=timedelta(seconds=10))
@given(first=MICROS, step=st.one_of(st.integers(-50000, 50000), MICROS))
def test_keys_are_equal_exactly_when_the_frames_are(first, step):
    times = [first / 10**6, min(max(first + step, 0), 5 * 10**6 - 1) / 10**6]  # often a frame apart or less
    with tempfile.TemporaryDirectory() as tmp:
        keys = [frame_key(Path(tmp), yaml_number(t), name=f"t{i}") for i, t in enumerate(times)]
    frames = [resolve_frame(t, 5.0, Fraction(24)) for t in times]
    assert (keys[0] == keys[1]) == (frames[0] == frames[1])


@settings(max_examples=20, deadline=timedelta(seconds=10))
@given(seconds=st.integers(3, 15), spelling=st.sampled_from(["{}", "{}.0", "{}.00", '"{}"', "+{}", "0{}.0e+0"]),
       where=st.sampled_from(["shot", "defaults"]))
def test_a_duration_is_keyed_by_its_value(seconds, spelling, where):
    written = spelling.format(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        ordinary = settings_key(Path(tmp), "ordinary", f"    duration: {seconds}\n")
        if where == "shot":
            other = settings_key(Path(tmp), "other", f"    duration: {written}\n")
        else:
            other = settings_key(Path(tmp), "other", "", f"defaults: {{duration: {written}}}\n")
    assert other == ordinary
