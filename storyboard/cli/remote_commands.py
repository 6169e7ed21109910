"""Commands of the team's remote: ``pull`` and ``push``.

Both run their transfers in parallel with a progress bar, and both are
idempotent, so an interrupted one resumes where it stopped when run again:
what is already on the other side is skipped.
"""

from __future__ import annotations

import json
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
        p.add_argument("--json", action="store_true", help="end with a JSON summary on stdout instead of the sentence")
        if name == "push":
            p.add_argument("--create", action="store_true",
                           help="make the remote's folder if it does not exist (a folder remote only; a bucket is "
                                "made with the cloud's own tools)")
        p.set_defaults(run=run)


def _project(args):
    from ..plan.deliverables import film_jobs
    from ..render.lock import lock_path, read_lock
    from ..store.cache import project_cache

    from ..store.remote import create_folder_remote, remote_url

    compiled = compile_for(args, args.path)
    print_warnings(compiled, args)
    warnings: list[str] = []
    url = remote_url(remote_arg(args), compiled.storyboard.remote)
    if url is None:
        raise UsageError("no remote: give --remote URL, set STORYBOARD_REMOTE, or add `remote:` to the storyboard")
    if getattr(args, "create", False) and create_folder_remote(url, compiled.root):
        print(f"created the folder remote {url}", file=sys.stderr)
    cache = project_cache(compiled.root, cache=args.cache, remote=url, warn=warnings.append)
    jobs, paid_at = film_jobs(compiled.plan), {}  # the deliverables' too
    if compiled.plan.provider != "preview":  # the film's clips as the lock names them, whatever this shell's API address
        from ..render.lockcut import compiled_at, lock_plan

        plan, paid_at = lock_plan(compiled, compiled_at(args.path, compiled.plan.provider))
        jobs = film_jobs(plan)
    keys = {job.key: job.label for job in jobs}  # `meet#2`: a chosen take is named as render names it
    if compiled.plan.provider != "preview":  # every paid clip of the film, every take, chosen or not
        lock = read_lock(lock_path(compiled.path))
        for shot, take, entry in lock.entries():
            keys.setdefault(entry.key, shot if take == 1 else f"{shot}#{take}")
        for entry in lock.retired.values():  # an earlier version of a shot: not the one the film uses now
            keys.setdefault(entry.key, f"{entry.shot if entry.take == 1 else f'{entry.shot}#{entry.take}'} (retired)")
    return compiled, cache, keys, warnings, paid_at


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


def _names(results: list[tuple[str, str]], outcome: str) -> list[str]:
    """The jobs with this outcome, each named once, in order."""
    return sorted({label for label, got in results if got == outcome})


def _count(results: list[tuple[str, str]], outcome: str) -> int:
    return sum(1 for _, got in results if got == outcome)


def _clips(n: int) -> str:
    return f"{n} clip{'s' if n != 1 else ''}"


def cmd_pull(args) -> int:
    compiled, cache, keys, warnings, paid_at = _project(args)

    def pull(key: str) -> str:
        if cache.get_local(key) is not None:
            return "here"
        return "pulled" if cache.get(key) is not None else "missing"

    results = _run("pulling", keys, pull)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    missing, pulled, here = _names(results, "missing"), _count(results, "pulled"), _count(results, "here")
    if args.json:
        print(json.dumps({"remote": cache.remote.url, "pulled": pulled, "already_here": here,
                          "not_in_remote": missing}, indent=2, ensure_ascii=False))
    else:
        print(f"{cache.remote.url}: {_clips(pulled)} pulled, {here} already here"
              + (f", {len(missing)} not in the remote ({', '.join(missing)})" if missing else "") + ".")
    if missing:
        print(f"The remote lacks {', '.join(missing)}: {_fetch_advice(args.path, missing, paid_at)}", file=sys.stderr)
    return EXIT_FAILED if missing else EXIT_OK


def _fetch_advice(path: str, missing: list[str], paid_at: dict[str, str]) -> str:
    """How to get the missing clips back without paying again: at the API address the lock says they were
    paid at, when that is not this shell's (a clone of a film rendered on the emulator)."""
    shots = {label.split("#")[0] for label in missing}  # `meet#2` is a take of `meet`
    elsewhere = sorted({origin for shot, origin in paid_at.items() if shot in shots})
    if elsewhere:
        return (f"they were paid at {', '.join(elsewhere)} (the lock): `WAVESPEED_BASE_URL={elsewhere[0]} "
                f"storyboard render {path}` fetches them from there while it keeps them, without paying again.")
    return (f"`storyboard render {path}` fetches paid clips from the provider while it keeps them, and "
            "renders the new ones.")


def cmd_push(args) -> int:
    compiled, cache, keys, warnings, paid_at = _project(args)
    results = _run("pushing", keys, lambda key: cache.push(key) or "not here")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    pushed, there, absent = _count(results, "pushed"), _count(results, "there"), _names(results, "not here")
    if args.json:
        print(json.dumps({"remote": cache.remote.url, "pushed": pushed, "already_there": there,
                          "not_in_cache": absent}, indent=2, ensure_ascii=False))
    else:
        print(f"{cache.remote.url}: {_clips(pushed)} pushed, {there} already there"
              + (f"; not in this cache: {', '.join(absent)}" if absent else "") + ".")
    return EXIT_OK
