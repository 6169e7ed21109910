"""MP4 tracks read from their sample tables: where each sample lies and when it plays.

One reader for every part of the cut that looks inside an MP4: the smart
render (decode and display order), and the film's writer (``film``), which
joins parts by their samples. It reads only the ``moov`` box, never the media."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ..format.media import _boxes as file_boxes


CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}


def boxes(data: bytes, start: int, end: int):
    """(kind, start, end) of each box between ``start`` and ``end`` (64-bit sizes understood)."""
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


def read_moov(path: Path) -> bytes | None:
    """The file's ``moov`` box (with a plain 8-byte header), read without reading the media."""
    try:
        with open(path, "rb") as f:
            found = next(((b, e) for kind, b, e in file_boxes(f, 0, path.stat().st_size) if kind == b"moov"), None)
            if found is None:
                return None
            f.seek(found[0])
            body = f.read(found[1] - found[0])
    except OSError:
        return None
    return struct.pack(">I4s", 8 + len(body), b"moov") + body


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
        found = _child(self.entry, 8 + 78, len(self.entry), b"avcC") if self.entry[4:8] in (b"avc1", b"avc3") else None
        return self.entry[found[0] + 8:found[1]] if found else None

    def audio_config(self) -> bytes | None:
        """The AAC AudioSpecificConfig, with the channel count and rate of the entry."""
        if self.entry[4:8] != b"mp4a":
            return None
        esds = _child(self.entry, 8 + 28, len(self.entry), b"esds")
        if esds is None:
            return None
        from .probe import _descriptor

        config = _descriptor(self.entry[esds[0] + 12:esds[1]], 0x04)
        specific = _descriptor(config[13:], 0x05) if config else None
        return None if specific is None else self.entry[8 + 16:8 + 28] + specific


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((b, e) for k, b, e in boxes(data, start, end) if k == kind), None)


def tracks(path: Path) -> dict[bytes, Track]:
    """The first video and the first sound track of ``path`` by handler; {} when unreadable."""
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


def _collect(data: bytes, start: int, end: int, found: dict) -> None:
    for kind, b, e in boxes(data, start, end):
        found.setdefault(kind, (b, e))
        if kind in CONTAINERS:
            _collect(data, b + 8, e, found)


def _track(path: Path, data: bytes, start: int, end: int) -> Track | None:
    found: dict = {}
    _collect(data, start + 8, end, found)
    needed = (b"tkhd", b"mdhd", b"hdlr", b"stsd", b"stts", b"stsc", b"stsz")
    if any(n not in found for n in needed) or not (b"stco" in found or b"co64" in found):
        return None
    hdlr = found[b"hdlr"][0]
    mdhd = found[b"mdhd"][0]
    timescale = struct.unpack(">I", data[mdhd + 28:mdhd + 32] if data[mdhd + 8] == 1 else data[mdhd + 20:mdhd + 24])[0]
    tkhd = found[b"tkhd"][0]
    at = tkhd + (96 if data[tkhd + 8] == 1 else 84)
    width, height = (v >> 16 for v in struct.unpack(">II", data[at:at + 8]))
    stsd = found[b"stsd"]
    entry = next((data[b:e] for _, b, e in boxes(data, stsd[0] + 16, stsd[1])), None)
    if entry is None or struct.unpack(">I", data[stsd[0] + 12:stsd[0] + 16])[0] != 1:
        return None  # one sample description, or this is not a track to join
    durations = [d for count, d in _table(data, found[b"stts"], 2) for _ in range(count)]
    sizes = _sizes(data, found[b"stsz"])
    offsets = ([o for count, o in _table(data, found[b"ctts"], 2, signed=True) for _ in range(count)]
               if b"ctts" in found else [0] * len(sizes))
    if b"stss" in found:
        sync = frozenset(n - 1 for (n,) in _table(data, found[b"stss"], 1))
    else:
        sync = None
    chunks = found.get(b"stco") or found.get(b"co64")
    wide = b"co64" in found and b"stco" not in found
    placed = _placed(data, sizes, found[b"stsc"], chunks, wide)
    shift = _shift(data, found.get(b"elst"))
    if shift is None or not (len(durations) == len(sizes) == len(offsets) == len(placed)):
        return None
    return Track(path, data[hdlr + 16:hdlr + 20], timescale, entry, tuple(placed), tuple(durations),
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


def _shift(data: bytes, elst: tuple[int, int] | None) -> int | None:
    """Media time the one edit starts at (0 without an edit list); None for edits this does not join."""
    if elst is None:
        return 0
    b = elst[0]
    version, count = data[b + 8], struct.unpack(">I", data[b + 12:b + 16])[0]
    step = 20 if version == 1 else 12
    entries = []
    for n in range(count):
        at = b + 16 + n * step
        media = data[at + 8:at + 16] if version == 1 else data[at + 4:at + 8]
        entries.append(int.from_bytes(media, "big", signed=True))
    return entries[0] if len(entries) == 1 and entries[0] >= 0 else None


# -- writing --

@dataclass(frozen=True)
class Part:
    """A file to join into the film, or only its first ``count`` samples (decode order)."""

    path: Path
    count: int | None = None


@dataclass(frozen=True)
class Take:
    """The first ``count`` samples of a track (in decode order)."""

    track: Track
    count: int
