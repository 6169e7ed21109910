"""MP4 tracks for the cut: the one MP4 reader (``format/mp4``), and the parts the film is joined from.

The smart render (decode and display order) and the film's writer (``film``),
which joins parts by their samples, read tracks through here. The reader
itself sits in ``format``, which reads referenced videos too: one reader of
MP4 boxes for the whole package. It reads only the ``moov`` box, never the media."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..format.mp4 import Track, boxes, read_moov, tracks

__all__ = ["Part", "Take", "Track", "boxes", "read_moov", "tracks"]


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
