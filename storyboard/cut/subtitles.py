"""The film's soft subtitle track: 3GPP timed text (``tx3g``, ffmpeg's ``mov_text``), as boxes.

``film.write_film`` writes it beside the picture and the sound, so soft
captions cost no process and no re-encode: a few hundred bytes of text and an
index. The track is laid out as ffmpeg's MP4 muxer lays out ``mov_text``: a
``sbtl`` handler, a null media header, one sample description with a font
table, and one sample per stretch of the film (an empty one where no caption
shows), so the samples tile the film from its first frame to its last. Its
time base is a multiple of the frame rate, so every cue starts on its frame.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..plan.types import CutPlan
from .captions import Cue, cues, srt
from .ffmpeg_tools import BITEXACT, ffmpeg
from .mp4 import box, full_box, runs, tracks
from .timeline import Piece, Target

MAX_TEXT = 0xFFFF  # a sample's text length is 16 bits
_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)




def _sample_entry() -> bytes:
    """The ``tx3g`` description as ffmpeg writes it: bottom centred, white text, one font (a name
    for the player to choose a font by: nothing here draws text)."""
    body = (bytes(6) + struct.pack(">H", 1)  # reserved, data reference 1
            + struct.pack(">I", 0) + bytes([1, 0xFF])  # display flags; centred, at the bottom
            + b"\0\0\0\xff"  # background colour RGBA
            + bytes(8)  # text box (0: the whole track)
            + struct.pack(">HHHBB", 0, 0, 1, 0, 0x10) + b"\xff\xff\xff\xff"  # default style: font 1, white
            + box(b"ftab", struct.pack(">HHB", 1, 1, 5) + b"Arial"))  # ffmpeg's defaults, which its decoder expects
    return box(b"tx3g", body)


@dataclass(frozen=True)
class TextTrack:
    """The subtitle samples (text, in time order, gaps as empty samples) and their durations."""

    timescale: int
    samples: tuple[bytes, ...]
    durations: tuple[int, ...]

    @property
    def payload(self) -> bytes:
        return b"".join(self.samples)

    @property
    def length(self) -> int:
        return sum(self.durations)

    def trak(self, track_id: int, offset: int, wide: bool, movie_timescale: int, size: tuple[int, int]) -> bytes:
        """The track's box, its samples one chunk at ``offset`` in the file."""
        edit = -(-self.length * movie_timescale // self.timescale)
        tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, track_id, 0, edit) + bytes(8)
                     + struct.pack(">hhHH", 0, 0, 0, 0) + _MATRIX + struct.pack(">II", size[0] << 16, size[1] << 16))
        elst = full_box(b"elst", 0, 0, struct.pack(">IIiI", 1, edit, 0, 0x00010000))
        mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, self.timescale, self.length, 0x15C7, 0))  # "eng"
        hdlr = full_box(b"hdlr", 0, 0, bytes(4) + b"sbtl" + bytes(12) + b"SubtitleHandler\0")
        dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1) + full_box(b"url ", 0, 1, b"")))
        stts = runs(self.durations)
        count = len(self.samples)
        stbl = b"".join([
            full_box(b"stsd", 0, 0, struct.pack(">I", 1) + _sample_entry()),
            full_box(b"stts", 0, 0, struct.pack(">I", len(stts)) + b"".join(struct.pack(">II", *r) for r in stts)),
            full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1)),
            full_box(b"stsz", 0, 0, struct.pack(f">II{count}I", 0, count, *(len(s) for s in self.samples))),
            full_box(b"co64", 0, 0, struct.pack(">IQ", 1, offset)) if wide
            else full_box(b"stco", 0, 0, struct.pack(">II", 1, offset)),
        ])
        minf = box(b"minf", full_box(b"nmhd", 0, 0, b"") + dinf + box(b"stbl", stbl))
        return box(b"trak", tkhd + box(b"edts", elst) + box(b"mdia", mdhd + hdlr + minf))



def timescale_for(fps: Fraction) -> tuple[int, int]:
    """(time base, ticks per frame): whole ticks per frame (24 fps: 24000 and 1000; 30000/1001: 30000 and 1001)."""
    scale = 1000 if fps.denominator == 1 else 1
    return fps.numerator * scale, fps.denominator * scale


def text_track(found: list[Cue], fps: Fraction, frames: int) -> TextTrack | None:
    """The cues as a track as long as the film (``frames``); None when there is nothing to show."""
    if not found:
        return None
    timescale, tick = timescale_for(fps)
    samples, durations, at = [], [], 0
    for cue in found:
        if cue.first > at:
            samples.append(b"\0\0")
            durations.append((cue.first - at) * tick)
        text = cue.text.encode("utf-8")[:MAX_TEXT].decode("utf-8", "ignore").encode("utf-8")
        samples.append(struct.pack(">H", len(text)) + text)
        durations.append((cue.last - cue.first) * tick)
        at = cue.last
    if frames > at:
        samples.append(b"\0\0")
        durations.append((frames - at) * tick)
    return TextTrack(timescale, tuple(samples), tuple(durations))


def soft_cues(cut: CutPlan, timeline: list[Piece], target: Target) -> list[Cue]:
    """The cues a soft track shows: none unless the cut's captions are ``soft``."""
    if cut.captions is None or cut.captions.style.mode != "soft":
        return []
    return cues(cut.captions, timeline, target.fps, cut.duration)


def soft_track(cut: CutPlan, timeline: list[Piece], target: Target) -> TextTrack | None:
    """The film's subtitle track, for ``film.write_film``; None without soft captions."""
    return text_track(soft_cues(cut, timeline, target), target.fps, round(cut.duration * target.fps))


def mux_soft(film: Path, cut: CutPlan, timeline: list[Piece], target: Target, work: Path) -> None:
    """Add the soft track to a film written another way (ffmpeg's concat, moviepy), by stream copy."""
    found = soft_cues(cut, timeline, target)
    if not found:
        return
    subs, muxed = work / "captions.srt", work / f"captioned{film.suffix}"
    subs.write_text(srt(found), encoding="utf-8")
    ffmpeg(["-i", film, "-f", "srt", "-i", subs, "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text",
            "-metadata:s:s:0", "language=eng", "-movflags", "+faststart", *BITEXACT, muxed],
           "adding the subtitle track")
    os.replace(muxed, film)


def read_text_track(film: Path) -> list[tuple[float, float, str]]:
    """The film's subtitle track as (start, end, text) in seconds, read back from its samples."""
    track = tracks(film).get(b"sbtl")
    if track is None:
        return []
    out, at = [], 0
    with open(film, "rb") as f:
        for (offset, size), duration in zip(track.samples, track.durations):
            f.seek(offset)
            data = f.read(size)
            length = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 0
            if length:
                out.append((at / track.timescale, (at + duration) / track.timescale,
                            data[2:2 + length].decode("utf-8", "replace")))
            at += duration
    return out
