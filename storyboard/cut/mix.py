"""The film's sound in one filter graph: every clip's stretch, the transitions'
crossfades and a music bed (looped, ducked, faded), measured once for loudness
and encoded with a fixed gain. The path for films with a music bed, which runs
under every shot; without one, ``sound`` levels the film stretch by stretch.

The mix is kept in the cache by everything it is made of (the filter graph,
with each clip and the music named by digest, and the loudness target), so a
re-cut of an unchanged film encodes no sound; a change to any shot mixes the
whole film again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..plan.types import CutPlan
from ..store.cache import ClipCache
from .ffmpeg_tools import BITEXACT, audio_length, ffmpeg, loudness_gain
from .sound import FORMAT, clip_sound, digest_of
from .timeline import AUDIO_RATE, Piece, music_layout


MIX_VERSION = 1


def make_sound(cut: CutPlan, timeline: list[Piece], music: Path | None, work: Path, run=ffmpeg,
               cache: ClipCache | None = None) -> Path:
    """The film's sound, mixed, brought to the loudness target and encoded (AAC); made once and kept
    in ``cache``."""
    inputs, graph = audio_graph(cut, timeline, music)
    if cache is None:
        return _mixed(cut, inputs, graph, work, run)
    named = [digest_of(Path(a)) if isinstance(a, Path) else str(a) for a in inputs]
    spec = {"v": MIX_VERSION, "inputs": named, "graph": graph, "loudness": cut.loudness}
    name = "sound/mix-" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest() + ".m4a"
    kept = cache.storage.local_copy(name)
    if kept is not None:
        return kept
    made = _mixed(cut, inputs, graph, work, run)
    cache.storage.put_file_if_absent(name, made)
    return cache.storage.local_copy(name) or made


def _mixed(cut: CutPlan, inputs: list, graph: list[str], work: Path, run) -> Path:
    script = _script(work, "audio", graph)
    encoded = work / "sound.m4a"
    aac = ["-c:a", "aac", "-b:a", "192k", "-ar", AUDIO_RATE, "-ac", 2, *BITEXACT, "-f", "mp4", encoded]
    if cut.loudness is None:
        run([*inputs, "-/filter_complex", script, "-map", "[sound]", *aac], "mixing the sound")
        return encoded
    mix = work / "sound.wav"
    run([*inputs, "-/filter_complex", script, "-map", "[sound]", "-c:a", "pcm_f32le", "-ar", AUDIO_RATE,
            *BITEXACT, mix], "mixing the sound")
    run(["-i", mix, "-af", f"volume={loudness_gain(mix, cut.loudness):.4f}dB", *aac], "encoding the sound")
    return encoded


def _script(work: Path, name: str, parts: list[str]) -> Path:
    path = work / f"{name}.graph"
    path.write_text(";\n".join(parts))
    return path


def audio_graph(cut: CutPlan, timeline: list[Piece], music: Path | None) -> tuple[list, list[str]]:
    """Inputs and filter graph of the film's sound, labelled ``[sound]``."""
    inputs: list = []
    parts = [clip_sound(p, 0.0, p.duration, inputs, f"a{i}") for i, p in enumerate(timeline)]
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
        inputs += ["-vn", "-i", music]
        layout = music_layout(audio_length(music), length, m.loop)
        bed = f"[{len(inputs) // 3 - 1}:a:0]{FORMAT}"
        if len(layout.starts) > 1:  # copies of the bed, each crossfading linearly into the next
            copies = len(layout.starts)
            parts.append(bed + f",asplit={copies}" + "".join(f"[mc{k}]" for k in range(copies)))
            acc_m = "mc0"
            for k in range(1, copies):
                parts.append(f"[{acc_m}][mc{k}]acrossfade=d={layout.overlap:.6f}:c1=tri:c2=tri[ml{k}]")
                acc_m = f"ml{k}"
            bed = f"[{acc_m}]anull"
        fade_at = max(0.0, layout.stop - m.fade_out)  # the fade-out ends where the music ends
        parts.append(f"{bed},apad,atrim=0:{length:.6f},asetpts=PTS-STARTPTS,"
                     f"volume='{music_gain_expr(cut, timeline)}':eval=frame,"
                     f"afade=t=in:d={m.fade_in:.6f},afade=t=out:st={fade_at:.6f}:d={m.fade_out:.6f}[m]")
        parts.append(f"[{acc}][m]amix=inputs=2:duration=first:normalize=0[mix]")
        acc = "mix"
    parts.append(f"[{acc}]atrim=0:{length:.6f}[sound]")
    return inputs, parts


def music_gain_expr(cut: CutPlan, timeline: list[Piece]) -> str:
    spans = [f"between(t,{p.start:.6f},{p.start + p.duration:.6f})" for p in timeline if p.sound]
    if not spans or cut.music.duck == 1:
        return f"{cut.music.volume:.6f}"
    return f"{cut.music.volume:.6f}*if({'+'.join(spans)},{cut.music.duck:.6f},1)"
