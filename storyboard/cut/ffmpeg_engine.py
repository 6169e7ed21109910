"""The default stitch engine: the ffmpeg binary that moviepy ships.

Picture, hard cuts: the clips that share the most common H.264 setup (a
provider's clips do) are cut to their planned length by taking their first
frames as they are. A clip with B-frames is cut by a smart render (``smart``):
its head taken as it is, the few frames at its end that refer to a dropped
frame re-encoded, with parameter set ids of their own. A clip of another
format is conformed to the target, also with ids of its own; the track's
setup (``avcC``) carries every set. Each re-encoded tail or conformed clip is
kept in the cache by clip digest, so a re-cut encodes nothing. With transitions, every
stretch of the picture (a shot's body, or a blend of two shots) is encoded
exactly once from the original clips, two at a time in parallel, and the
stretches are joined by stream copy: no chain of re-encodes, and memory that
does not grow with the number of clips.

Sound (``sound``): levelled to the loudness target stretch by stretch, each
stretch encoded once and kept, a music bed (``mix``) mixed into each stretch
over the same seconds of the film; plain cuts with nothing to mix or level are
copied in whole AAC frames.

The film is written from those parts by ``film.write_film``: their samples laid
out in one file, no ffmpeg process. Parts it cannot join that way are joined
by ffmpeg's concat demuxer (``join``).

Every encoder setting is fixed and bit-exact (one x264 thread per encode), so
cutting twice gives the same bytes on any machine.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..store.cache import ClipCache
from ..plan.types import CutPlan
from .ffmpeg_tools import BITEXACT, ffmpeg
from . import join
from .avcc import AvcC, read_avcc
from .mix import bed
from .film import takes, write_film
from .mp4 import Part
from .probe import Colours, colours
from .clips import held_frames
from .smart import SMART_VERSION, hold_tail, smart_trim
from .subtitles import mux_soft, soft_track
from .sound import digest_of, frame_counts, kept_name, levelled_sound
from .timeline import Piece, StitchError, Target

CONFORM_VERSION = 2
PARALLEL = 2  # encodes at once; each x264 runs one thread, so the bytes do not depend on the machine


def x264(target: Target) -> list:
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", target.quality, "-pix_fmt", "yuv420p",
            "-threads", "1", "-x264-params", "threads=1"]


def fps_text(fps: Fraction) -> str:
    return f"{fps.numerator}/{fps.denominator}"


def normalize(target: Target, pix_fmt: str = "yuv420p") -> str:
    w, h = target.width, target.height
    return (f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
            f"setsar=1,fps={fps_text(target.fps)},format={pix_fmt}")


def cut_film(cut: CutPlan, timeline: list[Piece], target: Target, music: Path | None, work: Path, out: Path,
             cache: ClipCache) -> None:
    # Picture and sound are independent until they are joined: make them side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        sound = pool.submit(make_sound_parts, cut, timeline, music, work, cache)
        picture, setup = make_video(timeline, target, work, cache)
        audio = sound.result()
    video_takes, audio_takes = takes(picture, b"vide"), takes(audio, b"soun")
    text = soft_track(cut, timeline, target)  # soft captions: a few samples of text beside the picture
    try:
        if video_takes and audio_takes and write_film(out, video_takes, audio_takes, setup, cut.duration, text):
            return
    except OSError as exc:
        raise StitchError(f"could not write the film: {exc}") from None
    join.mux(out, picture, setup, audio, cut.duration, work, _run)
    mux_soft(out, cut, timeline, target, work)


def make_sound_parts(cut: CutPlan, timeline: list[Piece], music: Path | None, work: Path,
                     cache: ClipCache) -> list[Part]:
    if sound_copyable(cut, timeline):  # each clip's own sound, whole AAC frames of it
        counts = frame_counts([(p.duration, p.info.priming) for p in timeline])
        if all(p.info.sound_frames is not None and n <= p.info.sound_frames for p, n in zip(timeline, counts)):
            return [Part(p.path, n) for p, n in zip(timeline, counts)]
    # levelled (and mixed with the music) stretch by stretch, each encoded once and kept; a clip
    # whose sound is shorter than planned is padded with silence there
    under = bed(cut, timeline, music) if cut.music is not None and music is not None else None
    return levelled_sound(timeline, cut.loudness, work, cache, _run, under)


def sound_copyable(cut: CutPlan, timeline: list[Piece]) -> bool:
    """Hard cuts between clips whose AAC-LC sound is all alike, with nothing
    to mix (no music, no silence) and no level to set: the sound can be copied."""
    first = timeline[0].info
    return (cut.loudness is None and cut.music is None
            and all(p.sound and not p.sound_in and p.info.priming is not None for p in timeline)
            and all((p.info.acodec, p.info.rate, p.info.layout) == ("aac", first.rate, first.layout) for p in timeline))


def _run(args: list, what: str) -> str:
    return ffmpeg(args, what)  # looked up when called: one place every ffmpeg run of the engine goes through


# -- picture --

def make_video(timeline: list[Piece], target: Target, work: Path, cache: ClipCache) -> tuple[list[Part], AvcC | None]:
    """The picture as parts that all share one format, to join by copy, and the track's setup
    (every part's parameter sets; None: the first part's own)."""
    hard_cuts = all(not (p.crossfade_in or p.fade_in or p.fade_out) for p in timeline)
    if hard_cuts:
        return _concat(timeline, target, work, cache)
    return _graph(timeline, target, work, cache), None


def fits(p: Piece, target: Target) -> bool:
    """A clip that can be trimmed by copy into a film of ``target``'s format."""
    return (p.info.vcodec == "h264" and p.info.pix_fmt == "yuv420p" and p.info.reordered is not None
            and bool(p.info.setup) and (p.info.width, p.info.height, p.info.fps) == (target.width, target.height, target.fps))


def _concat(timeline: list[Piece], target: Target, work: Path, cache: ClipCache) -> tuple[list[Part], AvcC | None]:
    """Hard cuts. The clips that share the most common H.264 setup (a provider's clips do) are
    trimmed by copy, with a smart render of the tail where B-frames need one; any other clip is
    conformed, with parameter set ids of its own, so the track's setup carries all of them."""
    setups = [p.info.signature[:8] if fits(p, target) else None for p in timeline]
    common = max((s for s in setups if s), key=setups.count, default=None)
    if common is not None:
        found = _copied_parts(timeline, [s == common for s in setups], target, work, cache)
        if found is not None:
            return found
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return [Part(f) for f in pool.map(lambda p: conformed(p, target, work, cache), timeline)], None


def _copied_parts(timeline: list[Piece], copy: list[bool], target: Target, work: Path,
                  cache: ClipCache) -> tuple[list[Part], AvcC] | None:
    """Each clip trimmed by copy (or smart-rendered, or conformed where ``copy`` is false), and the
    setup that carries every part's sets; None if that cannot be done."""
    base = read_avcc(next(p.path for p, c in zip(timeline, copy) if c))
    if base is None or tail_id_for(base) + 1 > 31:
        return None
    tail_id, conform_id = tail_id_for(base), tail_id_for(base) + 1
    tbn = next(p.info.tbn for p, c in zip(timeline, copy) if c)
    like = next(p for p, c in zip(timeline, copy) if c) if not all(copy) else None

    def prepare(item) -> list[Part] | None:
        i, p = item
        if not copy[i]:
            return [Part(conformed(p, target, work, cache, sps_id=conform_id, timescale=tbn, like=like))]
        frames = round(p.duration * target.fps)
        held = held_frames(p.info, frames)
        if held:
            return held_parts(p.path, frames - held, held, target, work, cache, tail_id, tbn)
        if not p.info.reordered:
            return [Part(p.path, frames)]
        return smart_trimmed(p.path, frames, fps_text(target.fps), work, cache, tail_id)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        made = list(pool.map(prepare, enumerate(timeline)))
    if any(m is None for m in made):
        return None
    parts = [part for m in made for part in m]
    union = base
    for path in dict.fromkeys(part.path for part in parts):
        setup = read_avcc(path)
        if setup is None:
            return None
        union = union.merged(setup)
    if not union.distinct_ids():
        return None
    return parts, union


def tail_id_for(setup: AvcC) -> int:
    """The parameter set id of smart-rendered tails joined to clips of ``setup`` (the next after
    its own; a conformed clip takes the one after that)."""
    return max(setup.ids()) + 1


def smart_trimmed(clip: Path, frames: int, fps: str, work: Path, cache: ClipCache,
                  tail_id: int) -> list[Part] | None:
    """``clip`` cut to its planned frames by a smart render: its head, the clip's own first
    samples, and its tail if it needs one. Which, and the tail, are kept in the cache (the render
    readies them as each clip lands: ``ready``)."""
    digest = digest_of(clip)
    spec = {"v": SMART_VERSION, "clip": digest, "frames": frames, "smart": True, "id": tail_id}
    base = kept_name("conformed", spec)
    try:
        known = json.loads(cache.storage.get(base + ".json") or b"null")
        tail = cache.storage.local_copy(known["tail"]) if known["tail"] else None
        if tail is not None or not known["tail"]:
            return [Part(clip, known["head"])] + ([Part(tail)] if tail else [])
    except (TypeError, ValueError, KeyError):
        pass
    made = smart_trim(clip, frames, fps, work, _run, f"smart-{digest[:12]}", tail_id)
    if made is None:
        return None
    head, tail = made
    name = f"{base}-tail.mp4" if tail else None
    if tail:
        cache.storage.put_file_if_absent(name, tail)
        tail = cache.storage.local_copy(name) or tail
    cache.storage.put(base + ".json", json.dumps({"head": head, "tail": name}).encode())
    return [Part(clip, head)] + ([Part(tail)] if tail else [])


def held_parts(clip: Path, have: int, held: int, target: Target, work: Path, cache: ClipCache,
               tail_id: int, timescale: int) -> list[Part] | None:
    """A clip shorter than planned: all ``have`` of its frames as they are, then its last frame
    held for ``held`` frames (a tail encoded once and kept in the cache, as a smart render's)."""
    digest = digest_of(clip)
    name = kept_name("conformed", {"v": SMART_VERSION, "clip": digest, "have": have, "hold": held, "id": tail_id,
                                   "tbn": timescale}, ".mp4")
    tail = cache.storage.local_copy(name)
    if tail is None:
        made = hold_tail(clip, have, held, fps_text(target.fps), work, _run, f"hold-{digest[:12]}", tail_id, timescale)
        if made is None:
            return None
        cache.storage.put_file_if_absent(name, made)
        tail = cache.storage.local_copy(name) or made
    return [Part(clip, have), Part(tail)]


def conformed(p: Piece, target: Target, work: Path, cache: ClipCache, sps_id: int | None = None,
              timescale: int | None = None, like: Piece | None = None) -> Path:
    """The clip re-encoded to the target and trimmed, made once and kept in the cache; with
    ``sps_id``, its parameter sets take that id (to sit beside copied clips' own), and with
    ``like``, its pixels are converted to that clip's colours and tagged so: a player that reads
    the film's colours from its first clip shows this one as it was meant too."""
    digest = digest_of(p.path)
    spec = {"v": CONFORM_VERSION, "clip": digest, "w": target.width, "h": target.height,
            "fps": fps_text(target.fps), "q": target.quality, "d": p.duration}
    if sps_id is not None:
        spec.update(id=sps_id, tbn=timescale)
    if like is not None:
        spec.update(like=like.info.setup)  # its H.264 setup, whose VUI carries its colour tags
    if p.hold:
        spec.update(hold=round(p.hold, 6))
    name = kept_name("conformed", spec, ".mp4")
    kept = cache.storage.local_copy(name)
    if kept is not None:
        return kept
    colour = "" if like is None else _colour_filter(colours(p.path), colours(like.path), p.info.height, target.height)
    made = work / f"conform-{digest[:12]}.mp4"
    encoder = x264(target)
    if sps_id is not None:
        encoder[-1] += f":sps-id={sps_id}"
    timescale = timescale or _timescale(target)  # joined to copies: their time base
    ffmpeg(["-i", p.path, "-map", "0:v:0", "-vf",
            f"{_held(p)}trim=0:{p.duration:.6f},setpts=PTS-STARTPTS,{normalize(target)}{colour}",
            *encoder, "-video_track_timescale", timescale, *BITEXACT, made], f"conforming {p.shot}")
    cache.storage.put_file_if_absent(name, made)
    return cache.storage.local_copy(name) or made


_SCALE_MATRICES = {"bt709": "bt709", "bt470bg": "bt470", "smpte170m": "smpte170m", "smpte240m": "smpte240m",
                   "fcc": "fcc", "bt2020nc": "bt2020", "bt2020c": "bt2020"}


def _colour_filter(own: Colours, like: Colours, height: int, target_height: int) -> str:
    """Filters converting pictures of ``own`` colours to ``like``'s, and tagging them so."""
    return (f",scale=in_color_matrix={_matrix(own.matrix, height)}:in_range={_range(own.range)}"
            f":out_color_matrix={_matrix(like.matrix, target_height)}:out_range={_range(like.range)},"
            f"setparams=range={_range(like.range)}:colorspace={like.matrix}:color_primaries={like.primaries}"
            f":color_trc={like.trc}")


def _matrix(tag: str, height: int) -> str:
    """The scale filter's name for a colour matrix; untagged, what players assume (BT.709 for HD)."""
    return _SCALE_MATRICES.get(tag, "bt709" if height >= 720 else "bt601")


def _range(tag: str) -> str:
    return "pc" if tag == "pc" else "tv"


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


def _held(piece: Piece) -> str:
    """The filter that holds a short clip's last frame past its end (none for a clip long enough)."""
    return f"tpad=stop_mode=clone:stop_duration={piece.hold + 1:.6f}," if piece.hold else ""


def _picture(piece: Piece, local: float, source: str, skip: float, target: Target, label: str, rgb: bool) -> str:
    # Fades and blends are made in RGB, as the reference engine makes them: a
    # blend of YUV pictures differs from one of RGB pictures where colours clip.
    # ``source`` was opened ``skip`` seconds before ``local`` (-ss); times after the trim count from ``local``.
    fades = ""
    if piece.fade_in and local < piece.fade_in:
        fades += f",fade=t=in:st={-local:.6f}:d={piece.fade_in:.6f}"
    if piece.fade_out:
        fades += f",fade=t=out:st={piece.visible - piece.fade_out - local:.6f}:d={piece.fade_out:.6f}"
    pix_fmt = "gbrp" if rgb or fades else "yuv420p"
    return (f"[{source}]{_held(piece)}trim=start={skip:.6f}:end={skip + piece.visible - local:.6f},setpts=PTS-STARTPTS,"
            f"{normalize(target, pix_fmt)}{fades},settb={_tb(target)}[{label}]")


def _encode_segments(todo: list[tuple[int, Segment, Path]], opened: float, target: Target) -> None:
    """Segments whose first input is the same clip (a shot's body and the blend into the next shot),
    encoded in one process that decodes that clip once, from ``opened`` (its local time)."""
    piece = todo[0][1].inputs[0][0]
    # Seek on input: decoding starts at the keyframe before the point, not at the clip's start.
    inputs = ["-ss", f"{piece.source_in + opened:.6f}", "-an", "-i", piece.path]
    graph = [f"[0:v:0]split={len(todo)}" + "".join(f"[o{k}]" for k in range(len(todo)))] if len(todo) > 1 else []
    outputs: list = []
    for k, (n, seg, out) in enumerate(todo):
        local = seg.inputs[0][1]
        source = f"o{k}" if len(todo) > 1 else "0:v:0"
        graph.append(_picture(piece, local, source, local - opened, target, f"p{k}a", rgb=bool(seg.blend)))
        if seg.blend:
            other, other_local = seg.inputs[1]
            inputs += ["-ss", f"{other.source_in + other_local:.6f}", "-an", "-i", other.path]
            graph.append(_picture(other, other_local, f"{len(inputs) // 5 - 1}:v:0", 0.0, target, f"p{k}b", rgb=True))
            graph.append(f"[p{k}a][p{k}b]xfade=transition=fade:duration={seg.blend:.6f}:offset=0,"
                         f"format=yuv420p[picture{k}]")
        else:
            graph.append(f"[p{k}a]format=yuv420p[picture{k}]")
        outputs += ["-map", f"[picture{k}]", "-frames:v", seg.frames, *x264(target),
                    "-video_track_timescale", _timescale(target), *BITEXACT, out]
    ffmpeg([*inputs, "-filter_complex", ";".join(graph), *outputs],
           f"cutting the picture at frame {todo[0][1].first}")


def _graph(timeline: list[Piece], target: Target, work: Path, cache: ClipCache) -> list[Part]:
    """Transitions: each stretch encoded once from the original clips (two at
    most, so memory does not grow with the film), in parallel, then joined by
    stream copy: every segment comes from the same encoder settings. A shot's
    body and the blend out of it are encoded in one process, which decodes the
    shot's clip once; the blend-only process of a re-cut opens it at the same
    point, so the frames are the same either way. Each stretch is kept in the
    cache by what it is made of, so a re-cut encodes only those that changed."""
    parts = segments(timeline, target.fps)
    opened: dict[int, float] = {}
    for seg in parts:  # each clip is read from its first segment's start, whatever is in the cache
        opened.setdefault(id(seg.inputs[0][0]), seg.inputs[0][1])
    files: list[Path | None] = []
    names: list[str] = []
    groups: dict[int, list] = {}
    for n, seg in enumerate(parts):
        first = id(seg.inputs[0][0])
        spec = {"v": 2, "segment": seg.frames, "blend": seg.blend, "opened": round(opened[first], 6),
                "target": [target.width, target.height, fps_text(target.fps), target.quality],
                "inputs": [[digest_of(p.path), round(p.source_in, 6), round(p.visible, 6), round(p.fade_in, 6),
                            round(p.fade_out, 6), round(local, 6)] + ([round(p.hold, 6)] if p.hold else [])
                           for p, local in seg.inputs]}
        names.append(kept_name("conformed", spec, ".mp4"))
        files.append(cache.storage.local_copy(names[-1]))
        if files[-1] is None:
            groups.setdefault(first, []).append((n, seg, work / f"part{n:04d}.mp4"))
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        list(pool.map(lambda key: _encode_segments(groups[key], opened[key], target), list(groups)))
    for todo in groups.values():
        for n, _, out in todo:
            cache.storage.put_file_if_absent(names[n], out)
            files[n] = cache.storage.local_copy(names[n]) or out
    return [Part(f) for f in files]
