"""Trimming a clip with B-frames to its planned length, keeping every kept frame's bytes where it can.

A clip with B-frames stores frames out of display order, and the frames just
before the cut may refer to one after it: a stream copy cut at the planned
length would keep a frame too many. So the clip is split where its decode
order and its display order agree: the head, every frame up to there, is
copied as it is (pixels untouched); the tail, the few frames from there to the
planned end, is decoded and encoded again (an IDR frame and what follows),
with parameter set ids of its own. The two are joined by stream copy and the
track's ``avcC`` carries both sets. The result is kept in the cache by clip
digest and length, as conformed clips are.
"""

from __future__ import annotations

import struct
from pathlib import Path

from .avcc import AvcC, read_avcc
from .ffmpeg_tools import BITEXACT

SMART_VERSION = 4
TAIL_QUALITY = 12  # x264 CRF of the re-encoded tail: near-lossless, it is a handful of frames


def display_ranks(path: Path, data: bytes | None = None) -> list[int] | None:
    """For each video sample in decode order, its place in display order; None if unreadable."""
    data = path.read_bytes() if data is None else data
    tables = _video_tables(data)
    if tables is None:
        return None
    stts, ctts = tables["stts"], tables["ctts"]
    dts, times = 0, []
    for count, delta in stts:
        for _ in range(count):
            times.append(dts)
            dts += delta
    offsets = [offset for count, offset in ctts for _ in range(count)] if ctts else [0] * len(times)
    if len(offsets) != len(times):
        return None
    pts = [t + o for t, o in zip(times, offsets)]
    order = sorted(range(len(pts)), key=lambda i: pts[i])
    ranks = [0] * len(pts)
    for rank, i in enumerate(order):
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


def _video_tables(data: bytes):
    from .avcc import CONTAINERS, _boxes

    def walk(start: int, end: int):
        for kind, b, e in _boxes(data, start, end):
            if kind == b"trak":
                found = track(b + 8, e)
                if found:
                    return found
            elif kind in CONTAINERS:
                found = walk(b + 8, e)
                if found:
                    return found
        return None

    def track(start: int, end: int):
        boxes = {}

        def collect(s: int, e: int) -> None:
            for kind, b, be in _boxes(data, s, e):
                boxes[kind] = (b, be)
                if kind in (b"mdia", b"minf", b"stbl"):
                    collect(b + 8, be)

        collect(start, end)
        hdlr = boxes.get(b"hdlr")
        needed = (b"stts", b"stsz", b"stsc")
        if hdlr is None or data[hdlr[0] + 16:hdlr[0] + 20] != b"vide" or any(n not in boxes for n in needed):
            return None
        chunks = boxes.get(b"stco") or boxes.get(b"co64")
        if chunks is None:
            return None
        return {"stts": _pairs(data, boxes[b"stts"]),
                "ctts": _pairs(data, boxes[b"ctts"], signed=True) if b"ctts" in boxes else [],
                "offsets": _sample_offsets(data, boxes[b"stsz"], boxes[b"stsc"], chunks, b"co64" in boxes)}

    return walk(0, len(data))


def _pairs(data: bytes, box: tuple[int, int], signed: bool = False) -> list[tuple[int, int]]:
    b, _ = box
    count = struct.unpack(">I", data[b + 12:b + 16])[0]
    fmt = ">Ii" if signed else ">II"
    return [struct.unpack(fmt, data[b + 16 + 8 * i:b + 24 + 8 * i]) for i in range(count)]


def _sample_offsets(data: bytes, stsz, stsc, chunks, wide: bool) -> list[tuple[int, int]]:
    """(offset, size) of every sample in decode order."""
    b = stsz[0]
    fixed, count = struct.unpack(">II", data[b + 12:b + 20])
    sizes = [fixed] * count if fixed else list(struct.unpack(f">{count}I", data[b + 20:b + 20 + 4 * count]))
    b = chunks[0]
    n = struct.unpack(">I", data[b + 12:b + 16])[0]
    starts = list(struct.unpack(f">{n}{'Q' if wide else 'I'}", data[b + 16:b + 16 + (8 if wide else 4) * n]))
    b = stsc[0]
    entries = struct.unpack(">I", data[b + 12:b + 16])[0]
    runs = [struct.unpack(">III", data[b + 16 + 12 * i:b + 28 + 12 * i]) for i in range(entries)]
    out, sample = [], 0
    for i, (first, per_chunk, _) in enumerate(runs):
        last = runs[i + 1][0] - 1 if i + 1 < len(runs) else len(starts)
        for chunk in range(first, last + 1):
            at = starts[chunk - 1]
            for _ in range(per_chunk):
                if sample >= len(sizes):
                    return out
                out.append((at, sizes[sample]))
                at += sizes[sample]
                sample += 1
    return out


def reference_stream(data: bytes, setup: AvcC, head_frames: int, dest: Path) -> int | None:
    """The clip as raw H.264 (Annex B) without the head's non-reference frames, which nothing
    decodes from: the tail decodes in about half the time. Returns how many head frames it keeps."""
    tables = _video_tables(data)
    size = (setup.head[4] & 3) + 1 if setup else 4
    if tables is None:
        return None
    start = b"\x00\x00\x00\x01"
    out = bytearray(b"".join(start + nal for nal in setup.sps + setup.pps))
    kept = 0
    for n, (offset, length) in enumerate(tables["offsets"]):
        sample, nals, pos = data[offset:offset + length], [], 0
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


def smart_trim(clip: Path, frames: int, fps, tbn: int, work: Path, run, label: str,
               new_id: int) -> list[Path] | None:
    """``clip`` cut to its first ``frames`` display frames: the head copied, and the tail (when one
    is needed) re-encoded, as two files to join by stream copy in this order. None when that cannot
    be done (no head to copy, parameter sets that cannot be told apart)."""
    data = clip.read_bytes()
    ranks = display_ranks(clip, data)
    setup = read_avcc(clip)
    if ranks is None or setup is None or len(ranks) < frames:
        return None
    head_frames = copyable_prefix(ranks, frames)
    if head_frames == 0:
        return None
    head = work / f"{label}-head.mp4"
    copy_head = ["-map", "0:v:0", "-c", "copy", "-frames:v", head_frames, *BITEXACT, head]
    if head_frames == frames:
        run(["-i", clip, *copy_head], f"copying {label}")
        return [head]
    ids = setup.ids()
    if new_id in ids or new_id > 31:
        return None
    tail, source = work / f"{label}-tail.mp4", work / f"{label}-refs.h264"
    skip = reference_stream(data, setup, head_frames, source)
    if skip is None:
        return None
    # One process: the head copied from the clip, the tail encoded from its reference frames.
    run(["-i", clip, "-f", "h264", "-framerate", fps, "-i", source, *copy_head,
         "-map", "1:v:0", "-vf", f"select=gte(n\\,{skip}),setpts=PTS-STARTPTS",
         "-frames:v", frames - head_frames, "-c:v", "libx264", "-preset", "veryfast", "-crf", TAIL_QUALITY,
         "-bf", 0, "-pix_fmt", "yuv420p", "-threads", 1, "-x264-params", f"threads=1:sps-id={new_id}",
         "-video_track_timescale", tbn, *BITEXACT, tail], f"re-encoding the tail of {label}")
    tail_setup = read_avcc(tail)
    if tail_setup is None or tail_setup.ids() & ids:
        return None
    return [head, tail]
