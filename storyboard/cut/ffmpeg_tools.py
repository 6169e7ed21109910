"""What both engines take from the ffmpeg binary: running it, and measuring
the film's loudness (a static gain, the same in both engines)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .probe import ffmpeg_exe
from .timeline import StitchError

BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1", "-map_chapters", "-1"]


def ffmpeg(args: list, what: str) -> str:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *[str(a) for a in args]]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-4:])
        raise StitchError(f"ffmpeg failed while {what}:\n{tail}")
    return result.stderr


def loudness_gain(audio: Path, target: float | None) -> float:
    """dB to bring the mix to ``target`` LUFS, no further than a true peak of -1 dBTP."""
    if target is None:
        return 0.0
    text = ffmpeg(["-i", audio, "-af", "ebur128=peak=true", "-f", "null", "-"], "measuring loudness")
    summary = text.rsplit("Summary:", 1)[-1]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if not integrated or integrated.group(1) == "-inf" or float(integrated.group(1)) <= -69.9:
        return 0.0  # silence: nothing to bring up
    gain = target - float(integrated.group(1))
    if peak and peak.group(1) != "-inf":
        gain = min(gain, -1.0 - float(peak.group(1)))
    return round(gain, 2)


def audio_length(path: Path) -> float:
    """Seconds of sound in ``path`` (a music bed), from ffmpeg's own reading."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True)
    m = re.search(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", result.stderr)
    if not m:
        raise StitchError(f"{path}: cannot tell how long the music is")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
