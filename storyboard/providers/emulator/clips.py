"""The clips the emulator returns: real MP4s (H.264, plus AAC when the job has
sound) of the requested aspect ratio, a little longer than asked, as the real
service returns them."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable

from .elements import marks_filter, sent_ids

SIZES = {"16:9": (320, 180), "9:16": (180, 320), "1:1": (240, 240)}
EXTRA_SECONDS = 0.04  # generated clips run a little long, as the real ones do


def make_clip(width: int, height: int, seconds: float, sound: bool, hue: int, variant: int = 0,
              elements: tuple[int, ...] = ()) -> bytes:
    """A real MP4 made by the ffmpeg that moviepy ships. ``variant`` > 0 (a
    request sent again: another take) turns the hue further and marks the
    picture with a white block whose place and width tell the variant."""
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r=24:d={seconds}"]
        if sound:
            cmd += ["-f", "lavfi", "-i", f"sine=f={220 + 55 * hue}:r=48000:d={seconds}"]
        picture = f"hue=h={(hue + 3 * variant) * 45}"
        if variant:
            w, h = width // 8, height // 6
            picture += (f",drawbox=x={(variant - 1) % 8 * w}:y={height - h}:w={w}:h={h}:color=white:t=fill"
                        f",drawbox=x=0:y=0:w={min(width, 4 * variant)}:h=4:color=white:t=fill")
        picture += marks_filter(elements, width)  # the element ids sent, readable by tests (emulator/elements.py)
        cmd += ["-vf", picture, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-threads", "1", "-fflags", "+bitexact", "-map_metadata", "-1"]
        if sound:
            cmd += ["-c:a", "aac", "-b:a", "64k", "-ac", "2", "-shortest"]
        subprocess.run(cmd + [str(out)], check=True, capture_output=True)
        return out.read_bytes()


class ClipMaker:
    """The clip for a request body: its aspect ratio, length and sound, and a
    hue from its prompt; a body sent again (another take) gets another
    picture. Each distinct clip is made once, however many ask."""

    def __init__(self) -> None:
        self.clips: dict[tuple, bytes] = {}
        self.locks: dict[tuple, threading.Lock] = {}
        self.lock = threading.Lock()

    def clip_for(self, body: dict, video_length: Callable[[], float | None], variant: int = 0,
                 shorter: float = 0.0) -> bytes:
        width, height = SIZES.get(body.get("aspect_ratio", "16:9"), SIZES["16:9"])
        seconds = float(body.get("duration") or video_length() or 5) - shorter  # shorter: a bad clip, on request
        sound = bool(body.get("sound")) or bool(body.get("video") and body.get("keep_original_sound", True))
        hue = int(hashlib.sha256(str(body.get("prompt", "")).encode()).hexdigest(), 16) % 8
        key = (width, height, seconds, sound, hue, variant, sent_ids(body))
        with self.lock:
            maker = self.locks.setdefault(key, threading.Lock())
        with maker:  # one ffmpeg per distinct clip, however many ask at once
            if key not in self.clips:
                self.clips[key] = make_clip(width, height, round(seconds + EXTRA_SECONDS, 3), sound, hue, variant,
                                            key[-1])
        return self.clips[key]
