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
from dataclasses import dataclass, replace
from typing import Callable
from pathlib import Path

from ..store.cache import ClipCache
from .ffmpeg_tools import BITEXACT, ffmpeg
from .probe import ffmpeg_exe
from .mp4 import Part
from .timeline import AUDIO_RATE, Piece, StitchError

ANALYSIS_VERSION = 1
STRETCH_VERSION = 3
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


def kept_name(folder: str, spec: dict, suffix: str = "") -> str:
    """The cache name of a file derived from clips, by everything it is made of (``spec``)."""
    return f"{folder}/{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()}{suffix}"


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
    return measure_graphs([_clip_source(path) for path in paths], ", ".join(p.name for p in paths))


def _clip_source(path: Path):
    def source(inputs: list, label: str) -> str:
        inputs += ["-vn", "-i", str(path)]
        return f"[{len(inputs) // 3 - 1}:a:0]{FORMAT}[{label}]"
    return source


def measure_graphs(sources: list, names: str) -> list[Analysis]:
    """The loudness blocks of each source: a function (inputs, label) giving the filters that
    end in ``[label]`` (its inputs appended to ``inputs``); all in one process."""
    inputs, graph, outputs = [], [], []
    for i, source in enumerate(sources):
        graph.append(source(inputs, f"q{i}"))
        graph.append(f"[q{i}]ebur128=peak=true:framelog=verbose[m{i}]")
        outputs += ["-map", f"[m{i}]", "-f", "null", "-"]
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "verbose",
                             *[str(a) for a in inputs], "-filter_complex", ";".join(graph), *outputs],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise StitchError(f"ffmpeg failed while measuring the loudness of {names}")
    by_filter: dict[int, list] = {}
    for line in result.stderr.splitlines():
        which = re.search(r"Parsed_ebur128_(\d+)", line)
        m = _LINE.search(line)
        if which and m:
            by_filter.setdefault(int(which.group(1)), []).append(
                (round(float(m.group(1)), 3), _number(m.group(2)), max(_number(m.group(3)), _number(m.group(4)))))
    ordered = [by_filter[k] for k in sorted(by_filter)]
    if len(ordered) != len(sources):
        raise StitchError(f"could not read the loudness of {names}")
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
    start: float = 0.0  # where it starts in the film


@dataclass(frozen=True)
class Bed:
    """A music bed under the whole film: ``chain(start, end, source, label)`` gives the filters
    from ``[source]`` (the music as read) to ``[label]``, its sound over [start, end] of the film.
    The chain of a stretch names what the stretch's bed depends on; the samples come from the
    whole film's bed, made once a cut (``made``), so each stretch's are the same as the film's."""

    path: Path
    digest: str  # the music file's
    chain: Callable[[float, float, str, str], str]
    length: float  # the film's
    made: Path | None = None

    def make(self, work: Path, run) -> "Bed":
        """This bed with the whole film's made (a float WAV in ``work``), once."""
        if self.made is not None:
            return self
        made = work / "bed.wav"
        run(["-vn", "-i", self.path, "-filter_complex", self.chain(0.0, self.length, "0:a:0", "bed"),
             "-map", "[bed]", "-c:a", "pcm_f32le", *BITEXACT, made], "making the music bed")
        return replace(self, made=made)

    def source(self, start: float, end: float):
        def make(inputs: list, label: str) -> str:
            inputs += ["-vn", "-i", self.made]
            return f"[{len(inputs) // 3 - 1}:a:0]atrim={start:.6f}:{end:.6f},asetpts=PTS-STARTPTS[{label}]"
        return make


def stretches(timeline: list[Piece]) -> list[Stretch]:
    out: list[Stretch] = []
    at = 0.0
    for i, p in enumerate(timeline):
        nxt = timeline[i + 1] if i + 1 < len(timeline) else None
        body_from, body_to = p.sound_in, p.duration - (nxt.sound_in if nxt else 0.0)
        if body_to - body_from > 1e-9:
            out.append(Stretch(body_to - body_from, ((p, body_from),) if p.sound else (), at))
            at += body_to - body_from
        if nxt and nxt.sound_in:
            out.append(Stretch(nxt.sound_in, ((p, body_to), (nxt, 0.0)), at))
            at += nxt.sound_in
    return out


def film_gain(windows: list[tuple[Analysis, float, float]], target: float | None) -> float:
    """dB to bring the film to ``target`` LUFS (gated, EBU R128) with a true peak of at most -1 dBTP,
    from the blocks of what the film plays: (analysis, start, end) of each clip's part (or each
    stretch's mix); a multiple of ``GAIN_STEP``."""
    if target is None:
        return 0.0
    energies, peak = [], -math.inf
    for found, start, end in windows:
        energies += [10 ** ((m + 0.691) / 10) for _, m, _ in found.within(start, end) if m > -70]
        peak = max(peak, found.peak(start, end))
    if not energies:
        return 0.0  # silence: nothing to bring up
    ungated = -0.691 + 10 * math.log10(sum(energies) / len(energies))
    gated = [e for e in energies if -0.691 + 10 * math.log10(e) > ungated - 10]
    integrated = -0.691 + 10 * math.log10(sum(gated) / len(gated))
    gain = round((target - integrated) / GAIN_STEP) * GAIN_STEP  # within a quarter of a LU of the target
    if math.isfinite(peak):
        gain = min(gain, math.floor((MAX_TRUE_PEAK - peak) / GAIN_STEP + 1e-9) * GAIN_STEP)
    return gain


def _stretch_spec(s: Stretch, bed: Bed | None) -> dict:
    spec = {"v": STRETCH_VERSION, "length": round(s.length, 6),
            "parts": [[digest_of(p.path), round(local, 6), p.sound] for p, local in s.parts]}
    if bed is not None:  # the bed's own filters over this stretch name everything it depends on
        spec["bed"] = [bed.digest, bed.chain(s.start, s.start + s.length, "in", "out")]
    return spec


def _stretch_name(s: Stretch, gain: float, bed: Bed | None = None) -> str:
    return kept_name("sound", dict(_stretch_spec(s, bed), gain=gain), ".m4a")


def clip_sound(p: Piece, start: float, length: float, inputs: list, label: str) -> str:
    """The filter giving ``length`` s of ``p``'s sound from ``start`` of its clip (padded with
    silence; all silence when it is not heard), as ``[label]``. Appends its input to ``inputs``."""
    if not p.sound:
        return f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=0:{length:.6f}[{label}]"
    inputs += ["-vn", "-i", p.path]
    return (f"[{len(inputs) // 3 - 1}:a:0]{FORMAT},atrim={start:.6f}:{start + length:.6f},asetpts=PTS-STARTPTS,"
            f"apad=whole_dur={length:.6f}[{label}]")


def _mixed(s: Stretch, inputs: list, label: str, bed: Bed | None = None) -> str:
    """Filters that give stretch ``s`` at unity gain, exactly ``s.length`` long, as ``[label]``: its
    clips (crossfading over a transition), and the bed's sound over the same part of the film."""
    length = f"{s.length:.6f}"
    if any(p.sound for p, _ in s.parts):
        graph = [clip_sound(p, local, s.length, inputs, f"{label}x{k}") for k, (p, local) in enumerate(s.parts)]
        if len(s.parts) == 2:  # a transition: the two crossfade over the whole stretch
            graph.append(f"[{label}x0][{label}x1]acrossfade=d={length}:c1=tri:c2=tri[{label}c]")
        else:
            graph.append(f"[{label}x0]anull[{label}c]")
    else:
        graph = [f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=0:{length}[{label}c]"]
    if bed is None:
        graph.append(f"[{label}c]anull[{label}]")
    else:
        graph.append(bed.source(s.start, s.start + s.length)(inputs, f"{label}b"))
        graph.append(f"[{label}c][{label}b]amix=inputs=2:duration=first:normalize=0[{label}]")
    return ";".join(graph)


def _stretch_graph(s: Stretch, gain: float, inputs: list, label: str, bed: Bed | None = None) -> str:
    """Filters that make stretch ``s`` at ``gain`` (its clips appended to ``inputs``), padded with
    silence for the join, ending in ``[label]``."""
    pad = f"{s.length + PAD_SECONDS:.6f}"
    if bed is None and not any(p.sound for p, _ in s.parts):
        return f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=0:{pad}[{label}]"
    return _mixed(s, inputs, f"{label}u", bed) + f";[{label}u]volume={gain:.2f}dB,apad=whole_dur={pad}[{label}]"


def encode_stretches(batch: list[tuple[Stretch, Path]], gain: float, run=ffmpeg, bed: Bed | None = None) -> None:
    """Encode a few stretches, each to its own file, in one process."""
    inputs, graph, outputs = [], [], []
    for n, (s, out) in enumerate(batch):
        graph.append(_stretch_graph(s, gain, inputs, f"s{n}", bed))
        outputs += ["-map", f"[s{n}]", *AAC, *BITEXACT, "-f", "mp4", out]
    run([*inputs, "-filter_complex", ";".join(graph), *outputs], "encoding stretches of the sound")


def _mix_analyses(parts: list[Stretch], bed: Bed, cache: ClipCache, work: Path,
                  run) -> tuple[list[Analysis], Bed]:
    """Each stretch's loudness with the bed under it, measured once and kept by what it is made of
    (and the bed, made if anything had to be measured)."""
    names = [kept_name("loudness", _stretch_spec(s, bed), f"-mix-v{ANALYSIS_VERSION}.json") for s in parts]
    found: list[Analysis | None] = []
    for name in names:
        try:
            found.append(Analysis(tuple(tuple(b) for b in json.loads(cache.storage.get(name))["blocks"])))
        except (TypeError, ValueError, KeyError):
            found.append(None)
    todo = [n for n, f in enumerate(found) if f is None]
    batches = [todo[i:i + BATCH] for i in range(0, len(todo), BATCH)]
    if todo:
        bed = bed.make(work, run)

    def measure(batch: list[int]) -> list[Analysis]:
        sources = [lambda inputs, label, s=parts[n]: _mixed(s, inputs, label, bed) for n in batch]
        return measure_graphs(sources, "the sound under the music")

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for batch, results in zip(batches, pool.map(measure, batches)):
            for n, result in zip(batch, results):
                cache.storage.put(names[n], json.dumps({"blocks": result.blocks}).encode())
                found[n] = result
    return found, bed


def levelled_sound(timeline: list[Piece], target: float | None, work: Path, cache: ClipCache,
                   run=ffmpeg, bed: Bed | None = None) -> list[Part]:
    """The film's sound as parts to join (see the module's docstring), with ``bed`` under it when
    there is music. ``run`` runs ffmpeg."""
    parts = stretches(timeline)
    if target is None:
        gain = 0.0
    elif bed is None:  # each clip measured once, whatever film it is in
        found = analyses([p.path for p in timeline if p.sound], cache)
        gain = film_gain([(found[p.path], 0.0, p.duration) for p in timeline if p.sound], target)
    else:  # the bed sums with the clips: each stretch's mix measured once
        found, bed = _mix_analyses(parts, bed, cache, work, run)
        gain = film_gain([(a, 0.0, s.length) for a, s in zip(found, parts)], target)
    files: list[Path | None] = [cache.storage.local_copy(_stretch_name(s, gain, bed)) for s in parts]
    todo = [(s, work / f"stretch{n:04d}.m4a") for n, (s, f) in enumerate(zip(parts, files)) if f is None]
    if todo and bed is not None:
        bed = bed.make(work, run)  # something to encode: the film's bed, made once
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        list(pool.map(lambda batch: encode_stretches(batch, gain, run, bed),
                      [todo[i:i + BATCH] for i in range(0, len(todo), BATCH)]))
    made = iter(todo)
    for n, s in enumerate(parts):
        if files[n] is None:
            _, path = next(made)
            name = _stretch_name(s, gain, bed)
            cache.storage.put_file_if_absent(name, path)
            files[n] = cache.storage.local_copy(name) or path
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
