"""The executor's overhead against an ideal scheduler, over real loopback HTTP.

Starts the emulator with a task time L, renders N jobs at concurrency C with
no rate limit and claims on (as every paid render has them), and prints the
wall time beside the ideal ceil(N/C)*L (their ratio; target <= 1.10, for a
fixed L), the client's CPU seconds per job (target < 20 ms) and the requests
per job the emulator saw (polls are most of the client's CPU). The emulator
runs in a child process so its CPU is not counted as the client's; it always
runs from this checkout, while the client is whatever ``storyboard`` Python
imports, so two checkouts can be measured side by side against one emulator:

    PYTHONPATH=/path/to/old python benchmarks/render_overhead.py ...
    PYTHONPATH=/path/to/new python benchmarks/render_overhead.py ...

Real tasks take a minute or more and vary; ``--spread 0.25`` makes each take
L × uniform(0.75, 1.25) (seeded, so runs see the same times).

    python benchmarks/render_overhead.py [--jobs 60] [--concurrency 10] [--task-seconds 2] [--spread 0]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from storyboard.render.executor import Options
from storyboard.render.run import render_project


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 20.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_emulator/stats", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the emulator did not start")


def stats(url: str) -> dict[str, int]:
    import httpx

    return httpx.get(f"{url}/_emulator/stats", timeout=5).json()["requests"]


def storyboard(n: int, variants: int = 4) -> str:
    # Prompts differ (N distinct jobs); durations cycle so the emulator makes few distinct clips.
    shots = "".join(f"  - id: s{i:03d}\n    prompt: Job number {i}.\n    duration: 5\n" for i in range(n))
    return f"version: 1\ntitle: overhead\nshots:\n{shots}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--task-seconds", type=float, default=2.0)
    parser.add_argument("--spread", type=float, default=0.0, help="task times vary by ± this fraction")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    here = str(Path(__file__).resolve().parents[1])
    serve = (f"from storyboard.providers.emulator import Emulator; "
             f"Emulator(port={port}, task_seconds={args.task_seconds!r}, spread={args.spread!r}).serve()")
    emulator = subprocess.Popen([sys.executable, "-c", serve], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": here})
    work = Path(tempfile.mkdtemp(prefix="storyboard-bench-"))
    try:
        wait_for(url)
        # Warm the emulator's clip maker once, so the first wave does not pay for ffmpeg start-up.
        warm = work / "warm"
        warm.mkdir()
        (warm / "storyboard.yaml").write_text("version: 1\nshots:\n  - id: w\n    prompt: Job number 0.\n")
        env = {"WAVESPEED_BASE_URL": url, "WAVESPEED_API_KEY": "bench"}
        render_project(str(warm), env=env, options=Options(concurrency=1, rate=0), engine=None)

        project = work / "film"
        project.mkdir()
        (project / "storyboard.yaml").write_text(storyboard(args.jobs))
        before = stats(url)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = render_project(str(project), env=env, options=Options(concurrency=args.concurrency, rate=0), engine=None)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        done = result.report.count("done")
        after = stats(url)
        made = {k: v - before.get(k, 0) for k, v in after.items()}
        ideal = math.ceil(args.jobs / args.concurrency) * args.task_seconds
        print(f"jobs {args.jobs}, concurrency {args.concurrency}, task time {args.task_seconds:g} s "
              f"± {100 * args.spread:g}%, "
              f"cores {os.cpu_count()}; {done} done")
        print(f"wall {wall:.2f} s, ideal ceil(N/C)*L = {ideal:.2f} s, ratio {wall / ideal:.3f} (target <= 1.10)")
        print(f"client CPU {cpu:.2f} s, {1000 * cpu / args.jobs:.1f} ms per job (target < 20 ms)")
        print("requests per job: " + ", ".join(f"{k} {v / args.jobs:.1f}" for k, v in sorted(made.items())))
    finally:
        emulator.terminate()
        emulator.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
