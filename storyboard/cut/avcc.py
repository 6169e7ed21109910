"""H.264 decoder setup (the MP4 ``avcC`` box): read it, merge two, write it back.

A smart-rendered clip is a stream copy of the source's head joined to a
re-encoded tail. The two parts carry different sequence and picture parameter
sets, so the tail is encoded with other ids (x264's ``sps-id``) and both sets
go into the one ``avcC`` of the track, as the standard allows: every decoder
that reads the sample entry (ffmpeg, browsers, editors) knows both, and the
tail's IDR frame switches to its own set."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from .mp4 import Track, boxes, read_moov

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


@dataclass(frozen=True)
class AvcC:
    head: bytes  # version, profile, compatibility, level, length size
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    tail: bytes  # the High-profile extension, kept as it was

    @classmethod
    def parse(cls, data: bytes) -> "AvcC":
        pos, sps, pps = 6, [], []
        for _ in range(data[5] & 0x1F):
            size = struct.unpack(">H", data[pos:pos + 2])[0]
            sps.append(data[pos + 2:pos + 2 + size])
            pos += 2 + size
        count = data[pos]
        pos += 1
        for _ in range(count):
            size = struct.unpack(">H", data[pos:pos + 2])[0]
            pps.append(data[pos + 2:pos + 2 + size])
            pos += 2 + size
        return cls(data[:5], tuple(sps), tuple(pps), data[pos:])

    def to_bytes(self) -> bytes:
        out = bytearray(self.head) + bytes([0xE0 | len(self.sps)])
        for nal in self.sps:
            out += struct.pack(">H", len(nal)) + nal
        out.append(len(self.pps))
        for nal in self.pps:
            out += struct.pack(">H", len(nal)) + nal
        return bytes(out + self.tail)

    def ids(self) -> set[int]:
        """Every parameter set id in use (SPS and PPS ids)."""
        return {_first_ue(nal[4:]) for nal in self.sps} | {_first_ue(nal[1:]) for nal in self.pps}

    def distinct_ids(self) -> bool:
        """No two sequence (or picture) parameter sets share an id: a decoder can tell them apart."""
        sps = [_first_ue(nal[4:]) for nal in self.sps]
        pps = [_first_ue(nal[1:]) for nal in self.pps]
        return len(sps) == len(set(sps)) and len(pps) == len(set(pps))

    def merged(self, other: "AvcC") -> "AvcC":
        sps = self.sps + tuple(n for n in other.sps if n not in self.sps)
        pps = self.pps + tuple(n for n in other.pps if n not in self.pps)
        return AvcC(self.head, sps, pps, self.tail)


def _first_ue(data: bytes) -> int:
    """The first Exp-Golomb number of an RBSP (enough for the id at the start of a parameter set)."""
    bits = "".join(f"{b:08b}" for b in data[:8])
    zeros = len(bits) - len(bits.lstrip("0"))
    return int(bits[zeros:2 * zeros + 1], 2) - 1


def _path_to_avcc(data: bytes) -> list[tuple[int, int]] | None:
    """(start, end) of each box from ``moov`` down to the video track's ``avcC``."""
    def walk(start: int, end: int, chain: list) -> list | None:
        for kind, b, e in boxes(data, start, end):
            if kind in CONTAINERS:
                found = walk(b + 8, e, chain + [(b, e)])
                if found:
                    return found
            elif kind == b"stsd":
                for entry, eb, ee in boxes(data, b + 16, e):
                    if entry in (b"avc1", b"avc3"):
                        for inner, ib, ie in boxes(data, eb + 86, ee):
                            if inner == b"avcC":
                                return chain + [(b, e), (eb, ee), (ib, ie)]
        return None

    return walk(0, len(data), [])


def setup_of(track: Track) -> AvcC | None:
    """A track's H.264 setup, from its sample description."""
    body = track.avcc()
    return AvcC.parse(body) if body else None


def read_avcc(path: Path) -> AvcC | None:
    """The video track's setup, reading only the file's ``moov`` box."""
    moov = read_moov(path)
    chain = _path_to_avcc(moov) if moov else None
    if not chain:
        return None
    start, end = chain[-1]
    return AvcC.parse(moov[start + 8:end])


def write_avcc(path: Path, setup: AvcC) -> None:
    """Replace the video track's ``avcC`` in ``path`` (sizes and chunk offsets follow)."""
    data = bytearray(path.read_bytes())
    chain = _path_to_avcc(bytes(data))
    if not chain:
        raise ValueError(f"{path.name}: no H.264 setup to replace")
    start, end = chain[-1]
    body = setup.to_bytes()
    delta = len(body) + 8 - (end - start)
    moov_start = chain[0][0]
    data[start:end] = struct.pack(">I4s", len(body) + 8, b"avcC") + body
    for b, _ in chain[:-1]:
        size = struct.unpack(">I", data[b:b + 4])[0]
        data[b:b + 4] = struct.pack(">I", size + delta)
    if delta and _mdat_after(bytes(data), moov_start):
        _shift_offsets(data, moov_start, delta)
    tmp = path.with_suffix(".avcc-tmp")
    tmp.write_bytes(bytes(data))
    tmp.replace(path)


def _mdat_after(data: bytes, moov: int) -> bool:
    return any(kind == b"mdat" and b > moov for kind, b, _ in boxes(data, 0, len(data)))


def _shift_offsets(data: bytearray, moov: int, delta: int) -> None:
    """Chunk offsets point into ``mdat``, which moved by ``delta`` when ``moov`` (before it) grew."""
    size = struct.unpack(">I", data[moov:moov + 4])[0]

    def walk(start: int, end: int) -> None:
        for kind, b, e in boxes(bytes(data[start:end]), 0, end - start):
            b, e = b + start, e + start
            if kind in CONTAINERS:
                walk(b + 8, e)
            elif kind in (b"stco", b"co64"):
                count = struct.unpack(">I", data[b + 12:b + 16])[0]
                width = 4 if kind == b"stco" else 8
                fmt = ">I" if width == 4 else ">Q"
                for i in range(count):
                    at = b + 16 + i * width
                    data[at:at + width] = struct.pack(fmt, struct.unpack(fmt, data[at:at + width])[0] + delta)

    walk(moov + 8, moov + size)
