"""The team's remote, through a real S3 API server on loopback (moto's server mode).

1. push and pull N clips of about 8 MB: storyboard's path (push: exists check,
   upload, record; pull: record, download, sha256 check, into the local cache)
   against obstore's own concurrent puts and gets of the same objects, in the
   same run (target: within 1.25x);
2. the added wall time of `render` with a remote over one without, for 60
   jobs that nothing is cached for, on the emulator (target: under 10%).

    python benchmarks/remote.py [--clips 50] [--megabytes 8] [--jobs 60] [--task-seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from storyboard.cli.remote_commands import TRANSFERS
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project
from storyboard.store.cache import ClipCache
from storyboard.store.remote import open_remote


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_s3() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_ENDPOINT_URL=url)
    return proc, url


def bucket(url: str) -> str:
    import boto3

    name = f"bench-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket=name)
    return name


def transfers(work: Path, s3: str, clips: int, megabytes: int) -> None:
    import obstore as obs
    from obstore.store import from_url

    source = ClipCache.at(work / "source")
    keys = []
    for i in range(clips):
        clip = work / f"clip{i}.mp4"
        clip.write_bytes(os.urandom(megabytes * 1024 * 1024))
        key = f"{i:064x}"
        source.put(key, clip, duration=5.0, model="m", provider="wavespeed", task_id=f"t{i}")
        clip.unlink()
        keys.append(key)
    paths = [source.get_local(k).path for k in keys]
    total = clips * megabytes

    ours_remote = open_remote(f"s3://{bucket(s3)}/ours")
    base = from_url(f"s3://{bucket(s3)}/base", client_options={"allow_http": True})

    limit = asyncio.Semaphore  # the same number of transfers at once on both sides

    async def bulk_put(prefix: str):
        gate = limit(TRANSFERS)

        async def one(i: int, path: Path):
            async with gate:
                await obs.put_async(base, f"{prefix}/{i}.mp4", path)
        await asyncio.gather(*(one(i, p) for i, p in enumerate(paths)))

    async def bulk_get(prefix: str, dest: Path):
        gate = limit(TRANSFERS)

        async def one(i: int):
            async with gate:
                result = await obs.get_async(base, f"{prefix}/{i}.mp4")
                with open(dest / f"{i}.mp4", "wb") as out:
                    async for chunk in result.stream(min_chunk_size=8 * 1024 * 1024):
                        out.write(chunk)
        dest.mkdir(parents=True, exist_ok=True)
        await asyncio.gather(*(one(i) for i in range(clips)))

    source.remote = ours_remote

    def ours_push():
        with ThreadPoolExecutor(TRANSFERS) as pool:
            assert all(pool.map(source.push, keys))

    def ours_pull(folder: Path):
        target = ClipCache.at(folder, remote=source.remote)
        with ThreadPoolExecutor(TRANSFERS) as pool:
            assert all(clip is not None for clip in pool.map(target.get, keys))

    best = {"push": [], "pull": [], "base push": [], "base pull": []}
    for round_ in range(2):  # side by side, each twice, alternating: the best of each
        t = time.perf_counter(); asyncio.run(bulk_put(f"r{round_}")); best["base push"].append(time.perf_counter() - t)  # noqa: E702,E501
        if round_:
            source.remote = open_remote(f"s3://{bucket(s3)}/ours")
        t = time.perf_counter(); ours_push(); best["push"].append(time.perf_counter() - t)  # noqa: E702
        t = time.perf_counter(); asyncio.run(bulk_get(f"r{round_}", work / f"base-{round_}")); best["base pull"].append(time.perf_counter() - t)  # noqa: E702,E501
        t = time.perf_counter(); ours_pull(work / f"pulled-{round_}"); best["pull"].append(time.perf_counter() - t)  # noqa: E702,E501
    rows = [(name, min(best[name]), min(best[f"base {name}"])) for name in ("push", "pull")]
    print(f"{clips} clips of {megabytes} MB ({total} MB) through S3 on loopback:")
    for name, ours, theirs in rows:
        print(f"  {name}: storyboard {ours:6.2f} s ({total / ours:5.0f} MB/s), obstore alone {theirs:6.2f} s "
              f"({total / theirs:5.0f} MB/s): {ours / theirs:.2f}x (target <= 1.25x)")


def render_overhead(work: Path, s3: str, jobs: int, task_seconds: float) -> None:
    shots = "".join(f"  - id: s{i:03d}\n    prompt: Job number {i}.\n    duration: 5\n" for i in range(jobs))
    text = f"version: 1\ntitle: remote overhead\nshots:\n{shots}"
    times = {}
    with Emulator(task_seconds=task_seconds) as emu:
        env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": "bench"}
        for label, remote in (("without a remote", None), ("with a remote", f"s3://{bucket(s3)}/film"),
                              ("without a remote, again", None)):
            project = work / label.replace(" ", "-").replace(",", "")
            project.mkdir()
            # A different title changes no key, so each project gets fresh jobs by a prompt suffix.
            (project / "storyboard.yaml").write_text(text.replace("Job number", f"Job ({label}) number"))
            t = time.perf_counter()
            result = render_project(str(project), env=env, options=Options(concurrency=10, rate=0), engine=None,
                                    remote_flag=remote)
            times[label] = time.perf_counter() - t
            assert all(o.state == "done" for o in result.report.outcomes)
    bare = min(times["without a remote"], times["without a remote, again"])
    print(f"render of {jobs} jobs, tasks of {task_seconds:g} s, concurrency 10:")
    for label, seconds in times.items():
        print(f"  {label}: {seconds:6.2f} s")
    print(f"  added by the remote: {times['with a remote'] / bare - 1:+.1%} (target < 10%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--megabytes", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--task-seconds", type=float, default=2.0)
    args = parser.parse_args()
    proc, s3 = start_s3()
    try:
        with tempfile.TemporaryDirectory(prefix="storyboard-bench-") as tmp:
            transfers(Path(tmp), s3, args.clips, args.megabytes)
            render_overhead(Path(tmp), s3, args.jobs, args.task_seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
