"""What a clip is made of, read from the ffmpeg that moviepy ships.

There is no ffprobe beside imageio-ffmpeg's binary, so this reads the stream
lines ``ffmpeg -i`` prints. Two clips can be joined by stream copy only when
their ``signature``s are equal.
"""

from __future__ import annotations

import hashlib
import re
import struct
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from ..format.mp4 import (VISUAL_ENTRY, avcc_body, decoder_config, descriptor, edits, handler, media_timescale,
                          movie_duration, read_moov, sample_entry, traks)
from .errors import ProbeError as ProbeError  # raised here; importers have long found it here


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class ClipInfo:
    duration: float
    vcodec: str
    profile: str
    width: int
    height: int
    pix_fmt: str
    fps: Fraction
    tbn: int
    acodec: str | None = None
    rate: int | None = None
    layout: str | None = None
    setup: str = ""  # digest of the H.264 decoder setup (avcC: SPS and PPS), when read from the boxes
    priming: int | None = None  # AAC samples the edit list skips at the start (None: unknown)
    reordered: bool | None = None  # frames are stored out of display order (B-frames); None: unknown
    frames: int | None = None  # pictures the clip holds, counted in its index (None: unknown)
    sound_frames: int | None = None  # AAC frames of its sound, counted in its index (None: unknown)

    @property
    def has_audio(self) -> bool:
        return self.acodec is not None

    @property
    def picture(self) -> float:
        """Seconds of picture: its frames, where they were counted (the sound may run longer)."""
        return float(self.frames / self.fps) if self.frames is not None and self.fps else self.duration

    @property
    def signature(self) -> tuple:
        """Everything that must match for a stream-copy concat to be sound."""
        return (self.vcodec, self.profile, self.width, self.height, self.pix_fmt, self.fps, self.tbn,
                self.setup, self.acodec, self.rate, self.layout)


def _fields(text: str) -> list[str]:
    """Split a stream description at top-level commas (not inside parentheses)."""
    out, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    out.append(current.strip())
    return out


def parse(text: str) -> ClipInfo:
    duration = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    video = re.search(r"Stream #\d+:\d+.*?: Video: (.*)", text)
    if not duration or not video:
        raise ProbeError("no video stream")
    h, m, s = duration.groups()
    fields = _fields(video.group(1))
    codec = fields[0].split()[0]
    profile = re.search(r"\(([^)]*)\)", fields[0])
    size = re.search(r"(\d{2,5})x(\d{2,5})", video.group(1))
    fps = re.search(r"([\d.]+)(k?) fps", video.group(1)) or re.search(r"([\d.]+)(k?) tbr", video.group(1))
    tbn = re.search(r"([\d.]+)(k?) tbn", video.group(1))
    if not size or not fps:
        raise ProbeError("cannot read the picture size or frame rate")
    info = dict(
        duration=int(h) * 3600 + int(m) * 60 + float(s), vcodec=codec, profile=profile.group(1) if profile else "",
        width=int(size.group(1)), height=int(size.group(2)), pix_fmt=fields[1].split("(")[0] if len(fields) > 1 else "",
        fps=_rate(fps.group(1), fps.group(2)), tbn=int(_rate(tbn.group(1), tbn.group(2))) if tbn else 0,
    )
    audio = re.search(r"Stream #\d+:\d+.*?: Audio: (.*)", text)
    if audio:
        afields = _fields(audio.group(1))
        rate = re.search(r"(\d+) Hz", audio.group(1))
        info.update(acodec=afields[0].split()[0], rate=int(rate.group(1)) if rate else None,
                    layout=afields[2] if len(afields) > 2 else None)
    return ClipInfo(**info)


def _rate(number: str, k: str) -> Fraction:
    value = Fraction(number) * (1000 if k else 1)
    # ffmpeg prints 29.97 for 30000/1001 and 23.98 for 24000/1001
    for exact in (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)):
        if abs(float(value) - float(exact)) < 0.006:
            return exact
    return value


@lru_cache(maxsize=1024)
def _probe(path: str, size: int, mtime: int) -> ClipInfo:
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path], capture_output=True, text=True)
    try:
        return parse(result.stderr)
    except ProbeError as exc:
        raise ProbeError(f"{path}: {exc}") from None


def probe(path: Path) -> ClipInfo:
    """A clip's facts: from its MP4 boxes when they can be read, else from ffmpeg."""
    st = path.stat()
    return read_mp4(path) or _probe(str(path), st.st_size, st.st_mtime_ns)


# -- reading MP4 boxes directly: no process per clip, and the codec's own setup --

_PROFILES = {66: "Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High 10", 122: "High 4:2:2",
             244: "High 4:4:4 Predictive"}
_LAYOUTS = {1: "mono", 2: "stereo"}


def read_mp4(path: Path) -> ClipInfo | None:
    """The facts ``probe`` gives, read from the MP4 boxes (``format/mp4``); None when the file
    is not an H.264 MP4 this reader understands (then ffmpeg is asked)."""
    moov = read_moov(path)
    if moov is None:
        return None
    try:
        duration = movie_duration(moov)
        found = [_track(moov, boxes) for boxes in traks(moov)]
    except (struct.error, IndexError, ValueError):
        return None
    video = next((t for t in found if t and t["kind"] == b"vide"), None)
    audio = next((t for t in found if t and t["kind"] == b"soun"), None)
    if duration is None or video is None or video.get("codec") != "h264" or not video.get("delta"):
        return None
    info = dict(duration=duration, vcodec="h264", profile=video["profile"], width=video["width"],
                height=video["height"], pix_fmt=video["pix_fmt"], fps=Fraction(video["timescale"], video["delta"]),
                tbn=video["timescale"], setup=video["setup"], reordered=video["reordered"],
                frames=video.get("frames"))
    if audio is not None:
        if audio.get("codec") != "aac":
            return None
        priming = audio["skip"] if audio["timescale"] == audio["rate"] else None
        info.update(acodec="aac", rate=audio["rate"], priming=priming, sound_frames=audio.get("frames"),
                    layout=_LAYOUTS.get(audio["channels"], f"{audio['channels']} channels"))
    return ClipInfo(**info)


def _track(data: bytes, found: dict) -> dict | None:
    if b"hdlr" not in found or b"mdhd" not in found or b"stbl" not in found:
        return None
    # the edit list's first media time (an AAC encoder's priming); -1 is an empty edit (a delay), not a skip
    skip = next((t for t in edits(data, found.get(b"elst"))[:4] if t >= 0), 0)
    track = {"kind": handler(data, found), "skip": skip, "timescale": media_timescale(data, found),
             "reordered": b"ctts" in found}  # composition offsets: decode order is not display order
    if b"stts" in found:  # the first run's sample length: the frame's, for a picture
        entries = data[found[b"stts"][0] + 16:found[b"stts"][0] + 24]
        track["delta"] = int.from_bytes(entries[4:8], "big") if len(entries) == 8 else 0
    if b"stsz" in found:  # version and flags, the size every sample shares, then the count
        count = data[found[b"stsz"][0] + 16:found[b"stsz"][0] + 20]
        track["frames"] = int.from_bytes(count, "big") if len(count) == 4 else None
    entry = sample_entry(data, found)
    if entry is not None:
        _sample_entry(entry, track)
    return track


def _sample_entry(entry: bytes, track: dict) -> None:
    """What the first sample description says (it describes the track)."""
    head = entry[8:VISUAL_ENTRY]
    if entry[4:8] in (b"avc1", b"avc3") and len(head) == 78:
        track.update(codec="h264", width=int.from_bytes(head[24:26], "big"), height=int.from_bytes(head[26:28], "big"))
        setup = avcc_body(entry)
        if setup:
            idc = setup[1]
            track.update(profile=_PROFILES.get(idc, str(idc)), setup=hashlib.sha256(setup).hexdigest()[:16],
                         pix_fmt="yuv420p" if idc <= 110 else "")
    elif entry[4:8] == b"mp4a" and len(head) >= 28:
        config = decoder_config(entry)  # MPEG-4 audio (object type 0x40) of the AAC-LC kind (1024-sample frames)
        specific = descriptor(config[13:], 0x05) if config and config[0] == 0x40 else None
        track.update(codec="aac" if specific and specific[0] >> 3 == 2 else "mp4a",
                     channels=int.from_bytes(head[16:18], "big"), rate=int.from_bytes(head[24:26], "big"))


# -- colours, for conforming a clip to its neighbours' --

@dataclass(frozen=True)
class Colours:
    """A clip's colour tags, as ffmpeg names them ("unknown" where untagged)."""

    range: str = "unknown"
    matrix: str = "unknown"
    primaries: str = "unknown"
    trc: str = "unknown"


def colours(path: Path) -> Colours:
    """The picture's colour tags, from ffmpeg's reading (``yuv420p(tv, bt709/bt709/bt709, progressive)``)."""
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                          capture_output=True, text=True).stderr
    found = re.search(r"Video: [^,]*, \w+\(([^)]*)\)", text)
    fields = [f.strip() for f in found.group(1).split(",")] if found else []
    tags: dict[str, str] = {}
    for f in fields:
        if f in ("tv", "pc"):
            tags["range"] = f
        elif "/" in f:
            tags["matrix"], tags["primaries"], tags["trc"] = (f.split("/") + ["unknown"] * 3)[:3]
        elif re.fullmatch(r"bt\w+|smpte\w+|fcc|ycgco|gbr", f):
            tags["matrix"] = tags["primaries"] = tags["trc"] = f
    return Colours(**tags)
