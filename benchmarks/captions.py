"""Captions' cost in the cut, side by side in one run, on the clips of ``stitch.py``
(provider-like: H.264 with B-frames, AAC, 1280x720, 24 fps, 5 s each).

The same 20 clips are cut as two films: without captions, and with a caption
and two lines of dialogue on every shot (soft: the default). It times
  1. the first cut of each (nothing cut before)          target: captioned <= 1.10x plain
  2. a re-cut of each (best of 5, taken in turn)          target: captioned <= 1.10x plain
  3. a re-cut after a caption changed: nothing encoded, about a re-cut
  4. the first cut with `cut.captions: burn` and its re-cut: what burning costs
     (the picture encoded once more), for the README.

    python benchmarks/captions.py [--clips 20] [--crossfade 0.5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from stitch import SECONDS, make_clips, run_stitch  # noqa: E402  (the stitch benchmark's clips and runner)

from storyboard.plan.project import compile_project  # noqa: E402
from storyboard.store.cache import ClipCache, cache_dir  # noqa: E402


def project(folder: Path, clips: list[Path], captions: str | None, crossfade: float | None,
            word: str = "sea") -> Path:
    """A preview project whose cache holds ``clips``; with ``captions`` (a mode), every shot speaks."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    for i in range(len(clips)):
        shot = f"  - id: s{i:02d}\n    prompt: shot {i}\n    duration: {SECONDS}\n"
        if captions:
            shot += (f"    caption: The {word}, part {i}\n    dialogue:\n"
                     f"      - {{speaker: Ann, line: Line one of shot {i}., start: 0.5, end: 2}}\n"
                     f"      - {{speaker: Bob, line: And line two of shot {i}., start: 2.5, end: 4.5}}\n")
        shots.append(shot)
    cut = "cut:\n  output: film.mp4\n"
    if crossfade:
        cut += f"  transition: {{type: crossfade, duration: {crossfade}}}\n"
    cut += f"  captions: {captions or 'off'}\n"
    story = folder / "storyboard.yaml"
    story.write_text("version: 1\nshots:\n" + "".join(shots) + cut)
    compiled = compile_project(str(story), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for cs, clip in zip(compiled.plan.cut.shots, clips):
        cache.put(cs.key, clip, duration=SECONDS, model="m", provider="preview", task_id="bench")
    return story


def best(story: Path, times: int = 3) -> float:
    return min(run_stitch(story)[0] for _ in range(times))


def side_by_side(first: Path, second: Path, rounds: int = 5) -> tuple[float, float]:
    """The best of ``rounds`` re-cuts of each, taken in turn, so that both see the machine's same moments."""
    a, b = [], []
    for _ in range(rounds):
        a.append(run_stitch(first)[0])
        b.append(run_stitch(second)[0])
    return min(a), min(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--crossfade", type=float, default=None, help="crossfades between the shots")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="storyboard-bench-captions-"))
    try:
        t = time.perf_counter()
        clips = make_clips(work / "clips", args.clips)
        print(f"made {args.clips} clips in {time.perf_counter() - t:.1f} s", flush=True)
        plain = project(work / "plain", clips, None, args.crossfade)
        soft = project(work / "soft", clips, "soft", args.crossfade)

        def pair(label: str, mine: float, theirs: float, target: float | None = 1.10) -> None:
            ratio = mine / theirs
            verdict = "" if target is None else ("  ok" if ratio <= target else f"  OVER {target:.2f}x")
            print(f"{label:<46} {mine:6.2f} s | plain {theirs:6.2f} s | {ratio:5.2f}x{verdict}", flush=True)

        # first cuts, interleaved so that both see the same machine
        first_plain, first_soft = run_stitch(plain)[0], run_stitch(soft)[0]
        pair("first cut, soft captions", first_soft, first_plain)
        recut_plain, recut_soft = side_by_side(plain, soft)
        pair("re-cut, soft captions (best of 5, in turn)", recut_soft, recut_plain)
        changed = []
        for n in range(3):  # every caption changed, each time: a re-cut with a new subtitle track
            project(work / "soft", clips, "soft", args.crossfade, word=f"ocean {n}")
            changed.append(run_stitch(soft)[0])
        pair("re-cut after every caption changed (best of 3)", min(changed), recut_plain)
        burned = project(work / "burned", clips, "burn", args.crossfade)
        pair("first cut, captions burned", run_stitch(burned)[0], first_plain, None)
        pair("re-cut, captions burned", best(burned, 1), recut_plain, None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
