"""How every command scales with the number of shots, measured as a user runs it.

For each size (1,000 and 10,000 plain shots by default) this builds a story
project in a git repository: the storyboard and a lock with an entry for every
shot (and a second take of one shot in a hundred) committed, then a working
tree where one shot in a hundred has a new prompt, one shot is removed and one
added, so ``diff --base HEAD``, ``status`` and ``textconv`` have real work.
Each command then runs as its own process, ``python -m storyboard …`` in the
project folder with its output on a pipe, a few times after a warm-up run;
the median (and best) wall time is printed per size, with the growth between
the last two sizes (linear: the ratio of the sizes, 10 for 1,000 → 10,000),
the growth net of the start-up cost (``--version``), and whether the largest
size meets the target (3 s a command at 10,000 shots on a 2-core machine).

    python benchmarks/plan_scale.py [--sizes 1000,10000] [--runs 3] [--only plan,status]

``--in-process`` instead measures ``compile_project`` alone, in this process,
over storyboards of 10 to 5,000 shots with 50 images of 2 MB (cold: no media
memo; warm; a bare ``yaml.safe_load`` of the same text). Its targets: 1,000
shots warm under 1 s, growing linearly, under 10x a bare YAML parse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from storyboard.format import template
from storyboard.plan.project import compile_project
from storyboard.render.lock import Lock, LockEntry, lock_path, lock_text

TARGET_S = 3.0
STORYBOARD = "storyboard.yaml"
OLD_SIDE = "git-blob-old/storyboard.yaml"  # where git puts the old side it hands a textconv driver
COMMANDS = {
    "start-up (--version)": ["--version"],
    "validate": ["validate"],
    "plan": ["plan"],
    "plan --json": ["plan", "--json"],
    "status": ["status"],
    "diff --base HEAD": ["diff", "--base", "HEAD"],
    "takes": ["takes"],
    "textconv": ["textconv", STORYBOARD],
    "textconv (old side)": ["textconv", OLD_SIDE],
}


# -- the project --

def plain_storyboard(shots: int, edited: bool) -> str:
    """Plain text-to-video shots; ``edited``: the working tree's version (1% new prompts, one removed, one added)."""
    lines = ["version: 1", f"title: Scale test, {shots} plain shots", "shots:"]
    ids = list(range(shots - 1)) + [shots] if edited else list(range(shots))
    for i in ids:
        when = "at dusk" if edited and i % 100 == 7 else "at dawn"
        lines += [f"  - id: s{i:05d}", f"    prompt: Shot {i}, the harbour {when}, boats rocking gently.",
                  f"    duration: {5 if i % 3 else 10}"]
        if i % 10 == 1:
            lines.append("    transition: {type: crossfade, duration: 0.5}")
    return "\n".join(lines) + "\n"


def storyboard_cli(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORYBOARD_", "WAVESPEED_"))}
    done = subprocess.run([sys.executable, "-m", "storyboard", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise SystemExit(f"storyboard {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


def paid_lock(plan: dict) -> Lock:
    """A lock entry for every job of the plan, as a render would have written it."""
    lock = Lock()
    done = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    for job in plan["jobs"] + plan["takes"]:
        entry = LockEntry(key=job["key"], model=job["model"], origin=plan["origin"], task_id=f"task-{job['key'][:16]}",
                          clip="sha256:" + hashlib.sha256(job["key"].encode()).hexdigest(), duration=job["duration"],
                          cost=job["cost"], completed_at=done)
        lock.put(job["shot"], job["take"], entry)
    return lock


def git(args: list[str], cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_project(folder: Path, shots: int) -> None:
    folder.mkdir(parents=True)
    path = folder / STORYBOARD
    path.write_text(plain_storyboard(shots, edited=False))
    takes = [f"--takes=s{i:05d}=2" for i in range(50, shots, 100)]
    plan = json.loads(storyboard_cli(["plan", "--json", *takes], folder).stdout)
    lock_path(path).write_text(lock_text(paid_lock(plan)))
    git(["init", "-q"], folder)
    git(["add", "-A"], folder)
    git(["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "film"], folder)
    (folder / OLD_SIDE).parent.mkdir()
    shutil.copy(path, folder / OLD_SIDE)
    path.write_text(plain_storyboard(shots, edited=True))


# -- timing --

def timed(args: list[str], cwd: Path, runs: int) -> tuple[float, float, int]:
    """Median and best wall seconds of ``runs`` runs after a warm-up, and the exit code.
    A command over 10x the target runs once: its one run is the figure."""
    times, code = [], 0
    for n in range(runs + 1):
        start = time.perf_counter()
        code = storyboard_cli(args, cwd, check=False).returncode
        times.append(time.perf_counter() - start)
        if times[0] > 10 * TARGET_S:
            break
    counted = times[1:] or times
    return statistics.median(counted), min(counted), code


def commands_table(sizes: list[int], runs: int, only: list[str] | None, work: Path) -> None:
    names = [n for n in COMMANDS if not only or n in only or n.startswith("start-up")]
    results: dict[str, list[tuple[float, float, int]]] = {n: [] for n in names}
    for size in sizes:
        folder = work / f"film-{size}"
        make_project(folder, size)
        for name in names:
            results[name].append(timed(COMMANDS[name], folder, runs))
            print(f"  {size} shots: {name}: {results[name][-1][0]:.2f} s", file=sys.stderr, flush=True)
    print(f"wall seconds, median (best) of {runs} runs after a warm-up, one process each; cores: {os.cpu_count()}")
    head = "".join(f"{f'{s:,} shots':>18}" for s in sizes)
    print(f"{'command':<22}{head}{'growth':>9}{'net':>8}  under {TARGET_S:g} s at {sizes[-1]:,}")
    start = results[names[0]]
    for name in names:
        row = results[name]
        cells = "".join(f"{f'{med:.2f} ({best:.2f})':>18}" for med, best, _ in row)
        growth = net = meets = ""
        if len(sizes) > 1:
            (a, _, _), (b, _, _) = row[-2], row[-1]
            growth = f"x{b / a:.1f}"
            base = (start[-2][0], start[-1][0])
            net = f"x{(b - base[1]) / max(a - base[0], 1e-3):.1f}" if name != names[0] else ""
        meets = "yes" if row[-1][0] < TARGET_S else "NO"
        failed = [f"exit {code} at {s:,}" for s, (_, _, code) in zip(sizes, row) if code != 0]
        print(f"{name:<22}{cells}{growth:>9}{net:>8}  {meets}{'  ' + ', '.join(failed) if failed else ''}")
    if len(sizes) > 1:
        print(f"growth: seconds at {sizes[-1]:,} / seconds at {sizes[-2]:,} (linear: x{sizes[-1] / sizes[-2]:g}); "
              "net: the same, less the start-up row")


# -- in process: compile_project alone, with media --

IMAGES = 50
IMAGE_BYTES = 2 * 1024 * 1024
CHARACTERS = 10


def make_images(folder: Path) -> list[str]:
    rng = random.Random(7)
    names = []
    for i in range(IMAGES):
        name = f"refs/img{i:02d}.png"
        data = b"\x89PNG\r\n\x1a\n" + rng.randbytes(IMAGE_BYTES - 8)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        names.append(name)
    return names


def storyboard_text(shots: int, images: list[str]) -> str:
    rng = random.Random(shots)
    lines = ["version: 1", f"title: Scale test, {shots} shots", "vars:", "  era: 1920s", "  place: a harbour town",
             "characters:"]
    for c in range(CHARACTERS):
        refs = ", ".join(images[c * 3:c * 3 + 3])
        lines += [f"  c{c}:", f"    name: Person {c}", f"    description: person number {c}, coat {c}",
                  f"    images: [{refs}]", f"    element_id: \"{300000000000000 + c}\""]
    lines.append("shots:")
    scenes = images[CHARACTERS * 3:]
    for s in range(shots):
        who = rng.sample(range(CHARACTERS), 2)
        lines += [
            f"  - id: shot-{s:05d}",
            f"    prompt: \"{{{{ c{who[0]} }}}} meets {{{{ c{who[1]} }}}} in {{{{ place }}}}, {{{{ era }}}}, take {s}.\"",
            f"    characters: [c{who[0]}, c{who[1]}]",
            f"    images: [{rng.choice(scenes)}]",
            f"    duration: {rng.randint(3, 15) if s % 4 else 10}",
        ]
        if s % 4 == 0:
            lines += ["    multi_prompt:", f"      - {{prompt: \"Wide on {{{{ c{who[0]} }}}}\", duration: 4}}",
                      "      - {prompt: \"Close-up\", duration: 6}"]
        if s % 5 == 1:
            lines.append("    transition: {type: crossfade, duration: 0.5}")
    return "\n".join(lines) + "\n"


def fresh() -> None:
    """Forget in-process caches, so each run costs what a new process would."""
    template._parse.cache_clear()
    template._simple_parts.cache_clear()


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        fresh()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def in_process(sizes: list[int], repeat: int, work: Path) -> None:
    images = make_images(work)
    print(f"{IMAGES} images of {IMAGE_BYTES / 2**20:.0f} MiB; best of {repeat}; cores: {os.cpu_count()}")
    print(f"{'shots':>6} {'YAML KiB':>9} {'cold s':>8} {'warm s':>8} {'safe_load s':>12} "
          f"{'warm/load':>10} {'warm ms/shot':>13}")
    rows = []
    for n in sizes:
        path = work / STORYBOARD
        path.write_text(storyboard_text(n, images))
        state = work / ".storyboard"

        def cold():
            shutil.rmtree(state, ignore_errors=True)
            compile_project(str(path))

        cold_s = best(cold, 1)
        compile_project(str(path))  # the memo is now in place
        warm_s = best(lambda: compile_project(str(path)), repeat)
        text = path.read_text()
        load_s = best(lambda: yaml.safe_load(text), repeat)
        rows.append((n, warm_s))
        print(f"{n:>6} {len(text) / 1024:>9.0f} {cold_s:>8.3f} {warm_s:>8.3f} {load_s:>12.3f} "
              f"{warm_s / load_s:>9.2f}x {1000 * warm_s / n:>13.3f}")
    if len(rows) > 1:
        (n0, t0), (n1, t1) = rows[-2], rows[-1]
        print(f"growth {n0} -> {n1} shots: time x{t1 / t0:.2f} for shots x{n1 / n0:.2f} "
              f"(linear would be x{n1 / n0:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="shot counts (default: 1000,10000; with --in-process 10,100,1000,5000)")
    parser.add_argument("--runs", type=int, default=3, help="counted runs of each command (in process: repeats)")
    parser.add_argument("--only", help="commands to time, comma-separated names from the table (default: all)")
    parser.add_argument("--in-process", action="store_true", help="time compile_project alone, with media")
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("10,100,1000,5000" if args.in_process else "1000,10000")).split(",")]
    work = Path(tempfile.mkdtemp(prefix="storyboard-bench-"))
    try:
        if args.in_process:
            in_process(sizes, args.runs, work)
        else:
            commands_table(sizes, args.runs, args.only.split(",") if args.only else None, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
