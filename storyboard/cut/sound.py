"""The film's sound without a pass over the whole film: levelled stretch by stretch.

Each clip's loudness is measured once and kept in the cache by the clip's
digest: its EBU R128 momentary loudness (400 ms blocks, every 100 ms) and the
true peak of each 100 ms, after the same conversion to 48 kHz stereo the cut
uses. The film's gated integrated loudness follows from the blocks of the
stretches it uses, without decoding anything again, and so does its gain: to
the target, no further than a true peak of -1 dBTP, rounded to a
``GAIN_STEP`` so that a change to one shot seldom moves it and the other
shots' stretches stay valid.

The sound is cut into stretches: each shot's body (one clip) and each
transition (two clips crossfading, mixed only where they overlap). Each
stretch is encoded to AAC on its own, in parallel, with the film's gain, and
kept in the cache by (clips, trims, gain, format): a re-cut encodes only the
stretches that changed. The stretches are joined by copy in whole AAC frames
(``frame_counts``: each gives as many frames as keep the sound's running end
within half a frame, 11 ms, of the plan), as the plain-cut path joins clips.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..store.cache import ClipCache
from .ffmpeg_tools import BITEXACT, ffmpeg
from .probe import ffmpeg_exe
from .mp4 import Part
from .timeline import AUDIO_RATE, Piece, StitchError

ANALYSIS_VERSION = 1
STRETCH_VERSION = 2
GAIN_STEP = 0.5  # dB: the gain is a multiple of this, rounded down
MAX_TRUE_PEAK = -1.0  # dBTP
PARALLEL = 2
FORMAT = f"aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
AAC = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k", "-ar", AUDIO_RATE, "-ac", 2]
PAD_SECONDS = 0.1  # silence after each stretch, so the join always has whole frames to take
_LINE = re.compile(r"t:\s*([\d.]+)\s.*?M:\s*(-?[\d.]+|-inf|nan).*?FTPK:\s*(-?[\d.inf]+)\s+(-?[\d.inf]+)")


@dataclass(frozen=True)
class Analysis:
    """One clip's loudness: (end time, momentary loudness, true peak of the last 100 ms) per 100 ms."""

    blocks: tuple[tuple[float, float, float], ...]

    def within(self, start: float, end: float) -> list[tuple[float, float, float]]:
        """The 400 ms blocks wholly inside [start, end] of the clip (100 ms peaks that touch it)."""
        return [b for b in self.blocks if b[0] - 0.4 >= start - 1e-6 and b[0] <= end + 1e-6]

    def peak(self, start: float, end: float) -> float:
        peaks = [b[2] for b in self.blocks if b[0] > start + 1e-6 and b[0] - 0.1 < end - 1e-6]
        return max(peaks, default=-math.inf)


def digest_of(path: Path) -> str:
    if re.fullmatch(r"[0-9a-f]{64}", path.stem):
        return path.stem  # a cached clip is named by its digest
    from ..store.cache import file_sha256

    return file_sha256(path)


BATCH = 4  # clips measured, or stretches encoded, per ffmpeg process


def analyses(paths: list[Path], cache: ClipCache) -> dict[Path, Analysis]:
    """Each clip's loudness blocks, measured once per clip (a few clips per process) and kept in the cache."""
    found: dict[Path, Analysis] = {}
    todo = []
    for path in dict.fromkeys(paths):
        kept = cache.storage.get(_analysis_name(path))
        try:
            found[path] = Analysis(tuple(tuple(b) for b in json.loads(kept)["blocks"]))
        except (TypeError, ValueError, KeyError):
            todo.append(path)
    batches = [todo[i:i + BATCH] for i in range(0, len(todo), BATCH)]
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for batch, results in zip(batches, pool.map(_measure, batches)):
            for path, result in zip(batch, results):
                cache.storage.put(_analysis_name(path), json.dumps({"blocks": result.blocks}).encode())
                found[path] = result
    return found


def _analysis_name(path: Path) -> str:
    return f"loudness/{digest_of(path)}-v{ANALYSIS_VERSION}.json"


def _measure(paths: list[Path]) -> list[Analysis]:
    inputs, graph, outputs = [], [], []
    for i, path in enumerate(paths):
        inputs += ["-vn", "-i", str(path)]
        graph.append(f"[{i}:a:0]{FORMAT},ebur128=peak=true:framelog=verbose[m{i}]")
        outputs += ["-map", f"[m{i}]", "-f", "null", "-"]
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "verbose", *inputs,
                             "-filter_complex", ";".join(graph), *outputs], capture_output=True, text=True)
    if result.returncode != 0:
        raise StitchError(f"ffmpeg failed while measuring the loudness of {', '.join(p.name for p in paths)}")
    by_filter: dict[int, list] = {}
    for line in result.stderr.splitlines():
        which = re.search(r"Parsed_ebur128_(\d+)", line)
        m = _LINE.search(line)
        if which and m:
            by_filter.setdefault(int(which.group(1)), []).append(
                (round(float(m.group(1)), 3), _number(m.group(2)), max(_number(m.group(3)), _number(m.group(4)))))
    ordered = [by_filter[k] for k in sorted(by_filter)]
    if len(ordered) != len(paths):
        raise StitchError(f"could not read the loudness of {', '.join(p.name for p in paths)}")
    return [Analysis(tuple(blocks)) for blocks in ordered]


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return -math.inf
    return value if math.isfinite(value) else -math.inf


@dataclass(frozen=True)
class Stretch:
    """A stretch of the film's sound: one clip's part, or two crossfading, or silence."""

    length: float  # seconds of film
    parts: tuple  # ((piece, local start), ...): one (a body) or two (a transition); () is silence


def stretches(timeline: list[Piece]) -> list[Stretch]:
    out = []
    for i, p in enumerate(timeline):
        nxt = timeline[i + 1] if i + 1 < len(timeline) else None
        body_from, body_to = p.sound_in, p.duration - (nxt.sound_in if nxt else 0.0)
        if body_to - body_from > 1e-9:
            out.append(Stretch(body_to - body_from, ((p, body_from),) if p.sound else ()))
        if nxt and nxt.sound_in:
            both = tuple(x for x in ((p, body_to), (nxt, 0.0)))
            out.append(Stretch(nxt.sound_in, both))
    return out


def film_gain(timeline: list[Piece], target: float | None, measure) -> float:
    """dB to bring the film to ``target`` LUFS (gated, EBU R128) with a true peak of at most -1 dBTP,
    from each clip's blocks over the part of it the film plays; a multiple of ``GAIN_STEP``."""
    if target is None:
        return 0.0
    energies, peak = [], -math.inf
    for p in timeline:
        if not p.sound:
            continue
        found = measure(p)
        energies += [10 ** ((m + 0.691) / 10) for _, m, _ in found.within(0.0, p.duration) if m > -70]
        peak = max(peak, found.peak(0.0, p.duration))
    if not energies:
        return 0.0  # silence: nothing to bring up
    ungated = -0.691 + 10 * math.log10(sum(energies) / len(energies))
    gated = [e for e in energies if -0.691 + 10 * math.log10(e) > ungated - 10]
    integrated = -0.691 + 10 * math.log10(sum(gated) / len(gated))
    gain = round((target - integrated) / GAIN_STEP) * GAIN_STEP  # within a quarter of a LU of the target
    if math.isfinite(peak):
        gain = min(gain, math.floor((MAX_TRUE_PEAK - peak) / GAIN_STEP + 1e-9) * GAIN_STEP)
    return gain


def _stretch_name(s: Stretch, gain: float) -> str:
    spec = {"v": STRETCH_VERSION, "gain": gain, "length": round(s.length, 6),
            "parts": [[digest_of(p.path), round(local, 6), p.sound] for p, local in s.parts]}
    return "sound/" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest() + ".m4a"


def clip_sound(p: Piece, start: float, length: float, inputs: list, label: str) -> str:
    """The filter giving ``length`` s of ``p``'s sound from ``start`` of its clip (padded with
    silence; all silence when it is not heard), as ``[label]``. Appends its input to ``inputs``."""
    if not p.sound:
        return f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=0:{length:.6f}[{label}]"
    inputs += ["-vn", "-i", p.path]
    return (f"[{len(inputs) // 3 - 1}:a:0]{FORMAT},atrim={start:.6f}:{start + length:.6f},asetpts=PTS-STARTPTS,"
            f"apad=whole_dur={length:.6f}[{label}]")


def _stretch_graph(s: Stretch, gain: float, inputs: list, label: str) -> str:
    """Filters that make stretch ``s`` (its clips appended to ``inputs``), ending in ``[label]``."""
    length, pad = f"{s.length:.6f}", f"{s.length + PAD_SECONDS:.6f}"
    level = f"volume={gain:.2f}dB"
    if not s.parts or not any(p.sound for p, _ in s.parts):
        return f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=0:{pad}[{label}]"
    graph = [clip_sound(p, local, s.length, inputs, f"{label}x{k}") for k, (p, local) in enumerate(s.parts)]
    if len(s.parts) == 2:  # a transition: the two crossfade over the whole stretch
        graph.append(f"[{label}x0][{label}x1]acrossfade=d={length}:c1=tri:c2=tri,{level},apad=whole_dur={pad}[{label}]")
    else:
        graph.append(f"[{label}x0]{level},apad=whole_dur={pad}[{label}]")
    return ";".join(graph)


def encode_stretches(batch: list[tuple[Stretch, Path]], gain: float, run=ffmpeg) -> None:
    """Encode a few stretches, each to its own file, in one process."""
    inputs, graph, outputs = [], [], []
    for n, (s, out) in enumerate(batch):
        graph.append(_stretch_graph(s, gain, inputs, f"s{n}"))
        outputs += ["-map", f"[s{n}]", *AAC, *BITEXACT, "-f", "mp4", out]
    run([*inputs, "-filter_complex", ";".join(graph), *outputs], "encoding stretches of the sound")


def levelled_sound(timeline: list[Piece], target: float | None, work: Path, cache: ClipCache,
                   run=ffmpeg) -> list[Part]:
    """The film's sound as parts to join (see the module's docstring). ``run`` runs ffmpeg."""
    found = analyses([p.path for p in timeline if p.sound], cache) if target is not None else {}
    gain = film_gain(timeline, target, lambda p: found[p.path])
    parts = stretches(timeline)
    files: list[Path | None] = [cache.storage.local_copy(_stretch_name(s, gain)) for s in parts]
    todo = [(s, work / f"stretch{n:04d}.m4a") for n, (s, f) in enumerate(zip(parts, files)) if f is None]
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        list(pool.map(lambda batch: encode_stretches(batch, gain, run),
                      [todo[i:i + BATCH] for i in range(0, len(todo), BATCH)]))
    made = iter(todo)
    for n, s in enumerate(parts):
        if files[n] is None:
            _, path = next(made)
            cache.storage.put_file_if_absent(_stretch_name(s, gain), path)
            files[n] = cache.storage.local_copy(_stretch_name(s, gain)) or path
    counts = frame_counts([(s.length, AAC_FRAME) for s in parts])
    return [Part(f, n) for f, n in zip(files, counts)]


AAC_FRAME = 1024  # samples in an AAC-LC frame; ffmpeg's encoder primes with one frame


def frame_counts(items: list[tuple[float, int]]) -> list[int]:
    """For each file to join, (seconds of film, priming samples): how many whole AAC frames of it
    to take. The film's edit list skips the first file's priming; every later file's priming frame
    plays (near silence: the encoder's delay). So each file but the last ends one priming early,
    where the next one's priming begins: every shot's sound starts with its picture (within half an
    AAC frame, 11 ms), the last 21 ms of the shot before give way to that near silence, and the
    sound's running end never drifts from the plan."""
    counts, end, samples = [], 0.0, 0
    for i, (length, priming) in enumerate(items):
        end += length
        skipped = priming if i == 0 else 0
        following = items[i + 1][1] if i + 1 < len(items) else 0
        need = round(end * AUDIO_RATE) - following - samples
        frames = max(1, round((need + skipped) / AAC_FRAME))
        samples += frames * AAC_FRAME - skipped
        counts.append(frames)
    return counts
