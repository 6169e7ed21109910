"""How long ``storyboard review`` takes for a big film: 100 shots with 3 takes
each (300 distinct clips in the cache), built three ways:

  - cold: no posters yet (each clip's first frame is made, a batch of clips
    per ffmpeg run);
  - warm: a second build, the posters kept in .storyboard/posters and the
    clips already placed (the target: under 5 s);
  - fresh --out: warm posters, a new site folder (every clip hard-linked again).

The clips are put in the cache directly (the emulator's picture maker, a
distinct picture per clip), so nothing is rendered and no request is made.
The page's interactive time in Chromium is printed by
tests/test_review_site_browser.py.

    PYTHONPATH=. python benchmarks/review_site.py [--shots 100] [--takes 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from storyboard.plan.project import compile_project
from storyboard.providers.emulator.clips import make_clip
from storyboard.review.site.build import Options, build_site
from storyboard.store.cache import ClipCache

TARGET = 5.0


def film_text(shots: int) -> str:
    lines = ["version: 1", "title: Benchmark", "shots:"]
    for i in range(shots):
        lines += [f"  - id: shot-{i:03d}", f"    prompt: Shot {i} of the benchmark, a keeper and the sea.",
                  "    duration: 3"]
    return "\n".join(lines) + "\n"


def fill_cache(root: Path, takes: int) -> int:
    """Every take of every shot in the cache, each its own clip; returns how many."""
    plan = compile_project(str(root / "storyboard.yaml"), takes={"all": takes}).plan
    cache = ClipCache.at(root / ".storyboard" / "cache")
    work = root / "clips"
    work.mkdir()

    def put(item):
        n, job = item
        clip = work / f"{n}.mp4"
        clip.write_bytes(make_clip(320, 180, 3.04, False, n % 8, n + 1))
        cache.put(job.key, clip, duration=3.04, model=job.model, provider=plan.provider, task_id=f"bench-{n}")

    jobs = list(enumerate(plan.all_jobs))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(put, jobs))
    return len(jobs)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--takes", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="storyboard-bench-review-"))
    try:
        (root / "storyboard.yaml").write_text(film_text(args.shots))
        start = time.perf_counter()
        clips = fill_cache(root, args.takes)
        print(f"{args.shots} shots x {args.takes} takes: {clips} clips in the cache "
              f"({time.perf_counter() - start:.1f} s to make); cores: {os.cpu_count()}")
        film = str(root / "storyboard.yaml")
        cold = timed(lambda: build_site(film, Options()))
        warm = timed(lambda: build_site(film, Options()))
        fresh = timed(lambda: build_site(film, Options(out=root / "fresh")))
        size = (root / ".storyboard" / "review" / "index.html").stat().st_size
        print(f"cold (posters made): {cold:.2f} s; warm: {warm:.2f} s; warm, new --out: {fresh:.2f} s; "
              f"index.html {size / 1024:.0f} KiB")
        ok = warm < TARGET
        print(f"target: warm under {TARGET:g} s: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
