"""The default stitch engine: the ffmpeg binary that moviepy ships.

Picture: a film of hard cuts between clips of one identical format is
joined by stream copy (each clip trimmed to its planned length, also by
copy). Clips of other formats are conformed once to the target and cached by
(clip digest, target, length); then every clip is conformed, so the concat
never mixes formats (ffmpeg exits 0 on such a concat and writes a broken
file). Any transition puts the whole picture through one filter graph and
one encode. Sound: one filter graph (trims, silence for clips without sound,
crossfades, the music bed), measured once for loudness, then encoded with a
fixed gain. Every encoder setting is fixed and bit-exact, so cutting twice
gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

from .cache import ClipCache
from .plan import CutPlan
from .probe import ffmpeg_exe
from .stitch import AUDIO_RATE, Piece, StitchError, Target

BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1", "-map_chapters", "-1"]
CONFORM_VERSION = 1


def ffmpeg(args: list, what: str) -> str:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *[str(a) for a in args]]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-4:])
        raise StitchError(f"ffmpeg failed while {what}:\n{tail}")
    return result.stderr


def x264(target: Target) -> list:
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", target.quality, "-pix_fmt", "yuv420p",
            "-threads", "2", "-x264-params", "threads=2"]


def fps_text(target: Target) -> str:
    return f"{target.fps.numerator}/{target.fps.denominator}"


def normalize(target: Target, pix_fmt: str = "yuv420p") -> str:
    w, h = target.width, target.height
    return (f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
            f"setsar=1,fps={fps_text(target)},format={pix_fmt}")


def cut_film(cut: CutPlan, timeline: list[Piece], target: Target, music: Path | None, work: Path, out: Path,
             cache: ClipCache) -> None:
    length = cut.duration
    video = make_video(timeline, target, work, cache)
    audio = make_audio(cut, timeline, music, work)
    gain = loudness_gain(audio, cut.loudness)
    ffmpeg(["-i", video, "-i", audio, "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
            "-af", f"volume={gain:.4f}dB", "-c:a", "aac", "-b:a", "192k", "-ar", AUDIO_RATE, "-ac", 2,
            "-t", f"{length:.6f}", "-movflags", "+faststart", *BITEXACT, "-f", "mp4", out], "muxing the film")


# -- picture --

def make_video(timeline: list[Piece], target: Target, work: Path, cache: ClipCache) -> Path:
    hard_cuts = all(not (p.crossfade_in or p.fade_in or p.fade_out) for p in timeline)
    if hard_cuts:
        return _concat(timeline, target, work, cache)
    return _graph(timeline, target, work)


def copyable(timeline: list[Piece], target: Target) -> bool:
    first = timeline[0].info
    return all(
        p.info.signature[:7] == first.signature[:7] and p.info.vcodec == "h264" and p.info.pix_fmt == "yuv420p"
        and (p.info.width, p.info.height, p.info.fps) == (target.width, target.height, target.fps)
        for p in timeline
    )


def _concat(timeline: list[Piece], target: Target, work: Path, cache: ClipCache) -> Path:
    same = copyable(timeline, target)
    segments = []
    for i, p in enumerate(timeline):
        if same:
            segment = work / f"seg{i:04d}.mp4"
            ffmpeg(["-i", p.path, "-map", "0:v:0", "-c", "copy", "-t", f"{p.duration:.6f}", *BITEXACT, segment],
                   f"trimming {p.shot}")
        else:
            segment = conformed(p, target, work, cache)
        segments.append(segment)
    listing = work / "segments.txt"
    listing.write_text("".join(f"file '{s.as_posix()}'\n" for s in segments))
    video = work / "video.mp4"
    ffmpeg(["-f", "concat", "-safe", 0, "-i", listing, "-c", "copy", *BITEXACT, video], "joining the clips")
    return video


def conformed(p: Piece, target: Target, work: Path, cache: ClipCache) -> Path:
    """The clip re-encoded to the target and trimmed, made once and kept in the cache."""
    digest = p.path.stem if re.fullmatch(r"[0-9a-f]{64}", p.path.stem) else _sha(p.path)
    spec = {"v": CONFORM_VERSION, "clip": digest, "w": target.width, "h": target.height,
            "fps": fps_text(target), "q": target.quality, "d": p.duration}
    name = "conformed/" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest() + ".mp4"
    kept = cache.storage.local_copy(name)
    if kept is not None:
        return kept
    made = work / f"conform-{digest[:12]}.mp4"
    ffmpeg(["-i", p.path, "-map", "0:v:0", "-vf", f"trim=0:{p.duration:.6f},setpts=PTS-STARTPTS,{normalize(target)}",
            *x264(target), "-video_track_timescale", _timescale(target), *BITEXACT, made], f"conforming {p.shot}")
    cache.storage.put_file_if_absent(name, made)
    return cache.storage.local_copy(name) or made


def _tb(target: Target) -> str:
    return f"{target.fps.denominator}/{target.fps.numerator}"


def _timescale(target: Target) -> int:
    return target.fps.numerator * 512 // target.fps.denominator if target.fps.denominator == 1 else 90000


def _sha(path: Path) -> str:
    from .cache import file_sha256

    return file_sha256(path)


def _graph(timeline: list[Piece], target: Target, work: Path) -> Path:
    inputs, parts = [], []
    for i, p in enumerate(timeline):
        inputs += ["-i", p.path]
        # Transitions blend in RGB, as the reference engine does: a blend of
        # YUV pictures differs from one of RGB pictures wherever colours clip.
        chain = (f"[{i}:v:0]trim=start={p.source_in:.6f}:end={p.source_out:.6f},setpts=PTS-STARTPTS,"
                 f"{normalize(target, 'gbrp')}")
        if p.fade_in:
            chain += f",fade=t=in:st=0:d={p.fade_in:.6f}"
        if p.fade_out:
            chain += f",fade=t=out:st={p.visible - p.fade_out:.6f}:d={p.fade_out:.6f}"
        parts.append(chain + f",settb={_tb(target)}[v{i}]")
    acc, length = "v0", timeline[0].visible
    for i, p in enumerate(timeline[1:], 1):
        if p.crossfade_in:
            parts.append(f"[{acc}][v{i}]xfade=transition=fade:duration={p.crossfade_in:.6f}"
                         f":offset={length - p.crossfade_in:.6f}[x{i}]")
            length += p.visible - p.crossfade_in
        else:
            parts.append(f"[{acc}][v{i}]concat=n=2:v=1:a=0,settb={_tb(target)}[x{i}]")
            length += p.visible
        acc = f"x{i}"
    parts.append(f"[{acc}]format=yuv420p[picture]")
    video = work / "video.mp4"
    script = work / "video.graph"
    script.write_text(";\n".join(parts))
    ffmpeg([*inputs, "-/filter_complex", script, "-map", "[picture]", *x264(target),
            "-video_track_timescale", _timescale(target), *BITEXACT, video], "cutting the picture")
    return video


# -- sound --

def make_audio(cut: CutPlan, timeline: list[Piece], music: Path | None, work: Path) -> Path:
    inputs, parts = [], []
    fmt = f"aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
    for i, p in enumerate(timeline):
        inputs += ["-i", p.path]
        if p.sound:
            parts.append(f"[{i}:a:0]{fmt},atrim=0:{p.duration:.6f},asetpts=PTS-STARTPTS,"
                         f"apad=whole_dur={p.duration:.6f}[a{i}]")
        else:
            parts.append(f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=0:{p.duration:.6f}[a{i}]")
    acc = "a0"
    for i, p in enumerate(timeline[1:], 1):
        if p.sound_in:
            parts.append(f"[{acc}][a{i}]acrossfade=d={p.sound_in:.6f}:c1=tri:c2=tri[s{i}]")
        else:
            parts.append(f"[{acc}][a{i}]concat=n=2:v=0:a=1[s{i}]")
        acc = f"s{i}"
    length = cut.duration
    if music is not None and cut.music is not None:
        m = cut.music
        inputs += ["-i", music]
        parts.append(f"[{len(timeline)}:a:0]{fmt},apad,atrim=0:{length:.6f},asetpts=PTS-STARTPTS,"
                     f"volume='{music_gain_expr(cut, timeline)}':eval=frame,"
                     f"afade=t=in:d={m.fade_in:.6f},afade=t=out:st={max(0.0, length - m.fade_out):.6f}:d={m.fade_out:.6f}[m]")
        parts.append(f"[{acc}][m]amix=inputs=2:duration=first:normalize=0[mix]")
        acc = "mix"
    audio = work / "audio.wav"
    script = work / "audio.graph"
    script.write_text(";\n".join(parts))
    ffmpeg([*inputs, "-/filter_complex", script, "-map", f"[{acc}]", "-t", f"{length:.6f}",
            "-c:a", "pcm_f32le", "-ar", AUDIO_RATE, *BITEXACT, audio], "mixing the sound")
    return audio


def music_gain_expr(cut: CutPlan, timeline: list[Piece]) -> str:
    spans = [f"between(t,{p.start:.6f},{p.start + p.duration:.6f})" for p in timeline if p.sound]
    if not spans or cut.music.duck == 1:
        return f"{cut.music.volume:.6f}"
    return f"{cut.music.volume:.6f}*if({'+'.join(spans)},{cut.music.duck:.6f},1)"


def loudness_gain(audio: Path, target: float | None) -> float:
    """dB to bring the mix to ``target`` LUFS, no further than a true peak of -1 dBTP."""
    if target is None:
        return 0.0
    text = ffmpeg(["-i", audio, "-af", "ebur128=peak=true", "-f", "null", "-"], "measuring loudness")
    summary = text.rsplit("Summary:", 1)[-1]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if not integrated or integrated.group(1) == "-inf" or float(integrated.group(1)) <= -69.9:
        return 0.0  # silence: nothing to bring up
    gain = target - float(integrated.group(1))
    if peak and peak.group(1) != "-inf":
        gain = min(gain, -1.0 - float(peak.group(1)))
    return round(gain, 2)
