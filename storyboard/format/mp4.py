"""MP4 files read from their index: the one reader of MP4 boxes.

Everything that looks inside an MP4 reads it here: the format (a referenced
video's kind and length, ``media``), the cut's probe (a clip's facts,
``cut/probe``), the smart render and the film's writer (each sample of a
track: where it lies and when it plays, ``Track``). It reads only the
``moov`` box, never the media. It sits in ``format``, the lowest stage that
reads media; ``cut/mp4`` hands it on to the cut with what the cut writes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}
VISUAL_ENTRY = 8 + 78  # a picture sample description's header and fields, before its boxes
AUDIO_ENTRY = 8 + 28


def file_boxes(f: BinaryIO, start: int, end: int):
    """(type, payload start, end) of the boxes of a file in [start, end), read from ``f``."""
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        header = f.read(16)
        if len(header) < 8:
            return
        size, box = struct.unpack(">I4s", header[:8])
        body = pos + 8
        if size == 1 and len(header) == 16:
            size = struct.unpack(">Q", header[8:16])[0]
            body = pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            return
        yield box, body, pos + size
        pos += size


def boxes(data: bytes, start: int, end: int):
    """(kind, start, end) of each box between ``start`` and ``end`` of ``data`` (64-bit sizes understood)."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if size == 1 and pos + 16 <= end:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        elif size == 0:
            size = end - pos
        if size < 8 or pos + size > end:
            return
        yield kind, pos, pos + size
        pos += size


def moov_of(f: BinaryIO, size: int) -> bytes | None:
    """The ``moov`` box of the file open as ``f`` (with a plain 8-byte header), read without the media."""
    found = next(((b, e) for kind, b, e in file_boxes(f, 0, size) if kind == b"moov"), None)
    if found is None:
        return None
    f.seek(found[0])
    body = f.read(found[1] - found[0])
    return struct.pack(">I4s", 8 + len(body), b"moov") + body


def read_moov(path: Path) -> bytes | None:
    """The file's ``moov`` box, or None when it has none or cannot be read."""
    try:
        with open(path, "rb") as f:
            return moov_of(f, path.stat().st_size)
    except OSError:
        return None


def child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((b, e) for k, b, e in boxes(data, start, end) if k == kind), None)


def collect(data: bytes, start: int, end: int, found: dict) -> dict:
    """The first box of each kind within [start, end), looking inside containers."""
    for kind, b, e in boxes(data, start, end):
        found.setdefault(kind, (b, e))
        if kind in CONTAINERS:
            collect(data, b + 8, e, found)
    return found


def movie_duration(moov: bytes) -> float | None:
    """The movie's length in seconds (``mvhd``), or None."""
    mvhd = child(moov, 8, len(moov), b"mvhd")
    if mvhd is None:
        return None
    data = moov[mvhd[0] + 8:mvhd[0] + 40]
    if len(data) < 20:
        return None
    timescale, length = struct.unpack(">IQ", data[20:32]) if data[0] == 1 else struct.unpack(">II", data[12:20])
    return round(length / timescale, 6) if timescale else None


def traks(moov: bytes) -> list[dict]:
    """Each track's boxes (``collect``), in file order."""
    return [collect(moov, b + 8, e, {}) for kind, b, e in boxes(moov, 8, len(moov)) if kind == b"trak"]


def handler(data: bytes, found: dict) -> bytes | None:
    hdlr = found.get(b"hdlr")
    return data[hdlr[0] + 16:hdlr[0] + 20] if hdlr else None


def media_timescale(data: bytes, found: dict) -> int:
    mdhd = found[b"mdhd"][0]
    return struct.unpack(">I", data[mdhd + 28:mdhd + 32] if data[mdhd + 8] == 1 else data[mdhd + 20:mdhd + 24])[0]


def edits(data: bytes, elst: tuple[int, int] | None) -> list[int]:
    """The media time each edit starts at (-1: an empty edit, a delay)."""
    if elst is None:
        return []
    b = elst[0]
    version, count = data[b + 8], struct.unpack(">I", data[b + 12:b + 16])[0]
    step = 20 if version == 1 else 12
    out = []
    for n in range(count):
        at = b + 16 + n * step
        if at + step > elst[1]:
            break
        media = data[at + 8:at + 16] if version == 1 else data[at + 4:at + 8]
        out.append(int.from_bytes(media, "big", signed=True))
    return out


def sample_entry(data: bytes, found: dict) -> bytes | None:
    """The track's first sample description, whole."""
    stsd = found.get(b"stsd")
    return next((data[b:e] for _, b, e in boxes(data, stsd[0] + 16, stsd[1])), None) if stsd else None


def avcc_body(entry: bytes) -> bytes | None:
    """The body of an H.264 sample description's setup box (``avcC``), or None."""
    found = child(entry, VISUAL_ENTRY, len(entry), b"avcC") if entry[4:8] in (b"avc1", b"avc3") else None
    return entry[found[0] + 8:found[1]] if found else None


def descriptor(data: bytes, tag: int) -> bytes | None:
    """The body of the first MPEG-4 descriptor with ``tag`` (ES_Descriptor's own fields skipped)."""
    i = 0
    while i < len(data):
        current = data[i]
        i += 1
        length = 0
        for _ in range(4):
            byte = data[i]
            i += 1
            length = (length << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        body = data[i:i + length]
        if current == tag:
            return body
        if current == 0x03:  # ES_Descriptor: ES_ID (2), flags (1), then nested descriptors
            flags = body[2]
            skip = 3 + (2 if flags & 0x80 else 0) + ((1 + body[3]) if flags & 0x40 else 0) + (2 if flags & 0x20 else 0)
            found = descriptor(body[skip:], tag)
            if found is not None:
                return found
        i += length
    return None


def decoder_config(entry: bytes) -> bytes | None:
    """An ``mp4a`` description's DecoderConfigDescriptor (object type first), or None."""
    if entry[4:8] != b"mp4a":
        return None
    esds = child(entry, AUDIO_ENTRY, len(entry), b"esds")
    return descriptor(entry[esds[0] + 12:esds[1]], 0x04) if esds else None


@dataclass(frozen=True)
class Track:
    """One track of an MP4 file: where each sample lies and when it plays, in decode order."""

    path: Path
    handler: bytes  # b"vide" or b"soun"
    timescale: int
    entry: bytes  # the sample description (the one entry of ``stsd``), whole
    samples: tuple[tuple[int, int], ...]  # (offset in the file, size)
    durations: tuple[int, ...]
    offsets: tuple[int, ...]  # composition offsets
    sync: frozenset[int] | None  # indexes of sync samples; None: every sample is one
    shift: int  # media time where the edit list starts
    width: int = 0
    height: int = 0

    def pts(self, count: int) -> list[int]:
        """Presentation times of the first ``count`` samples, the edit list's start at 0."""
        out, dts = [], 0
        for duration, offset in zip(self.durations[:count], self.offsets[:count]):
            out.append(dts + offset - self.shift)
            dts += duration
        return out

    def avcc(self) -> bytes | None:
        """The body of the picture's H.264 setup box (see ``avcc.setup_of``), or None."""
        return avcc_body(self.entry)

    def audio_config(self) -> bytes | None:
        """The AAC AudioSpecificConfig, with the channel count and rate of the entry."""
        config = decoder_config(self.entry)
        specific = descriptor(config[13:], 0x05) if config else None
        return None if specific is None else self.entry[8 + 16:8 + 28] + specific


def tracks(path: Path) -> dict[bytes, Track]:
    """The first track of each kind (``vide``, ``soun``, ``sbtl``…) of ``path``, by handler; {} when unreadable."""
    moov = read_moov(path)
    out: dict[bytes, Track] = {}
    if moov is None:
        return out
    try:
        for kind, b, e in boxes(moov, 8, len(moov)):
            if kind == b"trak":
                track = _track(path, moov, b, e)
                if track is not None and track.handler not in out:
                    out[track.handler] = track
    except (struct.error, IndexError, ValueError):
        return {}
    return out


def _track(path: Path, data: bytes, start: int, end: int) -> Track | None:
    found = collect(data, start + 8, end, {})
    needed = (b"tkhd", b"mdhd", b"hdlr", b"stsd", b"stts", b"stsc", b"stsz")
    if any(n not in found for n in needed) or not (b"stco" in found or b"co64" in found):
        return None
    tkhd = found[b"tkhd"][0]
    at = tkhd + (96 if data[tkhd + 8] == 1 else 84)
    width, height = (v >> 16 for v in struct.unpack(">II", data[at:at + 8]))
    stsd = found[b"stsd"]
    entry = sample_entry(data, found)
    if entry is None or struct.unpack(">I", data[stsd[0] + 12:stsd[0] + 16])[0] != 1:
        return None  # one sample description, or this is not a track to join
    durations = [d for count, d in _table(data, found[b"stts"], 2) for _ in range(count)]
    sizes = _sizes(data, found[b"stsz"])
    offsets = ([o for count, o in _table(data, found[b"ctts"], 2, signed=True) for _ in range(count)]
               if b"ctts" in found else [0] * len(sizes))
    sync = frozenset(n - 1 for (n,) in _table(data, found[b"stss"], 1)) if b"stss" in found else None
    chunks = found.get(b"stco") or found.get(b"co64")
    wide = b"co64" in found and b"stco" not in found
    placed = _placed(data, sizes, found[b"stsc"], chunks, wide)
    starts = edits(data, found.get(b"elst"))
    shift = 0 if b"elst" not in found else starts[0] if len(starts) == 1 and starts[0] >= 0 else None
    if shift is None or not (len(durations) == len(sizes) == len(offsets) == len(placed)):
        return None  # edits this does not join, or tables that disagree
    return Track(path, handler(data, found), media_timescale(data, found), entry, tuple(placed), tuple(durations),
                 tuple(offsets), sync, shift, width, height)


def _table(data: bytes, box: tuple[int, int], width: int, signed: bool = False) -> list[tuple]:
    b = box[0]
    count = struct.unpack(">I", data[b + 12:b + 16])[0]
    fmt = ">" + ("I" + "i" * (width - 1) if signed else "I" * width)
    step = 4 * width
    return [struct.unpack(fmt, data[b + 16 + step * i:b + 16 + step * (i + 1)]) for i in range(count)]


def _sizes(data: bytes, stsz: tuple[int, int]) -> list[int]:
    b = stsz[0]
    fixed, count = struct.unpack(">II", data[b + 12:b + 20])
    return [fixed] * count if fixed else list(struct.unpack(f">{count}I", data[b + 20:b + 20 + 4 * count]))


def _placed(data: bytes, sizes: list[int], stsc, chunks, wide: bool) -> list[tuple[int, int]]:
    """(offset, size) of every sample in decode order."""
    b = chunks[0]
    n = struct.unpack(">I", data[b + 12:b + 16])[0]
    starts = struct.unpack(f">{n}{'Q' if wide else 'I'}", data[b + 16:b + 16 + (8 if wide else 4) * n])
    runs = _table(data, stsc, 3)
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
