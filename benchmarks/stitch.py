"""Stitching speed and memory, side by side with moviepy, in one run, on clips
that look like a provider's: distinct picture and sound per shot, H.264 High
with B-frames (x264's default settings), AAC 48 kHz, 0.04 s longer than
planned, 20 clips of 5 s at 1280x720, 24 fps. With the default cut settings
(loudness levelled to -16 LUFS) it times, against moviepy's concatenation of
the same clips:
  1. the first cut of fresh clips (nothing cut before: clips to smart-render,
     loudness to measure, every stretch of sound to encode)  target >= 10x;
     also the first cut after a render, which readies each clip as it lands
  2. a re-cut (everything cut once: e.g. another take chosen, two shots swapped)  target >= 50x
  3. a re-cut after one shot changed: about one shot's work
  4. 0.5 s crossfades against moviepy's                              target >= 4x
and the same three with a music bed looping under the film (against moviepy's
cut without it: its sound is a small part of its time),
and the same first cut and re-cut with `loudness: null`, and with clips
without B-frames; and a first cut where every sixth clip has another H.264
setup (another pipeline's colour tags), so it is conformed in full. Then the peak memory of `storyboard stitch` (the process and
its ffmpeg children) for 10 and 40 clips: it must not grow with the number of
clips.

    python benchmarks/stitch.py [--clips 20] [--skip-moviepy]
"""

from __future__ import annotations

import argparse
import json
import os
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
SOURCES = ["testsrc2", "mandelbrot", "life=s={size}:mold=10:r={fps}:ratio=0.1:death_color=#C83232:life_color=#00ff00",
           "cellauto=s={size}:rule=110", "rgbtestsrc", "testsrc"]


def make_clips(folder: Path, n: int, bframes: bool = True, salt: int = 0, colours: str = "bt709") -> list[Path]:
    """Distinct clips: other pictures (generator, hue, motion) and other sounds (pitch, noise) per clip.
    Every clip is tagged with the same colours, as one provider's pipeline tags them: left to the
    generators, testsrc's clips would say bt470bg and the others nothing, so their H.264 setups
    (SPS) would differ and those clips would be conformed, which a provider's clips never need."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(n):
        k = i + salt
        path = folder / f"clip{k:02d}{'' if bframes else '-nob'}{'' if colours == 'bt709' else '-' + colours}.mp4"
        source = SOURCES[k % len(SOURCES)].format(size=SIZE, fps=FPS)
        picture = source if "=" in source and "s=" in source else f"{source}=s={SIZE}:r={FPS}"
        length = SECONDS + 0.04
        # x264's own defaults (preset medium: B-frames, 3 of them, adaptive) unless told otherwise
        encode = ["-c:v", "libx264", "-pix_fmt", "yuv420p"] + ([] if bframes else ["-preset", "veryfast", "-bf", "0"])
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"{picture}",
                        "-f", "lavfi", "-i", f"sine=f={180 + 37 * k}:r=48000:d={length}",
                        "-f", "lavfi", "-i", f"anoisesrc=a={0.02 + 0.01 * (k % 5)}:r=48000:d={length}:seed={k}",
                        "-filter_complex", f"[0:v]hue=h={k * 29},scale={SIZE.replace('x', ':')},fps={FPS},"
                        f"trim=duration={length},setparams=range=tv:color_primaries={colours}:color_trc={colours.replace('bt470bg', 'smpte170m')}:"
                        f"colorspace={colours}[v];[1:a][2:a]amix=inputs=2,volume={0.5 + 0.1 * (k % 7)}[a]",
                        "-map", "[v]", "-map", "[a]", *encode, "-c:a", "aac", "-ar", "48000", "-ac", "2",
                        "-t", f"{length}", str(path)], check=True)
        clips.append(path)
    return clips


def project(folder: Path, clips: list[Path], crossfade: float | None, levelled: bool = True,
            music: bool = False) -> Path:
    """A preview-provider project whose cache already holds ``clips``; with ``music``, a 30 s bed
    that loops under the whole film, ducked under the shots."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = "".join(f"  - {{id: s{i:02d}, prompt: shot {i}, duration: {SECONDS}}}\n" for i in range(len(clips)))
    transition = f"  transition: {{type: crossfade, duration: {crossfade}}}\n" if crossfade else ""
    loudness = "" if levelled else "  loudness: null\n"
    bed = ""
    if music:
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=330:r=44100:d=30",
                        "-f", "lavfi", "-i", "sine=f=415:r=44100:d=30", "-filter_complex", "amix=inputs=2",
                        "-c:a", "aac", "-ac", "2", str(folder / "theme.m4a")], check=True)
        bed = "  music: {file: theme.m4a, volume: 0.5, duck: 0.3, fade_in: 1, fade_out: 2, loop: true}\n"
    story = folder / "storyboard.yaml"
    story.write_text(f"version: 1\nshots:\n{shots}cut:\n  output: film.mp4\n{loudness}{transition}{bed}")
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
    # As installed: Python keeps compiled bytecode (a machine that sets PYTHONDONTWRITEBYTECODE
    # would compile the package again at every command, about 0.15 s that no user pays).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
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


def ready_all(story: Path) -> None:
    """What `storyboard render` does with each clip as it lands, while the provider renders the
    others (untimed: a real render waits minutes on the provider meanwhile)."""
    from storyboard.cut.ready import ready_clip

    compiled = compile_project(str(story), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for cs in compiled.plan.cut.shots:
        ready_clip(cache.get(cs.key).path, cs.duration, compiled.plan.cut, cache)


def replace_clip(story: Path, index: int, clip: Path) -> None:
    """Shot ``index`` gets another clip (as if its take changed): the others stay cut."""
    compiled = compile_project(str(story), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    cache.put(compiled.plan.cut.shots[index].key, clip, duration=SECONDS, model="m", provider="preview",
              task_id="bench-2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--skip-moviepy", action="store_true", help="only the storyboard side (and memory)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="storyboard-bench-"))
    n = args.clips
    ratios = {}
    try:
        t = time.perf_counter()
        clips = make_clips(work / "clips", n)
        plain = make_clips(work / "clips", n, bframes=False)
        other = make_clips(work / "clips", 1, salt=n)[0]
        print(f"made {2 * n + 1} clips of {SECONDS + 0.04} s at {SIZE} {FPS} fps in {time.perf_counter() - t:.1f} s")
        theirs = None if args.skip_moviepy else moviepy_cut(clips, work / "moviepy.mp4", None)
        if theirs:
            print(f"moviepy, {n} clips, hard cuts: {theirs:.2f} s")

        def line(label: str, ours: float, key: str | None = None) -> None:
            text = f"{label:<52} {ours:6.2f} s"
            if theirs:
                text += f" | {theirs / ours:6.1f}x moviepy"
                if key:
                    ratios[key] = round(theirs / ours, 1)
            print(text, flush=True)

        for what, chosen, levelled in (("B-frames, levelled (default)", clips, True),
                                       ("B-frames, loudness: null", clips, False),
                                       ("no B-frames, levelled", plain, True),
                                       ("no B-frames, loudness: null", plain, False)):
            story = project(work / f"film-{what}", chosen, None, levelled)
            tag = "" if what.startswith("B-frames, levelled") else f" ({what})"
            line(f"first cut, {what}", run_stitch(story)[0], "first cut" + tag)
            line(f"re-cut, {what}", min(run_stitch(story)[0] for _ in range(3)), "re-cut" + tag)
            if chosen is clips and levelled:
                ready_story = project(work / "film-readied", clips, None)
                ready_all(ready_story)
                line("first cut after a render that readied each clip as it landed", run_stitch(ready_story)[0],
                     "first cut after the render")
                replace_clip(story, n // 2, other)
                line("re-cut after one shot changed, " + what, run_stitch(story)[0], "one shot changed")
        story = project(work / "film-music", clips, None, music=True)
        line("first cut, music bed under the film", run_stitch(story)[0], "first cut (music)")
        line("re-cut, music bed", min(run_stitch(story)[0] for _ in range(3)), "re-cut (music)")
        replace_clip(story, n // 2, other)
        line("re-cut after one shot changed, music bed", run_stitch(story)[0], "one shot changed (music)")
        # Not what one provider returns, but what a film mixing two pipelines has: every sixth clip
        # tagged with other colours, so its H.264 setup differs and it is conformed in full.
        mixed = [make_clips(work / "clips", 1, salt=i, colours="bt470bg")[0] if i % 6 == 5 else c
                 for i, c in enumerate(clips)]
        odd = sum(m is not c for m, c in zip(mixed, clips))
        story = project(work / "film-mixed", mixed, None)
        line(f"first cut, {odd} of {n} clips of another setup (conformed)", run_stitch(story)[0], "first cut (mixed setups)")
        story = project(work / "film-crossfades", clips, 0.5)
        first = run_stitch(story)[0]
        again = min(run_stitch(story)[0] for _ in range(2))
        theirs_x = None if args.skip_moviepy else moviepy_cut(clips, work / "moviepy-x.mp4", 0.5)
        print(f"{'0.5 s crossfades, first cut / re-cut':<52} {first:6.2f} s / {again:.2f} s"
              + (f" | moviepy {theirs_x:.2f} s: {theirs_x / first:.1f}x / {theirs_x / again:.1f}x" if theirs_x else ""))
        if theirs_x:
            ratios["crossfades, first cut"] = round(theirs_x / first, 1)
        for label, crossfade in (("hard cuts", None), ("0.5 s crossfades", 0.5)):
            peaks = []
            for count in (10, 40):
                chosen = [clips[i % len(clips)] for i in range(count)]
                story = project(work / f"mem-{count}-{bool(crossfade)}", chosen, crossfade)
                peaks.append(run_stitch(story)[1])
            print(f"peak memory, {label}: 10 clips {peaks[0]:.0f} MiB, 40 clips {peaks[1]:.0f} MiB "
                  f"(x{peaks[1] / peaks[0]:.2f})")
        if ratios:
            print(json.dumps(ratios))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
