"""What a clip is made of, read from the ffmpeg that moviepy ships.

There is no ffprobe beside imageio-ffmpeg's binary, so this reads the stream
lines ``ffmpeg -i`` prints. Two clips can be joined by stream copy only when
their ``signature``s are equal.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from ..format.media import _boxes, _mvhd_duration
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
    """The facts ``probe`` gives, read from the MP4 boxes; None when the file
    is not an H.264 MP4 this reader understands (then ffmpeg is asked)."""
    try:
        with open(path, "rb") as f:
            size = path.stat().st_size
            moov = next(((b, e) for box, b, e in _boxes(f, 0, size) if box == b"moov"), None)
            if moov is None:
                return None
            tracks, duration = [], None
            for box, body, end in _boxes(f, *moov):
                if box == b"mvhd":
                    duration = _mvhd_duration(f, body)
                elif box == b"trak":
                    tracks.append(_track(f, body, end))
    except (OSError, ValueError, IndexError):
        return None
    video = next((t for t in tracks if t and t["kind"] == b"vide"), None)
    audio = next((t for t in tracks if t and t["kind"] == b"soun"), None)
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


def _children(f, body: int, end: int) -> dict[bytes, tuple[int, int]]:
    return {box: (b, e) for box, b, e in _boxes(f, body, end)}


def _track(f, body: int, end: int) -> dict | None:
    boxes = _children(f, body, end)
    mdia = boxes.get(b"mdia")
    if mdia is None:
        return None
    skip = _edit_skip(f, boxes)
    parts = _children(f, *mdia)
    if b"hdlr" not in parts or b"mdhd" not in parts or b"minf" not in parts:
        return None
    f.seek(parts[b"hdlr"][0] + 8)
    track = {"kind": f.read(4), "skip": skip}
    f.seek(parts[b"mdhd"][0])
    header = f.read(32)
    track["timescale"] = int.from_bytes(header[20:24] if header[0] == 1 else header[12:16], "big")
    stbl = _children(f, *parts[b"minf"]).get(b"stbl")
    if stbl is None:
        return None
    tables = _children(f, *stbl)
    if b"stts" in tables:
        f.seek(tables[b"stts"][0] + 8)
        entries = f.read(8)
        track["delta"] = int.from_bytes(entries[4:8], "big") if len(entries) == 8 else 0
    track["reordered"] = b"ctts" in tables  # composition offsets: decode order is not display order
    if b"stsz" in tables:
        f.seek(tables[b"stsz"][0] + 8)  # version and flags, the size every sample shares, then the count
        count = f.read(4)
        track["frames"] = int.from_bytes(count, "big") if len(count) == 4 else None
    if b"stsd" in tables:
        _sample_entry(f, tables[b"stsd"][0] + 8, tables[b"stsd"][1], track)
    return track


def _edit_skip(f, boxes: dict) -> int:
    """Media time the track's edit list starts at (an AAC encoder's priming), in its timescale."""
    edts = boxes.get(b"edts")
    elst = _children(f, *edts).get(b"elst") if edts else None
    if elst is None:
        return 0
    f.seek(elst[0])
    data = f.read(min(elst[1] - elst[0], 8 + 20 * 4))
    version, count = data[0], int.from_bytes(data[4:8], "big")
    step = 20 if version == 1 else 12
    for n in range(count):
        entry = data[8 + n * step: 8 + (n + 1) * step]
        media_time = int.from_bytes(entry[8:16] if version == 1 else entry[4:8], "big", signed=True)
        if media_time >= 0:  # -1 is an empty edit (a delay), not a skip
            return media_time
    return 0


def _sample_entry(f, start: int, end: int, track: dict) -> None:
    for fourcc, body, entry_end in _boxes(f, start, end):
        f.seek(body)
        head = f.read(78)
        if fourcc in (b"avc1", b"avc3") and len(head) == 78:
            track.update(codec="h264", width=int.from_bytes(head[24:26], "big"),
                         height=int.from_bytes(head[26:28], "big"))
            avcc = _children(f, body + 78, entry_end).get(b"avcC")
            if avcc:
                f.seek(avcc[0])
                setup = f.read(avcc[1] - avcc[0])
                idc = setup[1]
                track.update(profile=_PROFILES.get(idc, str(idc)), setup=hashlib.sha256(setup).hexdigest()[:16],
                             pix_fmt="yuv420p" if idc <= 110 else "")
        elif fourcc == b"mp4a" and len(head) >= 28:
            track.update(codec="aac" if _is_aac_lc(f, body + 28, entry_end) else "mp4a",
                         channels=int.from_bytes(head[16:18], "big"), rate=int.from_bytes(head[24:26], "big"))
        return  # the first entry describes the track


def _is_aac_lc(f, start: int, end: int) -> bool:
    """MPEG-4 audio (object type 0x40) of the AAC-LC kind (1024-sample frames)."""
    esds = _children(f, start, end).get(b"esds")
    if esds is None:
        return False
    f.seek(esds[0] + 4)
    data = f.read(esds[1] - esds[0] - 4)
    config = _descriptor(data, 0x04)
    if config is None or not config or config[0] != 0x40:
        return False
    specific = _descriptor(config[13:], 0x05)
    return bool(specific) and specific[0] >> 3 == 2


def _descriptor(data: bytes, tag: int) -> bytes | None:
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
            found = _descriptor(body[skip:], tag)
            if found is not None:
                return found
        i += length
    return None


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
