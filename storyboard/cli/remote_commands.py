"""Commands of the team's remote: ``pull`` and ``push``.

Both run their transfers in parallel with a progress bar, and both are
idempotent, so an interrupted one resumes where it stopped when run again:
what is already on the other side is skipped.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from ..errors import UsageError
from .common import EXIT_FAILED, EXIT_OK, add_path, command, compile_for, print_warnings, provider_options, remote_arg

TRANSFERS = 8  # at once: transfers wait on the network, not on a core


def register(sub) -> None:
    """Add the remote's commands to the parser."""
    for name, summary, run in (
        ("pull", "fetch from the remote the clips this storyboard uses", cmd_pull),
        ("push", "upload to the remote the clips here that it lacks", cmd_push),
    ):
        p = command(sub, name, summary)
        add_path(p)
        p.add_argument("--remote", metavar="URL",
                       help="s3://bucket/prefix, gs://…, az://… or a folder (default: $STORYBOARD_REMOTE, "
                            "else the storyboard's `remote:`)")
        p.add_argument("--cache", metavar="DIR", help="the clip cache (default: $STORYBOARD_CACHE or .storyboard/cache)")
        provider_options(p)
        p.set_defaults(run=run)


def _project(args):
    from ..plan.deliverables import film_jobs
    from ..render.lock import lock_path, read_lock
    from ..store.cache import project_cache

    compiled = compile_for(args, args.path)
    print_warnings(compiled, args)
    warnings: list[str] = []
    cache = project_cache(compiled.root, cache=args.cache, remote=remote_arg(args),
                          storyboard_remote=compiled.storyboard.remote, warn=warnings.append)
    if cache.remote is None:
        raise UsageError("no remote: give --remote URL, set STORYBOARD_REMOTE, or add `remote:` to the storyboard")
    keys = {job.key: job.shot for job in film_jobs(compiled.plan)}  # the deliverables' too
    if args.provider == "wavespeed":  # every paid clip of the film, every take, chosen or not
        for shot, take, entry in read_lock(lock_path(compiled.path)).paid():
            keys.setdefault(entry.key, shot if take == 1 else f"{shot}#{take}")
    return compiled, cache, keys, warnings


def _run(label: str, keys: dict[str, str], work) -> list[tuple[str, str]]:
    """``work(key)`` for every key, in parallel, with a progress bar; (shot, outcome) per key."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    results: list[tuple[str, str]] = []
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=_console(), transient=True) as bar:
        task = bar.add_task(label, total=len(keys))
        with ThreadPoolExecutor(max_workers=TRANSFERS) as pool:
            for shot, outcome in pool.map(lambda item: (item[1], work(item[0])), keys.items()):
                results.append((shot, outcome))
                bar.advance(task)
    return results


def _console():
    from rich.console import Console

    return Console(file=sys.stderr)


def cmd_pull(args) -> int:
    compiled, cache, keys, warnings = _project(args)

    def pull(key: str) -> str:
        if cache.get_local(key) is not None:
            return "here"
        return "pulled" if cache.get(key) is not None else "missing"

    results = _run("pulling", keys, pull)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    missing = sorted(shot for shot, outcome in results if outcome == "missing")
    pulled = sum(1 for _, outcome in results if outcome == "pulled")
    here = sum(1 for _, outcome in results if outcome == "here")
    print(f"{cache.remote.url}: {pulled} clip{'s' if pulled != 1 else ''} pulled, {here} already here"
          + (f", {len(missing)} not in the remote ({', '.join(missing)})" if missing else "") + ".")
    if missing:
        print(f"The remote lacks {', '.join(missing)}: `storyboard render {args.path}` fetches paid clips from the "
              "provider while it keeps them, and renders the new ones.", file=sys.stderr)
    return EXIT_FAILED if missing else EXIT_OK


def cmd_push(args) -> int:
    compiled, cache, keys, warnings = _project(args)

    def push(key: str) -> str:
        return "pushed" if cache.push(key) else "not here"

    results = _run("pushing", keys, push)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    pushed = sum(1 for _, outcome in results if outcome == "pushed")
    absent = sorted(shot for shot, outcome in results if outcome == "not here")
    print(f"{cache.remote.url}: {pushed} clip{'s' if pushed != 1 else ''} in the remote"
          + (f"; not in this cache: {', '.join(absent)}" if absent else "") + ".")
    return EXIT_OK
