"""``storyboard cache``: look after the clip cache. ``verify`` re-hashes it; ``size`` says what it holds;
``gc`` frees what the project no longer needs, as ``dvc gc`` does (reports only, unless ``--force``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..errors import StoryboardError
from .common import EXIT_FAILED, EXIT_OK, add_path, command, compile_for, remote_arg, remote_option


def register(sub) -> None:
    """Add ``cache`` and its actions to the parser."""
    p = command(sub, "cache", "look after the clip cache")
    cache_sub = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    v = command(cache_sub, "verify", "re-hash every clip and report what is wrong")
    add_path(v)
    v.add_argument("--cache", metavar="DIR", help="the cache folder to check (default: the project's)")
    remote_option(v)
    v.set_defaults(run=cmd_cache_verify)

    s = command(cache_sub, "size", "say how many clips the cache holds, their size, and how much the film uses")
    add_path(s)
    s.add_argument("--cache", metavar="DIR", help="the cache folder (default: $STORYBOARD_CACHE or .storyboard/cache)")
    s.add_argument("--json", action="store_true", help="print the sizes as JSON")
    s.set_defaults(run=cmd_cache_size, provider="wavespeed", prices=None, strict=False, takes=[])

    g = command(cache_sub, "gc", "free the clips the project no longer needs; only reports unless --force")
    add_path(g)
    g.add_argument("--cache", metavar="DIR", help="the cache folder (default: $STORYBOARD_CACHE or .storyboard/cache)")
    remote_option(g)
    g.add_argument("--force", action="store_true", help="remove them (without it, only say what would be freed)")
    g.add_argument("--json", action="store_true", help="print what is (or would be) removed and kept as JSON")
    g.set_defaults(run=cmd_cache_gc, provider="wavespeed", prices=None, strict=False, takes=[])


def cmd_cache_verify(args) -> int:
    from ..plan.project import find_storyboard
    from ..store.cache import ClipCache, cache_dir

    if not args.cache and not Path(args.path).exists():
        raise StoryboardError(f"{args.path}: no such file or folder")
    folder = Path(args.cache) if args.cache else cache_dir(find_storyboard(args.path)[0].resolve().parent)
    if not folder.is_dir():
        print(f"error: {folder}: no cache there", file=sys.stderr)
        return EXIT_FAILED
    cache = ClipCache.at(folder)
    problems = cache.verify()
    for problem in problems:
        print(f"{folder}/{problem}", file=sys.stderr)
    objects, keys = cache.counts()
    print(f"{folder}: {objects} clips, {keys} job keys, {len(problems)} problem{'s' if len(problems) != 1 else ''}")
    url = remote_arg(args) or os.environ.get("STORYBOARD_REMOTE")
    if url:
        from ..store.layout import remote_problems
        from ..store.remote import open_remote

        remote = open_remote(url)
        found = remote_problems(remote)
        for problem in found:
            print(f"{url}: {problem}", file=sys.stderr)
        print(f"{url}: {len(remote.list('objects/'))} clips, {len(remote.list('keys/'))} job keys, "
              f"{len(found)} problem{'s' if len(found) != 1 else ''}")
        problems += found
    return EXIT_FAILED if problems else EXIT_OK


def _film_keys(args, compiled) -> set[str]:
    """Every clip the storyboard as it is now uses: its jobs and takes at this shell's API address and at
    the one its lock names, the takes in its lock, and its preview cards."""
    from ..errors import StoryboardError as Failed
    from ..render.lock import read_lock
    from ..format.files import lock_path
    from ..render.lockcut import compiled_at, lock_plan

    keys = {job.key for job in compiled.plan.all_jobs}
    keys |= {job.key for job in lock_plan(compiled, compiled_at(args.path, compiled.plan.provider))[0].all_jobs}
    keys |= {entry.key for _, _, entry in read_lock(lock_path(compiled.path)).entries()}
    chosen, args.provider = args.provider, "preview"
    try:
        keys |= {job.key for job in compile_for(args, args.path).plan.all_jobs}
    except Failed:  # a storyboard that previews badly still has its paid clips
        pass
    finally:
        args.provider = chosen
    return keys


def _project_cache(args, compiled, remote: bool):
    """The cache folder and the cache; with ``remote``, read through the team's remote (which must exist)."""
    from ..store.cache import ClipCache, cache_dir, project_cache

    folder = cache_dir(compiled.root, args.cache)
    if not folder.is_dir():
        raise StoryboardError(f"{folder}: no cache there")
    if not remote:
        return folder, ClipCache.at(folder)
    return folder, project_cache(compiled.root, cache=args.cache, remote=remote_arg(args),
                                 storyboard_remote=compiled.storyboard.remote)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def _clips(n: int) -> str:
    return f"{n} clip{'s' if n != 1 else ''}"


def cmd_cache_size(args) -> int:
    from ..review.cachegc import cached_clips

    compiled = compile_for(args, args.path)
    folder, cache = _project_cache(args, compiled, remote=False)
    clips, sizes = cached_clips(cache)
    film = _film_keys(args, compiled)
    used = {c.sha256 for c in clips if c.key in film}
    used_bytes = sum(sizes.get(f"objects/{sha[:2]}/{sha}.mp4", 0) for sha in used)
    total = sum(sizes.values())
    if args.json:
        print(json.dumps({"cache": str(folder), "clips": len(sizes), "bytes": total, "job_keys": len(clips),
                          "film_clips": len(used), "film_bytes": used_bytes}, indent=2))
    else:
        print(f"{folder}: {_clips(len(sizes))}, {_mb(total)} ({len(clips)} job keys); the film uses "
              f"{_clips(len(used))}, {_mb(used_bytes)}")
    return EXIT_OK


def cmd_cache_gc(args) -> int:
    from ..review.cachegc import cached_clips, collect, sort_cache

    compiled = compile_for(args, args.path)
    folder, cache = _project_cache(args, compiled, remote=True)
    report = sort_cache(cache, folder, compiled.root, _film_keys(args, compiled))
    sizes = cached_clips(cache)[1]
    freed, gone = report.freed(sizes), report.removable_objects()
    if args.force:
        collect(report, cache)
    if args.json:
        print(json.dumps(_gc_json(report, freed, gone, args.force), indent=2))
        return EXIT_OK
    for line in _gc_lines(report, sizes):
        print(line)
    if not gone:
        print("Nothing to free.")
    elif args.force:
        print(f"Removed {_clips(len(gone))}: freed {_mb(freed)}.")
    else:
        print(f"Would free {_mb(freed)} ({_clips(len(gone))}); nothing was removed. "
              f"`storyboard cache gc {args.path} --force` removes them.")
    return EXIT_OK


def _gc_lines(report, sizes: dict[str, int]) -> list[str]:
    def size(clips) -> str:
        return _mb(sum(sizes.get(f"objects/{c.sha256[:2]}/{c.sha256}.mp4", 0) for c in {c.sha256: c for c in clips}.values()))

    history = "a lock, here or in the git history" if report.in_git else "a lock here (not a git repository)"
    lines = [f"{report.folder}:",
             f"  the film's: {_clips(len(report.film))}, {size(report.film)} (kept)"]
    if report.paid_here:
        lines.append(f"  paid, not in the remote: {_clips(len(report.paid_here))}, {size(report.paid_here)} "
                     f"(kept: named by {history}; "
                     + (f"`storyboard push` lets gc free them)" if report.remote else "a remote that has them lets "
                        "gc free them)"))
    if report.paid_in_remote:
        lines.append(f"  paid, in the remote {report.remote}: {_clips(len(report.paid_in_remote))}, "
                     f"{size(report.paid_in_remote)} (removable: named by {history}; `storyboard pull` brings "
                     "them back)")
    if report.unused:
        lines.append(f"  unused: {_clips(len(report.unused))}, {size(report.unused)} (removable: no storyboard "
                     "uses them and no lock names them)")
    if report.orphans:
        lines.append(f"  clips no record names: {len(report.orphans)} (removable)")
    return lines


def _gc_json(report, freed: int, gone: list[str], removed: bool) -> dict:
    def keys(clips) -> list[str]:
        return sorted(c.key for c in clips)

    return {"cache": str(report.folder), "removed": removed, "bytes_freed" if removed else "bytes_to_free": freed,
            "objects": len(gone), "film": keys(report.film), "paid_kept": keys(report.paid_here),
            "paid_in_remote": keys(report.paid_in_remote), "unused": keys(report.unused),
            "remote": report.remote, "git": report.in_git}
