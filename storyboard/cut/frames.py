"""One frame of a clip, as a PNG: the same clip and time give the same bytes.

Frames are counted, not sought: frame ``round(seconds × fps)`` of the decoded
picture (the last one the clip has, if it is shorter), converted to RGB by
ffmpeg with its bit-exact flags, so the PNG depends on the clip alone."""

from __future__ import annotations

from pathlib import Path

from ..plan.frames import last_frame_number
from .ffmpeg_tools import ffmpeg
from .clips import held_frames
from .probe import probe


def extract_frame(clip: Path, number: int, dest: Path) -> Path:
    """Frame ``number`` of ``clip`` (or its last, if it has fewer) to ``dest`` as an RGB PNG."""
    ffmpeg(["-i", clip, "-map", "0:v:0", "-vf", f"trim=end_frame={number + 1}", "-fps_mode", "passthrough",
            "-update", "1", "-c:v", "png", "-pix_fmt", "rgb24", "-fflags", "+bitexact", "-flags:v", "+bitexact",
            "-map_metadata", "-1", "-f", "image2", dest], "taking a frame of a clip")
    if not dest.exists() or dest.stat().st_size == 0:
        from .timeline import StitchError

        raise StitchError(f"{clip.name}: no frame could be decoded")
    return dest


def trim_clip(clip: Path, planned: float, dest: Path) -> Path:
    """``clip`` cut to exactly its planned length in frames (H.264, AAC when it has sound), made the
    same way every time: one thread, bit-exact flags, so the same clip gives the same bytes. A clip
    a little short has its last frame held and its sound padded with silence, as the cut does."""
    info = probe(clip)
    frames = max(1, last_frame_number(planned, info.fps) + 1)
    held = ["-vf", "tpad=stop_mode=clone:stop=-1", *(["-af", "apad"] if info.has_audio else [])] \
        if held_frames(info, frames) else []  # (a clip long enough is made as it always was: same bytes)
    args = ["-i", clip, "-map", "0:v:0", "-map", "0:a:0?", *held, "-frames:v", frames, "-t", f"{planned:.6f}",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p", "-threads", "1",
            "-c:a", "aac", "-b:a", "160k", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1", "-map_chapters", "-1", "-f", "mp4", dest]
    ffmpeg(args, "trimming a clip to its planned length")
    return dest
