"""Trimming a clip with B-frames to its planned length, keeping every kept frame's bytes where it can.

A clip with B-frames stores frames out of display order, and the frames just
before the cut may refer to one after it: a stream copy cut at the planned
length would keep a frame too many. So the clip is split where its decode
order and its display order agree: the head, every frame up to there, is
copied as it is (pixels untouched); the tail, the few frames from there to the
planned end, is decoded and encoded again (an IDR frame and what follows),
with parameter set ids of its own. The film takes the head's samples straight
from the clip and the tail's from its own file (``film.write_film``), and the
track's ``avcC`` carries both sets. The tail is kept in the cache by clip
digest and length, as conformed clips are.

A clip a little shorter than planned (``clips.HOLD_LIMIT``) is copied whole and
followed by a tail of its last frame held (``hold_tail``), made the same way.
"""

from __future__ import annotations

from pathlib import Path

from .avcc import AvcC, read_avcc, setup_of
from .mp4 import Track, tracks
from .ffmpeg_tools import BITEXACT

SMART_VERSION = 5
TAIL_QUALITY = 12  # x264 CRF of the re-encoded tail: near-lossless, it is a handful of frames


def display_ranks(track: Track) -> list[int]:
    """For each video sample in decode order, its place in display order."""
    pts = track.pts(len(track.samples))
    ranks = [0] * len(pts)
    for rank, i in enumerate(sorted(range(len(pts)), key=lambda i: pts[i])):
        ranks[i] = rank
    return ranks


def copyable_prefix(ranks: list[int], frames: int) -> int:
    """The most frames (at most ``frames``) whose first samples in decode order are exactly the
    first frames in display order: a stream copy of them keeps no frame too many."""
    best, highest = 0, -1
    for n, rank in enumerate(ranks[:frames], 1):
        highest = max(highest, rank)
        if highest == n - 1:
            best = n
    return best


def reference_stream(track: Track, setup: AvcC, head_frames: int, upto: int, dest: Path) -> int:
    """The clip's first ``upto`` samples as raw H.264 (Annex B) without the head's non-reference
    frames, which nothing decodes from: the tail decodes in about half the time. Returns how many
    head frames it keeps."""
    size = (setup.head[4] & 3) + 1
    start = b"\x00\x00\x00\x01"
    out = bytearray(b"".join(start + nal for nal in setup.sps + setup.pps))
    kept = 0
    with open(track.path, "rb") as f:
        for n, (offset, length) in enumerate(track.samples[:upto]):
            f.seek(offset)
            sample, nals, pos = f.read(length), [], 0
            while pos + size <= len(sample):
                nal_size = int.from_bytes(sample[pos:pos + size], "big")
                nals.append(sample[pos + size:pos + size + nal_size])
                pos += size + nal_size
            if n < head_frames:
                slices = [nal for nal in nals if nal and nal[0] & 0x1F in (1, 5)]
                if slices and all(nal[0] & 0x60 == 0 for nal in slices):
                    continue  # a frame no other frame refers to
                kept += 1
            out += b"".join(start + nal for nal in nals)
    dest.write_bytes(bytes(out))
    return kept


def smart_trim(clip: Path, frames: int, fps, work: Path, run, label: str,
               new_id: int) -> tuple[int, Path | None] | None:
    """How to cut ``clip`` to its first ``frames`` display frames: (how many of its first samples
    to copy, the re-encoded tail to follow them or None when no tail is needed). None when that
    cannot be done (no head to copy, parameter sets that cannot be told apart)."""
    track = tracks(clip).get(b"vide")
    setup = setup_of(track) if track else None
    if track is None or setup is None or len(track.samples) < frames:
        return None
    ranks = display_ranks(track)
    head_frames = copyable_prefix(ranks, frames)
    if head_frames == 0:
        return None
    if head_frames == frames:
        return head_frames, None
    ids = setup.ids()
    if new_id in ids or new_id > 31:
        return None
    tail, source = work / f"{label}-tail.mp4", work / f"{label}-refs.h264"
    upto = 1 + max(n for n, rank in enumerate(ranks) if rank < frames)  # what the tail's frames decode from
    skip = reference_stream(track, setup, head_frames, upto, source)
    run(["-threads", 1, "-f", "h264", "-framerate", fps, "-i", source,
         "-map", "0:v:0", "-vf", f"select=gte(n\\,{skip}),setpts=PTS-STARTPTS",
         "-frames:v", frames - head_frames, "-c:v", "libx264", "-preset", "veryfast", "-crf", TAIL_QUALITY,
         "-bf", 0, "-pix_fmt", "yuv420p", "-threads", 1, "-x264-params", f"threads=1:sps-id={new_id}",
         "-video_track_timescale", track.timescale, *BITEXACT, tail], f"re-encoding the tail of {label}")
    tail_setup = read_avcc(tail)
    if tail_setup is None or tail_setup.ids() & ids:
        return None
    return head_frames, tail


def hold_tail(clip: Path, have: int, count: int, fps, work: Path, run, label: str, new_id: int,
              timescale: int) -> Path | None:
    """``count`` frames of ``clip``'s last frame (its ``have``-th), encoded to follow its own
    samples as a smart-rendered tail does (parameter set id ``new_id``, the clip's time base):
    a clip a little shorter than planned is held on its last frame. None when that cannot be done."""
    tail = work / f"{label}-hold.mp4"
    run(["-threads", 1, "-i", clip, "-map", "0:v:0",
         "-vf", f"trim=start_frame={have - 1},setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop={count - 1}",
         "-r", fps, "-frames:v", count, "-c:v", "libx264", "-preset", "veryfast", "-crf", TAIL_QUALITY,
         "-bf", 0, "-pix_fmt", "yuv420p", "-threads", 1, "-x264-params", f"threads=1:sps-id={new_id}",
         "-video_track_timescale", timescale, *BITEXACT, tail], f"holding the last frame of {label}")
    setup = read_avcc(tail)
    return tail if setup is not None and new_id in setup.ids() else None
