"""Stitching speed and memory, side by side with moviepy, in one run.

Makes 20 clips of 5 s at 1280x720, 24 fps, with sound (H.264 without B-frames,
so that hard cuts can be joined by stream copy), then times:
  1. moviepy concatenate_videoclips(...).write_videofile(...)   vs  storyboard stitch, hard cuts
  2. moviepy with 0.5 s crossfades (method="compose")            vs  the ffmpeg engine, same crossfades
and prints each ratio (targets: hard cuts >= 50x, crossfades >= 4x). Then the
peak memory of `storyboard stitch` (the process and its ffmpeg children) for
10 and 40 clips, with hard cuts and with crossfades: it must not grow with
the number of clips.

    python benchmarks/stitch.py [--clips 20] [--skip-moviepy]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from storyboard.store.cache import ClipCache, cache_dir
from storyboard.cut.probe import ffmpeg_exe
from storyboard.plan.project import compile_project

SIZE, FPS, SECONDS = "1280x720", 24, 5


def make_clips(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(n):
        path = folder / f"clip{i:02d}.mp4"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={SIZE}:r={FPS}:d={SECONDS + 0.04}",
                        "-f", "lavfi", "-i", f"sine=f={200 + 20 * i}:r=48000:d={SECONDS + 0.04}",
                        # No B-frames: only clips stored in display order are cut by stream copy
                        # (see storyboard.cut.ffmpeg_engine.copyable); others are conformed, frame-exactly.
                        "-vf", f"hue=h={i * 17}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-bf", "0",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", str(path)], check=True)
        clips.append(path)
    return clips


def project(folder: Path, clips: list[Path], crossfade: float | None) -> Path:
    """A preview-provider project whose cache already holds ``clips``."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = "".join(f"  - {{id: s{i:02d}, prompt: shot {i}, duration: {SECONDS}}}\n" for i in range(len(clips)))
    transition = f"  transition: {{type: crossfade, duration: {crossfade}}}\n" if crossfade else ""
    story = folder / "storyboard.yaml"
    story.write_text(f"version: 1\nshots:\n{shots}cut:\n  output: film.mp4\n  loudness: null\n{transition}")
    compiled = compile_project(str(story), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for cs, clip in zip(compiled.plan.cut.shots, clips):
        cache.put(cs.key, clip, duration=SECONDS, model="m", provider="preview", task_id="bench")
    return story


def run_stitch(story: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, the process or any ffmpeg child) of `storyboard stitch`."""
    code = (
        "import resource, sys, time\n"
        "from storyboard.cli import main\n"
        "t = time.perf_counter()\n"
        f"code = main(['stitch', {str(story)!r}, '--provider', 'preview'])\n"
        "wall = time.perf_counter() - t\n"
        # VmHWM, not RUSAGE_SELF: Linux carries the parent's peak across fork+exec into ru_maxrss.
        "own = int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print('RESULT', wall, max(own, kids) / 1024, code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    _, wall, rss, code = out.strip().splitlines()[-1].split()
    assert code == "0", out
    return float(wall), float(rss)


def moviepy_cut(clips: list[Path], out: Path, crossfade: float | None) -> float:
    from moviepy import VideoFileClip, concatenate_videoclips, vfx

    start = time.perf_counter()
    opened = [VideoFileClip(str(c)) for c in clips]
    try:
        if crossfade:
            parts = [opened[0]] + [c.with_effects([vfx.CrossFadeIn(crossfade)]) for c in opened[1:]]
            film = concatenate_videoclips(parts, method="compose", padding=-crossfade)
        else:
            film = concatenate_videoclips(opened)
        film.write_videofile(str(out), fps=FPS, codec="libx264", audio_codec="aac", audio_fps=48000, logger=None)
    finally:
        for c in opened:
            c.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--skip-moviepy", action="store_true", help="only the storyboard side (and memory)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="storyboard-bench-"))
    results = {}
    try:
        t = time.perf_counter()
        clips = make_clips(work / "clips", max(args.clips, 20))
        print(f"made {len(clips)} clips of {SECONDS} s at {SIZE} {FPS} fps in {time.perf_counter() - t:.1f} s")
        n = args.clips
        for label, crossfade in (("hard cuts", None), ("0.5 s crossfades", 0.5)):
            story = project(work / f"film-{n}-{bool(crossfade)}", clips[:n], crossfade)
            ours, _ = run_stitch(story)
            line = f"{label:>17}, {n} clips: storyboard stitch {ours:6.2f} s"
            if not args.skip_moviepy:
                theirs = moviepy_cut(clips[:n], work / f"moviepy-{bool(crossfade)}.mp4", crossfade)
                line += f" | moviepy {theirs:6.2f} s | {theirs / ours:5.1f}x faster"
                results[label] = theirs / ours
            print(line, flush=True)
        for label, crossfade in (("hard cuts", None), ("0.5 s crossfades", 0.5)):
            peaks = []
            for count in (10, 40):
                chosen = [clips[i % len(clips)] for i in range(count)]
                story = project(work / f"mem-{count}-{bool(crossfade)}", chosen, crossfade)
                peaks.append(run_stitch(story)[1])
            print(f"peak memory, {label}: 10 clips {peaks[0]:.0f} MiB, 40 clips {peaks[1]:.0f} MiB "
                  f"(x{peaks[1] / peaks[0]:.2f})")
        if results:
            print(json.dumps({k: round(v, 1) for k, v in results.items()}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
