"""MP4 tracks for the cut: the one MP4 reader (``format/mp4``), and the parts the film is joined from.

The smart render (decode and display order) and the film's writer (``film``),
which joins parts by their samples, read tracks through here. The reader
itself sits in ``format``, which reads referenced videos too: one reader of
MP4 boxes for the whole package. It reads only the ``moov`` box, never the media."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ..format.mp4 import Track, boxes, read_moov, tracks

__all__ = ["Part", "Take", "Track", "box", "boxes", "full_box", "read_moov", "runs", "tracks"]


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


def box(kind: bytes, body: bytes) -> bytes:
    """An MP4 box: its size, its kind, its body."""
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, body: bytes) -> bytes:
    """A full box: a box whose body starts with a version and flags."""
    return box(kind, struct.pack(">I", (version << 24) | flags) + body)


def runs(values) -> list[tuple[int, int]]:
    """Run-length pairs (count, value), as the sample tables (stts, ctts, stsc) store them."""
    out: list[list[int]] = []
    for v in values:
        if out and out[-1][1] == v:
            out[-1][0] += 1
        else:
            out.append([1, v])
    return [(c, v) for c, v in out]
