"""The final cut: both engines, exact lengths, mismatched inputs, determinism."""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import frame, psnr

from storyboard.store.cache import ClipCache, cache_dir
from storyboard.errors import StoryboardError
from storyboard.cut.probe import ffmpeg_exe, probe
from storyboard.plan.project import compile_project
from storyboard.cut.stitch import StitchError, stitch

FPS = 24


def make_clip(path: Path, seconds: float, *, size=(160, 90), fps=24, rate: int | None = 48000, hue=0,
              tone=440, preset="ultrafast") -> Path:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc2=s={size[0]}x{size[1]}:r={fps}:d={seconds}"]
    if rate:
        cmd += ["-f", "lavfi", "-i", f"sine=f={tone}:r={rate}:d={seconds}"]
    cmd += ["-vf", f"hue=h={hue},gblur=sigma=1.5", "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", "-threads", "1"]
    if rate:
        cmd += ["-c:a", "aac", "-ac", "2"]
    subprocess.run(cmd + [str(path)], check=True)
    return path


STORY = """\
version: 1
shots:
  - {{id: one, prompt: one, duration: 3, sound: true}}
  - {{id: two, prompt: two, duration: 3, sound: true{t2}}}
  - {{id: three, prompt: three, duration: 4, sound: true{t3}}}
  - {{id: four, prompt: four, duration: 3, sound: true{t4}}}
cut:
  output: renders/film.mp4
  quality: 12  # tiny, busy test pictures: keep re-encoding loss low
{music}"""


def film_project(project, *, t2="", t3="", t4="", music=False, variants=None):
    """A project whose shots' clips are already in the cache (as if rendered with preview)."""
    files = {}
    if music:
        files["theme.m4a"] = b""
    text = STORY.format(t2=t2, t3=t3, t4=t4,
                        music="  music: {file: theme.m4a, volume: 0.5, fade_in: 1, fade_out: 1}\n" if music else "")
    path = project(text, files)
    if music:
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=220:r=44100:d=20",
                        "-c:a", "aac", str(path.parent / "theme.m4a")], check=True)
    compiled = compile_project(str(path), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for n, cs in enumerate(compiled.plan.cut.shots):
        options = (variants or {}).get(cs.shot, {})
        clip = make_clip(path.parent / f"src-{cs.shot}.mp4", cs.duration + 0.04, hue=n * 60, tone=300 + 100 * n,
                         **options)
        cache.put(cs.key, clip, duration=cs.duration, model="m", provider="preview", task_id="t")
    return compiled, cache






def streams(path: Path) -> dict[int, tuple[float, bool]]:
    """Per stream: its end time in seconds, and whether its timestamps only go up."""
    text = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-c", "copy", "-f", "framecrc", "-"],
                          capture_output=True, text=True, check=True).stdout
    bases = {int(i): Fraction(int(n), int(d)) for i, n, d in re.findall(r"#tb (\d+): (\d+)/(\d+)", text)}
    ends, monotonic, last = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        index, dts, pts, duration = (int(x) for x in line.split(",")[:4])
        monotonic[index] = monotonic.get(index, True) and dts > last.get(index, -10**18)
        last[index] = dts
        ends[index] = max(ends.get(index, 0), float((pts + duration) * bases[index]))
    return {i: (ends[i], monotonic[i]) for i in ends}


def check_exact(path: Path, planned: float):
    s = streams(path)
    assert set(s) == {0, 1}, "a video and an audio stream"
    (video_end, video_up), (audio_end, audio_up) = s[0], s[1]
    assert video_up and audio_up
    assert abs(video_end - planned) <= 1 / FPS + 1e-6, (video_end, planned)
    assert abs(audio_end - planned) <= 1 / FPS + 1e-6, (audio_end, planned)
    assert abs(video_end - audio_end) <= 1 / FPS + 1e-6


def cut(compiled, cache, engine="ffmpeg", name="film.mp4"):
    return stitch(compiled.plan, compiled.root, cache, storyboard="s", engine=engine,
                  output=compiled.root / "renders" / name)


TRANSITIONS = dict(t2=", transition: {type: crossfade, duration: 0.5}",
                   t3=", transition: {type: fade, duration: 1}", t4=", transition: {type: crossfade, duration: 1}")


@pytest.mark.parametrize("transitions, music", [({}, False), (TRANSITIONS, False), (TRANSITIONS, True)],
                         ids=["cuts", "transitions", "transitions+music"])
def test_engines_agree(project, transitions, music):
    compiled, cache = film_project(project, music=music, **transitions)
    planned = compiled.plan.cut.duration
    fast = cut(compiled, cache, "ffmpeg", "fast.mp4")
    reference = cut(compiled, cache, "moviepy", "reference.mp4")
    check_exact(fast, planned)
    assert abs(probe(reference).duration - planned) <= 1 / FPS + 1e-6
    for t in np.linspace(0.05, planned - 0.1, 14):
        assert psnr(frame(fast, t), frame(reference, t)) >= 35, f"frames differ at {t:.2f} s"


def test_fade_is_darkest_at_the_midpoint(project):
    compiled, cache = film_project(project, t3=", transition: {type: fade, duration: 1}")
    film = cut(compiled, cache)
    midpoint = 3 + 3 - 0.5  # shot three starts at 5.0 (6 - 1), the fade's middle is 5.5
    assert frame(film, midpoint).mean() < 20
    assert frame(film, midpoint - 0.4).mean() > frame(film, midpoint - 0.05).mean()
    assert frame(film, midpoint + 0.4).mean() > frame(film, midpoint + 0.05).mean()


def test_uniform_hard_cuts_are_joined_without_reencoding(project, monkeypatch):
    from storyboard.cut import ffmpeg_engine as stitch_ffmpeg

    compiled, cache = film_project(project)
    calls = []
    real = stitch_ffmpeg.ffmpeg
    monkeypatch.setattr(stitch_ffmpeg, "ffmpeg", lambda args, what: calls.append([str(a) for a in args]) or
                        real(args, what))
    film = cut(compiled, cache)
    assert not any("libx264" in call for call in calls)
    check_exact(film, compiled.plan.cut.duration)


def test_mismatched_inputs_make_a_correct_film(project):
    variants = {"two": {"size": (320, 180)}, "three": {"fps": 30, "rate": None}, "four": {"rate": 44100}}
    compiled, cache = film_project(project, variants=variants)
    film = cut(compiled, cache)
    info = probe(film)
    assert (info.width, info.height, info.fps) == (160, 90, Fraction(24))
    check_exact(film, compiled.plan.cut.duration)
    assert subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(film), "-f", "null", "-"],
                          capture_output=True, text=True).stderr == ""
    again = cut(compiled, cache, name="again.mp4")  # the conformed clips now come from the cache
    assert again.read_bytes() == film.read_bytes()


def test_cutting_twice_gives_identical_bytes(project):
    compiled, cache = film_project(project, music=True, **TRANSITIONS)
    first = cut(compiled, cache, name="a.mp4").read_bytes()
    second = cut(compiled, cache, name="b.mp4").read_bytes()
    assert first == second


def test_music_is_mixed_stretch_by_stretch_and_a_changed_shot_mixes_only_its_own(project, monkeypatch):
    from storyboard.cut import ffmpeg_engine as stitch_ffmpeg

    compiled, cache = film_project(project, music=True)
    first = cut(compiled, cache, name="a.mp4").read_bytes()
    calls = []
    real = stitch_ffmpeg.ffmpeg
    monkeypatch.setattr(stitch_ffmpeg, "ffmpeg", lambda args, what: calls.append(what) or real(args, what))
    assert cut(compiled, cache, name="b.mp4").read_bytes() == first and calls == []  # every stretch was kept
    # Another clip for the second shot (as loud as it: the film's gain stays): only its stretch is mixed again.
    sound = cache_dir(compiled.root) / "sound"
    before = set(sound.iterdir())
    other = compiled.root / "other.mp4"
    other.write_bytes(cache.get(compiled.plan.cut.shots[2].key).path.read_bytes())
    cache.put(compiled.plan.cut.shots[1].key, other, duration=compiled.plan.cut.shots[1].duration, model="m",
              provider="preview", task_id="t2")
    film = cut(compiled, cache, name="c.mp4")
    assert film.read_bytes() != first and calls == ["making the music bed", "encoding stretches of the sound"]
    assert len(set(sound.iterdir()) - before) == 1


def test_loudness_is_normalised(project):
    compiled, cache = film_project(project, music=True)
    film = cut(compiled, cache)
    text = subprocess.run([ffmpeg_exe(), "-i", str(film), "-af", "ebur128", "-f", "null", "-"],
                          capture_output=True, text=True).stderr
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", text.rsplit("Summary:", 1)[-1]).group(1))
    assert abs(integrated - -16) <= 1.0


def test_missing_clip_names_the_shot_and_how_to_render(project, cli):
    path = project("version: 1\nshots:\n  - {id: alpha, prompt: a}\n  - {id: beta, prompt: b}\n")
    result = cli("stitch", str(path), "--provider", "preview")
    assert result.code == 1
    assert "no clip in the cache for shots alpha, beta" in result.err
    assert f"storyboard render {path} --provider preview" in result.err


def test_a_failed_stitch_leaves_no_file(project, monkeypatch):
    from storyboard.cut import film as writer

    compiled, cache = film_project(project)

    def disk_full(f, samples, handles):
        f.write(b"half a film")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_copy_samples", disk_full)
    with pytest.raises(StoryboardError, match="No space left"):
        cut(compiled, cache)
    assert list((compiled.root / "renders").iterdir()) == []


def test_a_failed_ffmpeg_join_leaves_no_file(project, monkeypatch):
    from storyboard.cut import ffmpeg_engine as stitch_ffmpeg

    compiled, cache = film_project(project)
    real = stitch_ffmpeg.ffmpeg

    def fail_on_mux(args, what):
        if what == "muxing the film":
            raise StitchError("simulated failure")
        return real(args, what)

    monkeypatch.setattr(stitch_ffmpeg, "write_film", lambda *a, **k: False)  # parts it cannot join itself
    monkeypatch.setattr(stitch_ffmpeg, "ffmpeg", fail_on_mux)
    with pytest.raises(StoryboardError):
        cut(compiled, cache)
    assert list((compiled.root / "renders").iterdir()) == []


def test_otio_timeline_reads_back(project, tmp_path):
    import opentimelineio as otio

    compiled, cache = film_project(project, **TRANSITIONS)
    target = tmp_path / "cut.otio"
    stitch(compiled.plan, compiled.root, cache, storyboard="s", otio=target)
    timeline = otio.adapters.read_from_file(str(target))
    assert abs(timeline.duration().to_seconds() - compiled.plan.cut.duration) < 1e-6
    clips = [c for c in timeline.tracks[0] if isinstance(c, otio.schema.Clip)]
    assert [c.metadata["storyboard"]["shot"] for c in clips] == ["one", "two", "three", "four"]
    assert [c.metadata["storyboard"]["job_key"] for c in clips] == [s.key for s in compiled.plan.cut.shots]
    transitions = [t for t in timeline.tracks[0] if isinstance(t, otio.schema.Transition)]
    assert [t.metadata["storyboard"]["type"] for t in transitions] == ["crossfade", "fade", "crossfade"]
    assert (target.parent / clips[0].media_reference.target_url).is_file()  # relative to the timeline


def test_stitch_command_needs_no_key_and_no_network(project, cli):
    compiled, cache = film_project(project)
    result = cli("stitch", str(compiled.path), "--provider", "preview")
    assert result.code == 0, result.err
    assert (compiled.root / "renders" / "film.mp4").is_file()


def test_the_cut_can_set_resolution_and_fps(project):
    compiled, cache = film_project(project)
    text = compiled.path.read_text().replace("  quality: 12", "  quality: 12\n  resolution: 320x180\n  fps: 30")
    compiled.path.write_text(text)
    compiled = compile_project(str(compiled.path), provider="preview")
    film = cut(compiled, cache)
    info = probe(film)
    assert (info.width, info.height, info.fps) == (320, 180, Fraction(30))
    s = streams(film)
    assert abs(s[0][0] - compiled.plan.cut.duration) <= 1 / 30 + 1e-6


def test_bad_resolution_is_reported(project, cli):
    path = project("version: 1\nshots:\n  - {id: a, prompt: x}\ncut:\n  resolution: 1281x720\n")
    result = cli("validate", str(path))
    assert result.code == 1
    assert f"{path}:5:15: cut.resolution: `1281x720`: H.264 in yuv420p needs an even width and height" in result.err


def test_mp4_reader_agrees_with_ffmpeg(tmp_path):
    from storyboard.cut.probe import _probe, read_mp4

    variants = [{}, {"size": (320, 180)}, {"fps": 30, "rate": None}, {"rate": 44100}]
    setups = []
    for i, options in enumerate(variants):
        clip = make_clip(tmp_path / f"c{i}.mp4", 3.04, **options)
        ours = read_mp4(clip)
        theirs = _probe(str(clip), clip.stat().st_size, clip.stat().st_mtime_ns)
        assert ours is not None
        for name in ("vcodec", "width", "height", "pix_fmt", "fps", "tbn", "acodec", "rate", "layout"):
            assert getattr(ours, name) == getattr(theirs, name), name
        assert abs(ours.duration - theirs.duration) < 0.05
        setups.append(ours.setup)
    # The decoder setup (SPS/PPS) is part of what must match for a stream-copy join.
    assert setups[0] == setups[3] and setups[0] != setups[1]
    assert read_mp4(tmp_path / "c0.mp4").signature != read_mp4(tmp_path / "c1.mp4").signature


def test_plain_cuts_without_levelling_copy_the_sound_without_drift(project, monkeypatch):
    from storyboard.cut import ffmpeg_engine as stitch_ffmpeg

    compiled, cache = film_project(project)
    compiled.path.write_text(compiled.path.read_text().replace("  quality: 12", "  quality: 12\n  loudness: null"))
    compiled = compile_project(str(compiled.path), provider="preview")
    calls = []
    real = stitch_ffmpeg.ffmpeg
    monkeypatch.setattr(stitch_ffmpeg, "ffmpeg", lambda args, what: calls.append(what) or real(args, what))
    film = cut(compiled, cache)
    assert calls == []  # nothing re-encoded, nor even copied by ffmpeg: the film is written from the clips
    check_exact(film, compiled.plan.cut.duration)
    # the sound of each shot starts where its picture does: shot three's tone is there at 6.1 s
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", "6.1", "-t", "0.2", "-i", str(film), "-f", "s16le",
                          "-ac", "1", "-ar", "8000", "-"], capture_output=True, check=True).stdout
    samples = np.frombuffer(pcm, np.int16).astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * 8000 / len(samples) - 500) < 15  # shot three's tone is 500 Hz


def test_clips_with_b_frames_are_cut_frame_exactly(project):
    # Generated clips usually have B-frames; a copy cut would keep a frame too many per clip.
    variants = {shot: {"preset": "veryfast"} for shot in ("one", "two", "three", "four")}
    compiled, cache = film_project(project, variants=variants)
    assert probe(cache.get(compiled.plan.cut.shots[0].key).path).reordered is True
    film = cut(compiled, cache)
    check_exact(film, compiled.plan.cut.duration)
    # shot four starts at 10 s: its first picture is the film's frame at 10 s, not a frame later
    first = frame(cache.get(compiled.plan.cut.shots[3].key).path, 0.0)
    assert psnr(frame(film, 10.0), first) > 30 > psnr(frame(film, 10.0 + 1 / FPS), first) - 5
