"""The default stitch engine: the ffmpeg binary that moviepy ships.

Picture, hard cuts: the clips that share the most common H.264 setup (a
provider's clips do) are cut to their planned length by stream copy. A clip
with B-frames is cut by a smart render (``smart``): its head copied, the few
frames at its end that refer to a dropped frame re-encoded, with parameter set
ids of their own. A clip of another format is conformed to the target, also
with ids of its own; the track's setup (``avcC``) carries every set. Each
trimmed, smart-rendered or conformed clip is kept in the cache by clip
digest, so a re-cut copies and encodes nothing. With transitions, every
stretch of the picture (a shot's body, or a blend of two shots) is encoded
exactly once from the original clips, two at a time in parallel, and the
stretches are joined by stream copy: no chain of re-encodes, and memory that
does not grow with the number of clips.

Sound (``sound``): levelled to the loudness target stretch by stretch, each
stretch encoded once and kept; a music bed is mixed with the film in one
filter graph, measured and encoded with a fixed gain; plain cuts with nothing
to mix or level are copied in whole AAC frames.

Every encoder setting is fixed and bit-exact (one x264 thread per encode), so
cutting twice gives the same bytes on any machine.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..store.cache import ClipCache
from ..plan.types import CutPlan
from .ffmpeg_tools import BITEXACT, ffmpeg
from .avcc import read_avcc, write_avcc
from .smart import SMART_VERSION, smart_trim
from .mix import make_sound
from .sound import digest_of, join_frames, levelled_sound
from .timeline import AUDIO_RATE, Piece, StitchError, Target

CONFORM_VERSION = 1
PARALLEL = 2  # encodes at once; each x264 runs one thread, so the bytes do not depend on the machine


def x264(target: Target) -> list:
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", target.quality, "-pix_fmt", "yuv420p",
            "-threads", "1", "-x264-params", "threads=1"]


def fps_text(target: Target) -> str:
    return f"{target.fps.numerator}/{target.fps.denominator}"


def normalize(target: Target, pix_fmt: str = "yuv420p") -> str:
    w, h = target.width, target.height
    return (f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
            f"setsar=1,fps={fps_text(target)},format={pix_fmt}")


def cut_film(cut: CutPlan, timeline: list[Piece], target: Target, music: Path | None, work: Path, out: Path,
             cache: ClipCache) -> None:
    # Picture and sound are independent until the final mux: make them side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        if sound_copyable(cut, timeline):
            sound = pool.submit(copy_sound, timeline, work, cache)
        elif cut.music is None:  # levelled (or mixed) stretch by stretch, each encoded once and kept
            sound = pool.submit(levelled_sound, timeline, cut.loudness, work, cache, _run)
        else:
            sound = pool.submit(lambda: ["-i", make_sound(cut, timeline, music, work, _run)])
        later: list = []  # work that makes the next cut faster, done while this one is muxed
        video = make_video(timeline, target, work, cache, later)
        audio = sound.result()
        tidy = [pool.submit(_quietly, job) for job in later]
        mux = [*video, *audio, "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-t", f"{cut.duration:.6f}"]
        try:  # the index in room kept for it at the start: playable while it downloads, written once
            ffmpeg([*mux, "-moov_size", moov_room(cut), *BITEXACT, "-f", "mp4", out], "muxing the film")
        except StitchError:  # more than the room: written after the media, then moved to the front
            ffmpeg([*mux, "-movflags", "+faststart", *BITEXACT, "-f", "mp4", out], "muxing the film")
        for done in tidy:
            done.result()


def _quietly(job) -> None:
    try:
        job()
    except (StitchError, OSError, ValueError):
        pass  # only an optimisation of the next cut: this cut does not depend on it


def moov_room(cut: CutPlan) -> int:
    """Bytes to keep for the film's index: about 40 per video frame and audio frame, and a margin."""
    frames = cut.duration * 120 + cut.duration * AUDIO_RATE / 1024
    return int(65536 + 40 * frames)


def sound_copyable(cut: CutPlan, timeline: list[Piece]) -> bool:
    """Hard cuts between clips whose AAC-LC sound is all alike, with nothing
    to mix (no music, no silence) and no level to set: the sound can be copied."""
    first = timeline[0].info
    return (cut.loudness is None and cut.music is None
            and all(p.sound and not p.sound_in and p.info.priming is not None for p in timeline)
            and all((p.info.acodec, p.info.rate, p.info.layout) == ("aac", first.rate, first.layout) for p in timeline))


def copy_sound(timeline: list[Piece], work: Path, cache: ClipCache | None = None) -> list:
    """Each clip's sound, by stream copy, as whole AAC frames (see ``sound.join_frames``):
    trimmed, and no drift."""
    return join_frames([(p.path, p.duration, p.info.priming) for p in timeline], work, run=_run, cache=cache)


def _run(args: list, what: str) -> str:
    return ffmpeg(args, what)  # looked up when called: one place every ffmpeg run of the engine goes through


# -- picture --

def make_video(timeline: list[Piece], target: Target, work: Path, cache: ClipCache, later: list | None = None) -> list:
    """The picture as ffmpeg input arguments: a concat list of parts that all
    share one format, read by stream copy straight into the film."""
    hard_cuts = all(not (p.crossfade_in or p.fade_in or p.fade_out) for p in timeline)
    if hard_cuts:
        return _concat(timeline, target, work, cache, [] if later is None else later)
    return _graph(timeline, target, work, cache)


def fits(p: Piece, target: Target) -> bool:
    """A clip that can be trimmed by copy into a film of ``target``'s format."""
    return (p.info.vcodec == "h264" and p.info.pix_fmt == "yuv420p" and p.info.reordered is not None
            and bool(p.info.setup) and (p.info.width, p.info.height, p.info.fps) == (target.width, target.height, target.fps))


def _concat(timeline: list[Piece], target: Target, work: Path, cache: ClipCache, later: list) -> list:
    """Hard cuts. The clips that share the most common H.264 setup (a provider's clips do) are
    trimmed by copy, with a smart render of the tail where B-frames need one; any other clip is
    conformed, with parameter set ids of its own, so the track's setup carries all of them."""
    setups = [p.info.signature[:8] if fits(p, target) else None for p in timeline]
    common = max((s for s in setups if s), key=setups.count, default=None)
    if common is not None:
        parts = _copied_parts(timeline, [s == common for s in setups], target, work, cache, later)
        if parts is not None:
            return parts
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        parts = list(pool.map(lambda p: conformed(p, target, work, cache), timeline))
    return _concat_input(work, parts)


def _copied_parts(timeline: list[Piece], copy: list[bool], target: Target, work: Path,
                  cache: ClipCache, later: list) -> list | None:
    """Each clip trimmed by copy (or smart-rendered, or conformed where ``copy`` is false), joined;
    None if that cannot be done."""
    base = read_avcc(next(p.path for p, c in zip(timeline, copy) if c))
    ids = base.ids() if base else set()
    if base is None or max(ids) + 2 > 31:
        return None
    tail_id, conform_id = max(ids) + 1, max(ids) + 2
    tbn = next(p.info.tbn for p, c in zip(timeline, copy) if c)

    def prepare(item) -> list[Path] | None:
        i, p = item
        if not copy[i]:
            return [conformed(p, target, work, cache, sps_id=conform_id, timescale=tbn)]
        if not p.info.reordered:
            return [trimmed(p, work, cache)]
        return smart_trimmed(p, target, work, cache, tail_id, later)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        made = list(pool.map(prepare, enumerate(timeline)))
    if any(m is None for m in made):
        return None
    parts = [part for m in made for part in m]
    setups = [read_avcc(part) for part in parts]
    if any(s is None for s in setups):
        return None
    if all(s == setups[0] for s in setups):
        return _concat_input(work, parts)
    union = setups[0]
    for s in setups[1:]:
        union = union.merged(s)
    if not union.distinct_ids():
        return None
    # The joined track takes its setup from the first part: a copy of it carries every part's sets.
    first = work / "first-part.mp4"
    shutil.copyfile(parts[0], first)
    write_avcc(first, union)
    return _concat_input(work, [first, *parts[1:]])


def _kept(cache: ClipCache, spec: dict, make) -> Path | None:
    """A file derived from clips, made once by ``make(path)`` and kept in the cache by ``spec``."""
    name = "conformed/" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest() + ".mp4"
    kept = cache.storage.local_copy(name)
    if kept is not None:
        return kept
    made = make()
    if made is None:
        return None
    cache.storage.put_file_if_absent(name, made)
    return cache.storage.local_copy(name) or made


def trimmed(p: Piece, work: Path, cache: ClipCache) -> Path:
    """A clip without B-frames cut to its planned length by stream copy, kept in the cache."""
    def make() -> Path:
        segment = work / f"seg-{digest_of(p.path)[:12]}.mp4"
        _run(["-i", p.path, "-map", "0:v:0", "-c", "copy", "-t", f"{p.duration:.6f}", *BITEXACT, segment],
             f"trimming {p.shot}")
        return segment

    return _kept(cache, {"v": 1, "clip": digest_of(p.path), "copy": round(p.duration, 6)}, make)


def smart_trimmed(p: Piece, target: Target, work: Path, cache: ClipCache, tail_id: int,
                  later: list) -> list[Path] | None:
    """``p``'s clip cut to its planned frames by a smart render (its head, and its tail if it needs
    one), made once and kept in the cache. A new head and tail are joined into one file while the
    film is muxed (``later``): a re-cut then reads one part, not two."""
    digest = digest_of(p.path)
    frames = round(p.duration * target.fps)
    spec = {"v": SMART_VERSION, "clip": digest, "frames": frames, "smart": True, "id": tail_id}
    base = "conformed/" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    try:
        names = json.loads(cache.storage.get(base + ".json") or b"null")["names"]
        kept = [cache.storage.local_copy(name) for name in names]
        if kept and all(kept):
            return kept
    except (TypeError, ValueError, KeyError):
        pass
    made = smart_trim(p.path, frames, fps_text(target), p.info.tbn, work, _run, f"smart-{digest[:12]}", tail_id)
    if made is None:
        return None
    names = [f"{base}-{n}.mp4" for n in range(len(made))]
    out = []
    for name, part in zip(names, made):
        cache.storage.put_file_if_absent(name, part)
        out.append(cache.storage.local_copy(name) or part)
    cache.storage.put(base + ".json", json.dumps({"names": names}).encode())
    if len(out) > 1:
        later.append(lambda: _join_parts(out, base, work, cache))
    return out


def _join_parts(parts: list[Path], base: str, work: Path, cache: ClipCache) -> None:
    joined = work / f"joined-{Path(base).name[:16]}.mp4"
    setup = read_avcc(parts[0])
    for part in parts[1:]:
        setup = setup.merged(read_avcc(part))
    _run([*_concat_input(work, parts, f"join-{Path(base).name[:16]}"), "-c", "copy", *BITEXACT, "-f", "mp4", joined],
         "joining a smart-rendered clip")
    write_avcc(joined, setup)
    cache.storage.put_file_if_absent(f"{base}-joined.mp4", joined)
    cache.storage.put(base + ".json", json.dumps({"names": [f"{base}-joined.mp4"]}).encode())


def _concat_input(work: Path, files: list[Path], name: str = "parts") -> list:
    listing = work / f"{name}.txt"
    listing.write_text("".join(f"file '{f.as_posix()}'\n" for f in files))
    return ["-f", "concat", "-safe", 0, "-i", listing]


def conformed(p: Piece, target: Target, work: Path, cache: ClipCache, sps_id: int | None = None,
              timescale: int | None = None) -> Path:
    """The clip re-encoded to the target and trimmed, made once and kept in the cache; with
    ``sps_id``, its parameter sets take that id (to sit beside copied clips' own)."""
    digest = digest_of(p.path)
    spec = {"v": CONFORM_VERSION, "clip": digest, "w": target.width, "h": target.height,
            "fps": fps_text(target), "q": target.quality, "d": p.duration}
    if sps_id is not None:
        spec.update(id=sps_id, tbn=timescale)
    name = "conformed/" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest() + ".mp4"
    kept = cache.storage.local_copy(name)
    if kept is not None:
        return kept
    made = work / f"conform-{digest[:12]}.mp4"
    encoder = x264(target)
    if sps_id is not None:
        encoder[-1] += f":sps-id={sps_id}"
    timescale = timescale or _timescale(target)  # joined to copies: their time base
    ffmpeg(["-i", p.path, "-map", "0:v:0", "-vf", f"trim=0:{p.duration:.6f},setpts=PTS-STARTPTS,{normalize(target)}",
            *encoder, "-video_track_timescale", timescale, *BITEXACT, made], f"conforming {p.shot}")
    cache.storage.put_file_if_absent(name, made)
    return cache.storage.local_copy(name) or made


def _tb(target: Target) -> str:
    return f"{target.fps.denominator}/{target.fps.numerator}"


def _timescale(target: Target) -> int:
    return target.fps.numerator * 512 // target.fps.denominator if target.fps.denominator == 1 else 90000


@dataclass(frozen=True)
class Segment:
    """A stretch of the film's picture made from one shot (a body) or two (a blend)."""

    first: int  # frame index in the film where it starts
    frames: int
    inputs: tuple  # (piece, local start in the piece's visible part)
    blend: float = 0.0  # a crossfade between the two inputs over this many seconds


def segments(timeline: list[Piece], fps: Fraction) -> list[Segment]:
    """Bodies and blends, on one frame grid so their frame counts add up exactly."""
    starts, at = [], 0.0
    for p in timeline:
        at -= p.crossfade_in
        starts.append(at)
        at += p.visible
    frame = lambda t: round(t * fps)  # noqa: E731
    out = []
    for i, p in enumerate(timeline):
        nxt = timeline[i + 1] if i + 1 < len(timeline) else None
        body_from = starts[i] + p.crossfade_in
        body_to = starts[i + 1] if nxt else starts[i] + p.visible
        if frame(body_to) > frame(body_from):
            out.append(Segment(frame(body_from), frame(body_to) - frame(body_from), ((p, body_from - starts[i]),)))
        if nxt and nxt.crossfade_in:
            end = starts[i + 1] + nxt.crossfade_in
            out.append(Segment(frame(body_to), frame(end) - frame(body_to),
                               ((p, body_to - starts[i]), (nxt, 0.0)), blend=nxt.crossfade_in))
    return out


def _picture(piece: Piece, local: float, index: int, target: Target, label: str, rgb: bool) -> str:
    # Fades and blends are made in RGB, as the reference engine makes them: a
    # blend of YUV pictures differs from one of RGB pictures where colours clip.
    # The input was opened at its start point (-ss), so times here count from it.
    fades = ""
    if piece.fade_in and local < piece.fade_in:
        fades += f",fade=t=in:st={-local:.6f}:d={piece.fade_in:.6f}"
    if piece.fade_out:
        fades += f",fade=t=out:st={piece.visible - piece.fade_out - local:.6f}:d={piece.fade_out:.6f}"
    pix_fmt = "gbrp" if rgb or fades else "yuv420p"
    return (f"[{index}:v:0]trim=end={piece.visible - local:.6f},setpts=PTS-STARTPTS,"
            f"{normalize(target, pix_fmt)}{fades},settb={_tb(target)}[{label}]")


def _encode_segment(n: int, seg: Segment, target: Target, work: Path) -> Path:
    inputs, parts = [], []
    for k, (piece, local) in enumerate(seg.inputs):
        # Seek on input: decoding starts at the keyframe before the point, not at the clip's start.
        inputs += ["-ss", f"{piece.source_in + local:.6f}", "-an", "-i", piece.path]
        parts.append(_picture(piece, local, k, target, f"p{k}", rgb=bool(seg.blend)))
    if seg.blend:
        parts.append(f"[p0][p1]xfade=transition=fade:duration={seg.blend:.6f}:offset=0,format=yuv420p[picture]")
    else:
        parts.append("[p0]format=yuv420p[picture]")
    out = work / f"part{n:04d}.mp4"
    ffmpeg([*inputs, "-filter_complex", ";".join(parts), "-map", "[picture]", "-frames:v", seg.frames,
            *x264(target), "-video_track_timescale", _timescale(target), *BITEXACT, out],
           f"cutting the picture at frame {seg.first}")
    return out


def _graph(timeline: list[Piece], target: Target, work: Path, cache: ClipCache) -> list:
    """Transitions: each stretch encoded once from the original clips (two at
    most, so memory does not grow with the film), in parallel, then joined by
    stream copy: every segment comes from the same encoder settings. Each is
    kept in the cache by what it is made of, so a re-cut encodes only the
    stretches that changed."""
    parts = segments(timeline, target.fps)

    def make(item) -> Path:
        n, seg = item
        spec = {"v": 1, "segment": seg.frames, "blend": seg.blend, "target": [target.width, target.height,
                fps_text(target), target.quality],
                "inputs": [[digest_of(p.path), round(p.source_in, 6), round(p.visible, 6), round(p.fade_in, 6),
                            round(p.fade_out, 6), round(local, 6)] for p, local in seg.inputs]}
        return _kept(cache, spec, lambda: _encode_segment(n, seg, target, work))

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        files = list(pool.map(make, enumerate(parts)))
    return _concat_input(work, files)
