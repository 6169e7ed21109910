"""How planning scales with the number of shots.

Generates storyboards of 10, 100, 1,000 and 5,000 shots over 50 reference
images of about 2 MB each, and prints for each size: the cold plan (no media
memo: every image is hashed), the warm plan (memo present), a bare
``yaml.safe_load`` of the same file, and the ratio warm / safe_load, all
measured side by side in this one run (best of a few repeats; template
caches are cleared before each, as a new process would start).

Targets: 1,000 shots warm in under 1 s on a 2-core machine; warm time growing
linearly with shots; warm under 10x a bare YAML parse.

    python benchmarks/plan_scale.py [--sizes 10,100,1000,5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from storyboard.format import template
from storyboard.plan.project import compile_project

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="storyboard-bench-"))
    try:
        images = make_images(work)
        print(f"{IMAGES} images of {IMAGE_BYTES / 2**20:.0f} MiB; best of {args.repeat}; cores: {os.cpu_count()}")
        print(f"{'shots':>6} {'YAML KiB':>9} {'cold s':>8} {'warm s':>8} {'safe_load s':>12} "
              f"{'warm/load':>10} {'warm ms/shot':>13}")
        rows = []
        for n in sizes:
            path = work / "storyboard.yaml"
            path.write_text(storyboard_text(n, images))
            state = work / ".storyboard"

            def cold():
                shutil.rmtree(state, ignore_errors=True)
                compile_project(str(path))

            cold_s = best(cold, 1)
            compile_project(str(path))  # the memo is now in place
            warm_s = best(lambda: compile_project(str(path)), args.repeat)
            text = path.read_text()
            load_s = best(lambda: yaml.safe_load(text), args.repeat)
            rows.append((n, warm_s))
            print(f"{n:>6} {len(text) / 1024:>9.0f} {cold_s:>8.3f} {warm_s:>8.3f} {load_s:>12.3f} "
                  f"{warm_s / load_s:>9.2f}x {1000 * warm_s / n:>13.3f}")
        if len(rows) > 1:
            (n0, t0), (n1, t1) = rows[-2], rows[-1]
            print(f"growth {n0} -> {n1} shots: time x{t1 / t0:.2f} for shots x{n1 / n0:.2f} "
                  f"(linear would be x{n1 / n0:.2f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
