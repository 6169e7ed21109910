"""The fast cut on clips like a provider's: B-frames, distinct picture and sound,
levelled loudness. A re-cut encodes nothing it encoded before; the first cut
re-encodes only the few frames a B-frame clip's cut needs; the film is
frame-exact, plays cleanly and is the same bytes every time."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import storyboard.cut.ffmpeg_engine as engine
from conftest import psnr

from storyboard.cut.avcc import read_avcc
from storyboard.cut.mp4 import tracks
from storyboard.cut.probe import ffmpeg_exe, probe
from storyboard.cut.smart import copyable_prefix, display_ranks
from storyboard.cut.stitch import stitch
from storyboard.plan.project import compile_project
from storyboard.store.cache import ClipCache, cache_dir

FPS, SIZE, SECONDS = 24, "320x180", 3
SOURCES = ["testsrc2", "mandelbrot", "rgbtestsrc", "testsrc"]


def make_clip(path: Path, k: int, *, bframes: bool = True, level: float = 0.5, extra: list | None = None) -> Path:
    """A provider-like clip: x264's default settings (B-frames), 0.04 s longer than planned, its own sound."""
    length = SECONDS + 0.04
    source = f"{SOURCES[k % len(SOURCES)]}=s={SIZE}:r={FPS}"
    encode = ["-c:v", "libx264", "-pix_fmt", "yuv420p", *(extra or [])] + ([] if bframes else ["-bf", "0"])
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", source,
                    "-f", "lavfi", "-i", f"sine=f={220 + 50 * k}:r=48000:d={length}",
                    "-filter_complex", f"[0:v]hue=h={k * 40},trim=duration={length}[v];[1:a]volume={level}[a]",
                    "-map", "[v]", "-map", "[a]", *encode, "-c:a", "aac", "-ar", "48000", "-ac", "2",
                    "-t", f"{length}", str(path)], check=True)
    return path


def film(project, tmp_path, clips: list[Path], extra_cut: str = ""):
    shots = "".join(f"  - {{id: s{i}, prompt: shot {i}, duration: {SECONDS}}}\n" for i in range(len(clips)))
    path = project(f"version: 1\nshots:\n{shots}cut:\n  output: film.mp4\n{extra_cut}")
    compiled = compile_project(str(path), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for cs, clip in zip(compiled.plan.cut.shots, clips):
        cache.put(cs.key, clip, duration=SECONDS, model="m", provider="preview", task_id="t")
    return compiled, cache


def frames(path: Path) -> np.ndarray:
    info = probe(path)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width, 3).astype(np.float64)




def loudness(path: Path) -> tuple[float, float]:
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-af", "ebur128=peak=true",
                           "-f", "null", "-"], capture_output=True, text=True).stderr.rsplit("Summary:", 1)[-1]
    return (float(re.search(r"I:\s+(-?[\d.]+) LUFS", text).group(1)),
            float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", text).group(1)))


def encoders(monkeypatch) -> list[str]:
    """Every ffmpeg run of the engine that encodes picture (x264) or sound (AAC), by what it was doing."""
    runs: list[str] = []
    real = engine.ffmpeg

    def counting(args, what):
        text = [str(a) for a in args]
        if "libx264" in text or any(a == "aac" and b in ("-c:a", "-acodec") for b, a in zip(text, text[1:])):
            runs.append(what)
        return real(args, what)

    monkeypatch.setattr(engine, "ffmpeg", counting)
    return runs


def decode_errors(path: Path) -> str:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True).stderr


@pytest.fixture
def clips(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    return [make_clip(folder / f"c{k}.mp4", k, level=0.3 + 0.1 * k) for k in range(4)]


def test_copyable_prefix_stops_where_decode_and_display_order_agree():
    # I0 P3 B1 B2 P6 B4 B5 | P8 B7: a copy of 7 frames keeps only what is decoded before frame 7
    ranks = [0, 3, 1, 2, 6, 4, 5, 8, 7]
    assert copyable_prefix(ranks, 7) == 7
    assert copyable_prefix(ranks, 6) == 4  # frames 4 and 5 refer to frame 6: cut after frame 3, encode 4–5
    assert copyable_prefix(ranks, 9) == 9 and copyable_prefix(ranks, 1) == 1


def test_b_frame_clips_are_cut_frame_exactly_levelled_and_play_cleanly(project, tmp_path, clips):
    assert all(probe(c).reordered for c in clips)  # the clips really have B-frames
    compiled, cache = film(project, tmp_path, clips)
    out = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    assert decode_errors(out) == ""
    got = frames(out)
    n = SECONDS * FPS
    assert len(got) == n * len(clips)
    for i, clip in enumerate(clips):
        source = frames(clip)
        assert psnr(got[i * n], source[0]) >= 35, f"first frame of shot {i}"
        assert psnr(got[i * n + n - 1], source[n - 1]) >= 35, f"last frame of shot {i}"
        assert psnr(got[i * n + n - 1], source[n]) < psnr(got[i * n + n - 1], source[n - 1])
    level, peak = loudness(out)
    assert abs(level - -16) <= 1 and peak <= -1
    info = probe(out)
    assert abs(info.duration - SECONDS * len(clips)) < 1 / FPS


def test_a_recut_encodes_nothing_and_gives_the_same_bytes(project, tmp_path, clips, monkeypatch):
    compiled, cache = film(project, tmp_path, clips)
    first = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg").read_bytes()
    runs = encoders(monkeypatch)
    again = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg").read_bytes()
    assert runs == [] and again == first
    # Made again from nothing (another machine): the same bytes.
    for folder in ("conformed", "sound", "loudness"):
        for f in (cache_dir(compiled.root) / folder).glob("*"):
            f.unlink()
    fresh = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg").read_bytes()
    assert fresh == first


def test_changing_one_shot_encodes_only_that_shot(project, tmp_path, clips, monkeypatch):
    level = 0.5  # every clip as loud: the film's gain stays where it was
    same = [make_clip(tmp_path / f"even{k}.mp4", k, level=level) for k in range(4)]
    compiled, cache = film(project, tmp_path, same)
    stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    other = make_clip(tmp_path / "other.mp4", 7, level=level)
    cache.put(compiled.plan.cut.shots[2].key, other, duration=SECONDS, model="m", provider="preview", task_id="t2")
    runs = encoders(monkeypatch)
    out = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    sound = [r for r in runs if "sound" in r]
    picture = [r for r in runs if "sound" not in r]
    assert len(sound) == 1 and len(picture) <= 1, runs  # its stretch of sound, and the tail of its picture
    n = SECONDS * FPS
    assert psnr(frames(out)[2 * n + 10], frames(other)[10]) >= 35


def test_clips_of_another_setup_join_the_copied_ones(project, tmp_path, clips):
    odd = make_clip(tmp_path / "odd.mp4", 5, extra=["-profile:v", "main", "-refs", "2"])
    assert probe(odd).setup != probe(clips[0]).setup
    compiled, cache = film(project, tmp_path, [clips[0], odd, clips[1]])
    out = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    assert decode_errors(out) == ""
    got, n = frames(out), SECONDS * FPS
    assert len(got) == 3 * n
    assert psnr(got[n + 5], frames(odd)[5]) >= 35 and psnr(got[2 * n + n - 1], frames(clips[1])[n - 1]) >= 35
    setup = read_avcc(out)
    assert len(setup.sps) >= 2  # the copied clips' own parameter sets, and the others'


def test_clip_ranks_are_read_from_the_boxes(clips):
    ranks = display_ranks(tracks(clips[0])[b"vide"])
    assert sorted(ranks) == list(range(len(ranks))) and ranks != sorted(ranks)


def test_a_recut_with_crossfades_encodes_nothing(project, tmp_path, clips, monkeypatch):
    compiled, cache = film(project, tmp_path, clips, "  transition: {type: crossfade, duration: 0.5}\n")
    first = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg").read_bytes()
    runs = encoders(monkeypatch)
    again = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    assert runs == [] and again.read_bytes() == first
    level, peak = loudness(again)
    assert abs(level - -16) <= 1 and peak <= -1


def test_levelled_sound_stays_with_the_picture_at_every_cut(project, tmp_path):
    shots = [make_clip(tmp_path / f"tone{k}.mp4", k, level=0.2 + 0.15 * (k % 3)) for k in range(6)]
    compiled, cache = film(project, tmp_path, shots)
    out = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
                         capture_output=True, check=True).stdout
    sound = np.frombuffer(pcm, np.int16).astype(float)

    def tone(at: float) -> float:
        start = int(at * 48000)
        window = sound[start:start + 1920] * np.hanning(1920)
        spectrum = np.abs(np.fft.rfft(window, 48000))
        return float(np.argmax(spectrum))

    def rms(start: float, end: float) -> float:
        return float(np.sqrt(np.mean(sound[int(start * 48000):int(end * 48000)] ** 2)))

    for k in range(1, len(shots)):
        cut_at = k * SECONDS
        assert abs(tone(cut_at + 0.03) - (220 + 50 * k)) < 10, f"shot {k} is late"
        assert abs(tone(cut_at - 0.07) - (220 + 50 * (k - 1))) < 10, f"shot {k - 1} ends early"
        # Its sound is already playing 11 ms (half an AAC frame) after the cut, not 21 ms later:
        # the encoder's priming (near silence) falls at the end of the shot before instead.
        body = rms(cut_at + 1, cut_at + 2)
        assert rms(cut_at + 0.011, cut_at + 0.020) > 0.5 * body, f"shot {k}'s sound starts late"
        assert rms(cut_at - 0.060, cut_at - 0.030) > 0.5 * rms(cut_at - 2, cut_at - 1), f"shot {k - 1} ends early"
    assert abs(len(sound) / 48000 - SECONDS * len(shots)) < 1 / FPS


def test_the_film_written_directly_matches_the_one_ffmpeg_joins(project, tmp_path, clips, monkeypatch):
    """The film is written from its parts' samples, with no ffmpeg process; when the writer cannot
    join them, ffmpeg's concat demuxer does. Both give the same pictures and the same sound."""
    compiled, cache = film(project, tmp_path, clips)
    direct = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    direct_copy = tmp_path / "direct.mp4"
    direct_copy.write_bytes(direct.read_bytes())
    calls = []
    real = engine.ffmpeg
    monkeypatch.setattr(engine, "ffmpeg", lambda args, what: calls.append(what) or real(args, what))
    stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    assert calls == []  # a re-cut runs no ffmpeg at all
    monkeypatch.setattr(engine, "write_film", lambda *a, **k: False)
    joined = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    assert "muxing the film" in calls
    assert decode_errors(direct_copy) == "" and decode_errors(joined) == ""

    def decoded(path: Path, stream: str) -> list[str]:
        out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", f"0:{stream}:0",
                              "-f", "framemd5", "-"], capture_output=True, text=True, check=True).stdout
        return [line.split(",")[-1] for line in out.splitlines() if not line.startswith("#")]

    assert decoded(direct_copy, "v") == decoded(joined, "v")
    ours, theirs = (np.frombuffer(subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(p), "-map", "0:a:0", "-f", "f32le", "-"],
        capture_output=True, check=True).stdout, np.float32) for p in (direct_copy, joined))
    # ffmpeg's join plays the first clip's priming frame too (1024 samples of the encoder's delay,
    # two channels); the direct writer's edit list skips it, as the plan's accounting does.
    primed = 2 * 1024
    n = min(len(ours), len(theirs) - primed)
    assert n >= len(ours) - primed and np.allclose(ours[:n], theirs[primed:primed + n], atol=1e-6)
    assert abs(probe(direct_copy).duration - probe(joined).duration) < 1 / FPS


def test_crossfades_give_the_same_bytes_whatever_the_cache_holds(project, tmp_path, clips):
    """A shot's body and the blend out of it are encoded in one process; after a neighbour changes,
    the blend alone is encoded again. Both ways read the same frames, so the film is the same."""
    compiled, cache = film(project, tmp_path, clips, "  transition: {type: crossfade, duration: 0.5}\n")
    stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    other = make_clip(tmp_path / "other.mp4", 9)
    cache.put(compiled.plan.cut.shots[2].key, other, duration=SECONDS, model="m", provider="preview", task_id="t2")
    partly = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg").read_bytes()
    for f in (cache_dir(compiled.root) / "conformed").glob("*"):
        f.unlink()
    fresh = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg").read_bytes()
    assert partly == fresh


def test_the_writer_declines_a_cut_that_would_keep_a_frame_too_many(clips, tmp_path):
    from storyboard.cut.film import video_fits, write_film
    from storyboard.cut.mp4 import Take

    n = SECONDS * FPS
    checked = 0
    for clip in clips:
        found = tracks(clip)
        video, sound = found[b"vide"], found[b"soun"]
        head = copyable_prefix(display_ranks(video), n)
        assert video_fits([Take(video, head)]) == video.durations[0]
        if head < n:  # the first n samples in decode order hold a frame from past the cut
            checked += 1
            assert video_fits([Take(video, n)]) is None
            assert write_film(tmp_path / "x.mp4", [Take(video, n)], [Take(sound, 10)]) is False
            assert not (tmp_path / "x.mp4").exists()
    assert checked  # B-frame clips: at least one needs a tail


def test_a_film_past_four_gigabytes_takes_64_bit_offsets(project, tmp_path, clips, monkeypatch):
    """A long film's media passes 4 GiB: its chunk offsets (co64) and its mdat size take 64 bits.
    Shown on a short film by lowering the threshold; it plays the same pictures as the narrow one."""
    from storyboard.cut import film as writer
    from storyboard.cut.mp4 import read_moov

    compiled, cache = film(project, tmp_path, clips)
    narrow = tmp_path / "narrow.mp4"
    narrow.write_bytes(stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path)).read_bytes())
    monkeypatch.setattr(writer, "WIDE_FROM", 0)
    wide = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path))
    assert b"co64" in read_moov(wide) and b"stco" not in read_moov(wide)
    assert decode_errors(wide) == ""
    assert np.array_equal(frames(wide), frames(narrow))


def test_a_clip_of_other_colours_is_conformed_to_its_neighbours(project, tmp_path):
    """A player that takes the film's colours from its first clip must show a conformed clip
    of another pipeline (BT.601, bt470bg) as it was meant: its pixels are converted to BT.709."""
    tagged = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]
    base = [make_clip(tmp_path / f"b{k}.mp4", k, extra=tagged) for k in (0, 2)]
    odd = make_clip(tmp_path / "odd.mp4", 3, extra=["-profile:v", "main", "-colorspace", "bt470bg",
                                                    "-color_primaries", "bt470bg", "-color_trc", "smpte170m"])
    compiled, cache = film(project, tmp_path, [base[0], odd, base[1]])
    out = stitch(compiled.plan, compiled.root, cache, storyboard=str(compiled.path), engine="ffmpeg")
    assert len(read_avcc(out).sps) >= 2  # it was conformed, beside the copies

    def rgb(path: Path, *how: str) -> np.ndarray:
        info = probe(path)
        raw = subprocess.run([ffmpeg_exe(), "-v", "error", *how, "-i", str(path), "-vf",
                              f"scale=in_color_matrix={'bt709' if how else 'auto'},format=rgb24",
                              "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
        return np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width, 3).astype(np.float64)

    shown = rgb(out, "-reinit_filter", "0")  # every frame read as the first clip's colours say
    n = SECONDS * FPS
    meant = rgb(odd)  # the odd clip as its own tags say
    assert psnr(shown[n + 5], meant[5]) >= 33
