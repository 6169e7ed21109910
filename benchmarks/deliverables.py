"""A 20-shot film with captions (soft), a title and rolling credits, cut as the 16:9 master and
as a 9:16 deliverable made by `reframe`, side by side in one run.

Clips as in benchmarks/stitch.py (1280x720, 24 fps, H.264 High with B-frames,
AAC 48 kHz, 5.04 s each). The 9:16 film is 720x1280: each clip cropped around
its shot's `focus` (every other shot has one) and encoded once, the cards
drawn again for the tall frame. It times `storyboard stitch --deliverable`:

  1. the first cut of each film (nothing cut before: for the master, smart
     renders, loudness, sound; for the reframe, also every clip reframed)
  2. the first cut after a render, which readies each clip as it lands (its
     loudness, its smart render's tail, its reframe) while the provider
     renders the others (untimed: a real render waits minutes meanwhile)
  3. a re-cut of each (everything kept in the cache: nothing encoded)

and prints the 9:16 film's time over the master's for each.

    python benchmarks/deliverables.py [--clips 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stitch import SECONDS, make_clips  # noqa: E402  (the clips every cut benchmark uses)

from storyboard.cli import main as cli  # noqa: E402
from storyboard.cut.probe import probe  # noqa: E402
from storyboard.plan.project import compile_project  # noqa: E402
from storyboard.store.cache import ClipCache, cache_dir  # noqa: E402

CUT = """cut:
  output: film.mp4
  title: {text: The Lighthouse Keeper, subtitle: a film in twenty shots, seconds: 3, background: "#102030"}
  credits: {lines: [Old Tom - the keeper, Mara - the fisher, The storm - itself, made with storyboard],
            seconds: 5, style: rolling}
deliverables:
  - {name: master, aspect_ratio: "16:9", output: film.mp4}
  - {name: vertical, aspect_ratio: "9:16", output: vertical.mp4}
"""


def project(folder: Path, clips: list[Path]) -> Path:
    """A preview-provider project whose cache already holds ``clips``."""
    folder.mkdir(parents=True, exist_ok=True)
    # Every shot has a caption and a line of dialogue: soft captions in both films (they change no key).
    shots = "".join(f"  - {{id: s{i:02d}, prompt: shot {i}, duration: {SECONDS}, caption: Shot {i} of the storm"
                    + f", dialogue: [{{speaker: Mara, line: Line {i} of the film}}]"
                    + (f", focus: {0.15 + 0.07 * (i % 10):.2f}" if i % 2 else "") + "}\n" for i in range(len(clips)))
    story = folder / "storyboard.yaml"
    story.write_text(f"version: 1\nshots:\n{shots}{CUT}")
    compiled = compile_project(str(story), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for job, clip in zip(compiled.plan.jobs, clips):
        cache.put(job.key, clip, duration=SECONDS, model="m", provider="preview", task_id="bench")
    return story


def ready_all(story: Path) -> None:
    """What `storyboard render` does with each clip as it lands (render/run.py: `landed`)."""
    from storyboard.cut.ready import ready_clip
    from storyboard.cut.reframe import ready_reframes

    compiled = compile_project(str(story), provider="preview")
    cache = ClipCache.at(cache_dir(compiled.root))
    for job in compiled.plan.jobs:
        path = cache.get(job.key).path
        ready_clip(path, job.duration, compiled.plan.cut, cache)
        ready_reframes(compiled.plan, job.shot, path, cache)


def timed(story: Path, film: str) -> float:
    start = time.perf_counter()
    code = cli(["stitch", str(story), "--provider", "preview", "--deliverable", film])
    assert code == 0, code
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        clips = make_clips(Path(tmp) / "clips", args.clips)
        print(f"made {len(clips)} clips in {time.perf_counter() - t:.1f} s")
        rendered = project(Path(tmp) / "rendered", clips)
        ready_all(rendered)
        story = project(Path(tmp) / "film", clips)
        results = {}
        for label in ("first cut", "after render", "re-cut"):
            if label == "after render":
                master, vertical = timed(rendered, "master"), timed(rendered, "vertical")
                results[label] = {"master": round(master, 3), "vertical": round(vertical, 3),
                                  "ratio": round(vertical / master, 2)}
                print(f"{label:<12} master 16:9 {master:6.2f} s   9:16 reframe {vertical:6.2f} s   "
                      f"ratio {vertical / master:.2f}", flush=True)
                continue
            master = timed(story, "master")
            vertical = timed(story, "vertical")
            results[label] = {"master": round(master, 3), "vertical": round(vertical, 3),
                              "ratio": round(vertical / master, 2)}
            print(f"{label:<12} master 16:9 {master:6.2f} s   9:16 reframe {vertical:6.2f} s   "
                  f"ratio {vertical / master:.2f}", flush=True)
        for name in ("film.mp4", "vertical.mp4"):
            info = probe(story.parent / name)
            print(f"{name}: {info.width}x{info.height}, {info.duration:.2f} s")
        print(json.dumps(results))


if __name__ == "__main__":
    main()
