"""The clips the emulator returns: real MP4s (H.264, plus AAC when the job has
sound) of the requested aspect ratio, a little longer than asked, as the real
service returns them, with the take, the model and the prompt burnt in."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import Callable

SIZES = {"16:9": (320, 180), "9:16": (180, 320), "1:1": (240, 240)}
EXTRA_SECONDS = 0.04  # generated clips run a little long, as the real ones do


def caption_lines(body: dict, model: str, variant: int) -> tuple[str, ...]:
    """What the emulator burns into a clip: the take as it counts it (the request's Nth arrival: a take is
    the same request sent again) and the model, then the prompt (or the beats). The shot id is not drawn:
    the API never receives it, and the render sends nothing the real API would not get."""
    prompt = str(body.get("prompt") or " / ".join(str(b.get("prompt", "")) for b in body.get("multi_prompt") or []
                                                  if isinstance(b, dict)))
    return (f"take {variant + 1} · {model.split('/', 1)[-1]}", *textwrap.wrap(prompt, 44)[:3])


def caption_png(width: int, height: int, lines: tuple[str, ...]) -> bytes:
    """The caption as a transparent PNG the size of the picture: text on a dark band at the top."""
    from io import BytesIO

    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=max(9, width // 28))
    except TypeError:  # Pillow without FreeType sizes
        font = ImageFont.load_default()
    step = int(getattr(font, "size", 10) * 1.3)
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 6, width, 10 + step * len(lines)), fill=(0, 0, 0, 170))
    for n, line in enumerate(lines):
        draw.text((6, 8 + n * step), line, fill=(255, 255, 255, 255), font=font)
    out = BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def make_clip(width: int, height: int, seconds: float, sound: bool, hue: int, variant: int = 0,
              caption: tuple[str, ...] = ()) -> bytes:
    """A real MP4 made by the ffmpeg that moviepy ships. ``variant`` > 0 (a
    request sent again: another take) turns the hue further and marks the
    picture with a white block whose place and width tell the variant.
    ``caption``: lines burnt in at the top (``caption_lines``)."""
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
        if caption:
            (Path(tmp) / "caption.png").write_bytes(caption_png(width, height, caption))
            cmd += ["-i", str(Path(tmp) / "caption.png")]
            picture = f"[0:v]{picture}[bg];[bg][{2 if sound else 1}:v]overlay=0:0[v]"
            cmd += ["-filter_complex", picture, "-map", "[v]"] + (["-map", "1:a"] if sound else [])
        else:
            cmd += ["-vf", picture]
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
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
                 shorter: float = 0.0, model: str = "") -> bytes:
        width, height = SIZES.get(body.get("aspect_ratio", "16:9"), SIZES["16:9"])
        seconds = float(body.get("duration") or video_length() or 5) - shorter  # shorter: a bad clip, on request
        sound = bool(body.get("sound")) or bool(body.get("video") and body.get("keep_original_sound", True))
        hue = int(hashlib.sha256(str(body.get("prompt", "")).encode()).hexdigest(), 16) % 8
        caption = caption_lines(body, model, variant)
        key = (width, height, seconds, sound, hue, variant, caption)
        with self.lock:
            maker = self.locks.setdefault(key, threading.Lock())
        with maker:  # one ffmpeg per distinct clip, however many ask at once
            if key not in self.clips:
                self.clips[key] = make_clip(width, height, round(seconds + EXTRA_SECONDS, 3), sound, hue, variant,
                                            caption)
        return self.clips[key]
