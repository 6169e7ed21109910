"""The film joined by ffmpeg: the way back when ``film.write_film`` declines its parts.

Each part that is only the first samples of a file is first cut out by stream
copy (the head of a smart-rendered clip, a clip without B-frames trimmed to its
frames, whole AAC frames of a stretch of sound); the parts are then read by the
concat demuxer and muxed with the index at the start. The picture track takes
its setup from the first part, so a copy of that part is given every part's
parameter sets. The concat demuxer does not keep the first part's edit list:
its sound's priming frame plays too, so the whole sound is 21 ms later than
the direct writer's (still within a frame of the picture at 24 fps)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .avcc import AvcC, read_avcc, write_avcc
from .ffmpeg_tools import BITEXACT
from .mp4 import Part, tracks
from .timeline import AUDIO_RATE, StitchError

BATCH = 8  # parts cut out per ffmpeg process


def mux(out: Path, picture: list[Part], setup: AvcC | None, sound: list[Part], duration: float, work: Path,
        run) -> None:
    """``picture`` and ``sound`` joined into ``out`` by ffmpeg (``run``), as long as ``duration``."""
    video = _concat(work, "picture", _video_files(picture, setup, work, run))
    audio = _concat(work, "sound", _audio_files(sound, work, run))
    both = [*video, *audio, "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-t", f"{duration:.6f}"]
    try:  # the index in room kept for it at the start: playable while it downloads, written once
        run([*both, "-moov_size", moov_room(duration), *BITEXACT, "-f", "mp4", out], "muxing the film")
    except StitchError:  # more than the room: written after the media, then moved to the front
        run([*both, "-movflags", "+faststart", *BITEXACT, "-f", "mp4", out], "muxing the film")


def moov_room(duration: float) -> int:
    """Bytes to keep for the film's index: about 40 per video frame and audio frame, and a margin."""
    frames = duration * 120 + duration * AUDIO_RATE / 1024
    return int(65536 + 40 * frames)


def _concat(work: Path, name: str, files: list[Path]) -> list:
    listing = work / f"{name}.txt"
    listing.write_text("".join(f"file '{f.as_posix()}'\n" for f in files))
    return ["-f", "concat", "-safe", 0, "-i", listing]


def _whole(part: Part, handler: bytes) -> bool:
    if part.count is None:
        return True
    track = tracks(part.path).get(handler)
    return track is not None and part.count >= len(track.samples)


def _video_files(parts: list[Part], setup: AvcC | None, work: Path, run) -> list[Path]:
    files = [p.path if _whole(p, b"vide") else work / f"picture{n:04d}.mp4" for n, p in enumerate(parts)]
    _cut_out([(p.path, p.count, f) for p, f in zip(parts, files) if f != p.path], "v", run)
    if setup is not None and read_avcc(files[0]) != setup:
        first = work / "first-part.mp4"
        shutil.copyfile(files[0], first)
        write_avcc(first, setup)
        files[0] = first
    return files


def _audio_files(parts: list[Part], work: Path, run) -> list[Path]:
    if len(parts) == 1 and _whole(parts[0], b"soun"):
        return [parts[0].path]
    jobs = [(p.path, p.count if p.count is not None else len(tracks(p.path)[b"soun"].samples),
             work / f"sound{n:04d}.m4a") for n, p in enumerate(parts)]
    _cut_out(jobs, "a", run)
    return [made for _, _, made in jobs]


def _cut_out(jobs: list[tuple[Path, int, Path]], kind: str, run) -> None:
    batches = [jobs[i:i + BATCH] for i in range(0, len(jobs), BATCH)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda batch: _cut_batch(batch, kind, jobs[0][2] if jobs else None, run), batches))


def _cut_batch(batch: list, kind: str, first: Path | None, run) -> None:
    inputs, outputs = [], []
    for i, (path, count, made) in enumerate(batch):
        plays_priming = kind == "a" and made != first
        # After the first, each sound part's priming frame plays, so its timeline counts it too: no
        # edit list, timestamps from 0, and the film's timeline agrees with its samples at every join.
        inputs += (["-ignore_editlist", 1] if plays_priming else []) + ["-i", path]
        outputs += ["-map", f"{i}:{kind}:0", "-c", "copy", f"-frames:{kind}", count,
                    *(["-use_editlist", 0] if plays_priming else []), *BITEXACT, made]
    run([*inputs, *outputs], "cutting out the parts of the film")
