"""What a clip is made of, read from the ffmpeg that moviepy ships.

There is no ffprobe beside imageio-ffmpeg's binary, so this reads the stream
lines ``ffmpeg -i`` prints. Two clips can be joined by stream copy only when
their ``signature``s are equal.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path


class ProbeError(Exception):
    pass


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

    @property
    def has_audio(self) -> bool:
        return self.acodec is not None

    @property
    def signature(self) -> tuple:
        """Everything that must match for a stream-copy concat to be sound."""
        return (self.vcodec, self.profile, self.width, self.height, self.pix_fmt, self.fps, self.tbn,
                self.acodec, self.rate, self.layout)


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
    st = path.stat()
    return _probe(str(path), st.st_size, st.st_mtime_ns)
