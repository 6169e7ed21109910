"""Commands of the review stage: ``status``, ``diff``, ``init``, ``textconv``."""

from __future__ import annotations

import functools
import gc
import os
import sys
from pathlib import Path

from ..errors import UsageError
from . import colour
from .colour import color_option
from .common import (EXIT_FAILED, EXIT_OK, add_path, command, compile_for, dollars, print_warnings, provider_options,
                     remote_arg, remote_option)


def register(sub) -> None:
    """Add this stage's commands to the parser."""
    p = command(sub, "status", "where each shot's clip is (here, remote, provider, lost, in flight) and what is left to pay")
    add_path(p)
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    color_option(p)
    p.add_argument("--cache", metavar="DIR", help="the clip cache (default: $STORYBOARD_CACHE or .storyboard/cache)")
    remote_option(p)
    provider_options(p)
    p.set_defaults(run=cmd_status)

    p = command(sub, "takes", "list each shot's takes (where, length, cost, which is chosen); write a contact sheet")
    p.add_argument("where", nargs="*", metavar="PATH [SHOT…]",
                   help="the project (default: here), then the shots to list (default: all)")
    p.add_argument("--sheet", metavar="FILE", help="write SHOT's takes side by side: FILE.mp4 plays them, "
                   "FILE.png shows their first, middle and last frames")
    p.add_argument("--json", action="store_true", help="print the takes as JSON")
    p.add_argument("--cache", metavar="DIR", help="the clip cache (default: $STORYBOARD_CACHE or .storyboard/cache)")
    remote_option(p)
    provider_options(p)
    p.set_defaults(run=cmd_takes)

    p = command(sub, "diff", "what a change to a film changes, and what re-rendering costs")
    p.add_argument("sides", nargs="*", metavar="SIDE",
                   help="OLD NEW (each a storyboard path or REV:path), or with --base just PATH (default: here)")
    p.add_argument("--base", metavar="REV", help="compare PATH in the working tree with PATH at git revision REV")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text", help="how to print the diff")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when something needs re-rendering")
    color_option(p)
    provider_options(p)
    p.set_defaults(run=cmd_diff)

    p = command(sub, "init", "start a story project (storyboard, refs/, git files, editor schema)")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the project folder to create or fill")
    p.add_argument("--no-git", action="store_true",
                   help="do not run `git init` nor set the diff driver (by default both, as `cargo new` does)")
    p.set_defaults(run=cmd_init)

    p = command(sub, "textconv", "print a storyboard as reviewable text (git's diff driver calls it)")
    p.add_argument("file", metavar="FILE", help="the storyboard file git hands over")
    p.set_defaults(run=cmd_textconv)


def without_cycle_collector(run):
    """A command that reads, prints and ends runs without the cycle collector.

    Compiling pauses it already; switched back on, its first pass walks every
    object the compile made (0.3 s at 10,000 shots, twice for a diff) and later
    passes walk them again, to free next to nothing: the plan, the lock and the
    rows stay alive until the command ends. At the end what is alive is left out
    of later passes (``gc.freeze``): the process exits, or (tests) goes on cheaply."""
    @functools.wraps(run)
    def command(args) -> int:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return run(args)
        finally:
            if was_enabled:
                gc.freeze()
                gc.enable()
    return command


@without_cycle_collector
def cmd_status(args) -> int:
    import json
    from decimal import Decimal

    from ..plan.prices import exact, fixed, fixed_or_none
    from ..review.approvals import approvals
    from ..review.paid import not_in_film, total
    from ..plan.deliverables import film_jobs
    from ..review.status import LOST, NEW, STALE, Locator, cache_for, card_status, spent

    compiled = compile_for(args, args.path)
    print_warnings(compiled, args)
    where = Locator(compiled, cache_for(compiled, args.cache, remote_arg(args)))
    rows = where.element_rows() + [where.locate(job) for job in film_jobs(compiled.plan)] + card_status(compiled)
    unused = not_in_film(compiled, where.lock)
    marks = {shot: a.state for shot, a in approvals(compiled).items() if a.state}  # approved, retake, …
    todo = [r for r in rows if r.state in (NEW, STALE)]
    lost = [r for r in rows if r.state == LOST]
    owed = exact(sum((r.cost for r in todo if r.cost is not None), start=Decimal(0)))
    repay = exact(sum((r.cost for r in lost if r.cost is not None), start=Decimal(0)))
    unpriced = [r.name for r in todo if r.cost is None]
    so_far = spent(where.lock)
    if args.json:
        print(json.dumps({"shots": [{"shot": r.shot, "take": r.take, "name": r.name, "state": r.state,
                                     "where": r.label, "until": r.until or None,
                                     "key": r.key, "reason": r.reason, "approval": marks.get(r.shot), "host": r.host or None,
                                     "cost": fixed_or_none(r.cost)} for r in rows],
                          "to_render": len(todo), "cost": fixed(owed), "unpriced": unpriced,
                          "lost": [r.shot for r in lost], "repay_cost": fixed(repay),
                          "paid_not_in_film": [{"shot": c.shot, "take": c.take, "key": c.entry.key,
                                                "cost": fixed_or_none(c.entry.cost)}
                                               for c in unused],
                          "paid_not_in_film_cost": fixed(total(unused)),
                          "spent": fixed(so_far.cost), "spent_clips": so_far.clips, "spent_elements": so_far.elements,
                          "spent_unpriced": so_far.unpriced}, indent=2))
        return EXIT_OK
    width = max(len(r.name) for r in rows)
    lines = []
    for r in rows:
        cost = f"  {dollars(r.cost)}" if r.state in (NEW, STALE) else f"  re-pay {dollars(r.cost)}" if r.state == LOST else ""
        reason = f"  ({r.reason})" if r.reason else ""
        reason += f"  [{marks[r.shot]}]" if r.shot in marks else ""
        state = "add" if r.state == NEW else "change" if r.state == STALE else "error" if r.state == LOST else ""
        host = f"  from {r.host}" if r.host and r.state not in (NEW, STALE) else ""
        lines.append([("", f"{r.name:<{width}}  "), (state, f"{r.label:<8}"), ("", f"{host}{cost}{reason}")])
    colour.write(lines, args)
    line = f"To bring the film up to date: {len(todo)} shot{'s' if len(todo) != 1 else ''} to render, {dollars(owed)}"
    if unpriced:
        line += f" (and unpriced: {', '.join(unpriced)})"
    print(line + ".")
    if lost:
        print(f"Lost: {', '.join(r.name for r in lost)} (paid, and no cache, remote or provider has the clip); "
              f"`storyboard render --repay SHOT` pays again ({dollars(repay)} for all).")
    if unused:
        print(f"Paid, not in the film: {len(unused)} clip{'s' if len(unused) != 1 else ''}, {dollars(total(unused))} "
              f"({', '.join(c.label for c in unused[:5])}{', …' if len(unused) > 5 else ''}); kept in the lock, so "
              "putting them back costs nothing; `storyboard lock prune` forgets them.")
    others = other_takes(compiled, where.lock, {c.entry.key for c in unused})
    if others:
        print(f"Other takes, paid and kept: {', '.join(label for label, _ in others)} "
              f"({dollars(sum((c for _, c in others if c is not None), Decimal(0)))}); `take: N` in a shot chooses "
              "one, at no cost.")
    print(spent_text(so_far))
    return EXIT_OK


def other_takes(compiled, lock, unused: set[str]) -> list[tuple[str, object]]:
    """(``meet#2``, cost) for each paid take of a film's shot that the film does not use."""
    chosen = {job.shot: job.take for job in compiled.plan.jobs}
    found = [(shot, take, entry) for shot, take, entry in lock.entries()
             if shot in chosen and take != chosen[shot] and entry.key not in unused]
    return [(shot if take == 1 else f"{shot}#{take}", entry.cost) for shot, take, entry in sorted(found, key=lambda
            f: (f[0], f[1]))]


def spent_text(so_far) -> str:
    """What the film has cost so far: every paid clip in its lock."""
    n = so_far.clips
    made = f" and {so_far.elements} element{'s' if so_far.elements != 1 else ''}" if so_far.elements else ""
    text = f"Spent on this film so far: {dollars(so_far.cost)} for {n} paid clip{'s' if n != 1 else ''}{made} in the lock"
    return text + (f" (and {so_far.unpriced} of unknown cost)." if so_far.unpriced else ".")


@without_cycle_collector
def cmd_takes(args) -> int:
    import json

    from ..plan.prices import fixed_or_none
    from ..review.status import cache_for
    from ..review.takes import list_elements, list_takes, write_sheet

    where = list(args.where)
    path = where.pop(0) if where and (Path(where[0]).exists() or where[0].endswith((".yaml", ".yml"))) else "."
    compiled = compile_for(args, path)
    print_warnings(compiled, args)
    cache = cache_for(compiled, args.cache, remote_arg(args), warn=lambda m: print(f"warning: {m}", file=sys.stderr))
    if args.sheet:
        if len(where) != 1:
            raise UsageError("--sheet makes the sheet of one shot: give PATH and one SHOT")
        shown, missing = write_sheet(compiled, cache, where[0], Path(args.sheet))
        if missing:
            print(f"warning: left off the sheet, their clips are not in the cache: take "
                  f"{', '.join(map(str, missing))} (`storyboard pull` or `storyboard render --takes`)", file=sys.stderr)
        print(f"{args.sheet}: {len(shown)} take{'s' if len(shown) != 1 else ''} of {where[0]} "
              f"({', '.join(map(str, shown))})")
        return EXIT_OK
    rows, elements = list_takes(compiled, cache, where), list_elements(compiled, cache, where)
    if args.json:
        print(json.dumps({"takes": [{"shot": r.shot, "take": r.take, "where": r.where, "state": r.state,
                                     "length": r.length, "cost": fixed_or_none(r.cost),
                                     "paid": r.paid, "chosen": r.chosen, "key": r.key} for r in rows],
                          "elements": [{"element": e.element, "state": e.state, "element_id": e.element_id or None,
                                        "cost": fixed_or_none(e.cost), "shots": e.shots} for e in elements]},
                         indent=2))
        return EXIT_OK
    width = max(4, *(len(r.shot) for r in rows))
    where = max(5, *(len(r.where) for r in rows))
    print(f"{'shot':<{width}}  {'take':>5}  {'where':<{where}}  {'length':>8}  cost")
    for r in rows:
        length = f"{r.length:.2f} s" if r.length else "-"
        cost = dollars(r.cost) + ("" if r.paid else " to render")
        take = ("*" if r.chosen else "") + str(r.take)
        print(f"{r.shot:<{width}}  {take:>5}  {r.where:<{where}}  {length:>8}  {cost}")
    print("* the take the film uses; choose another with `take: N` in the shot. "
          "More takes: `storyboard render --takes SHOT=N`.")
    for e in elements:  # made once: every take of the shots that send it sends the same id
        made = f"created (id {e.element_id})" if e.element_id else e.state
        cost = dollars(e.cost) + (" to make" if e.state in ("new", "changed") else "")
        print(f"element {e.element}: {made}, {cost}; sent by every take of {', '.join(e.shots)}")
    return EXIT_OK


@without_cycle_collector
def cmd_diff(args) -> int:
    from ..review.diffout import as_json, as_lines, as_markdown
    from ..review.compare import base_spec, diff_sides

    if args.base:
        if len(args.sides) > 1:
            raise UsageError("with --base, give one storyboard PATH")
        path = args.sides[0] if args.sides else "."
        old, new = base_spec(args.base, path), path
    elif len(args.sides) == 2:
        old, new = args.sides
    else:
        raise UsageError("give OLD and NEW, or --base REV PATH")
    d = diff_sides(old, new, provider=args.provider, base_url=os.environ.get("WAVESPEED_BASE_URL") or None,
                   prices=args.prices)
    if args.format == "json":
        sys.stdout.write(as_json(d))
    elif args.format == "text":
        colour.write(as_lines(d), args)
    elif args.format == "markdown":
        from ..plan.project import find_storyboard

        shown = find_storyboard(new)[1] if Path(new).is_dir() else new
        sys.stdout.write(as_markdown(d, shown))
    return EXIT_FAILED if args.exit_code and d.needs_render else EXIT_OK


def cmd_init(args) -> int:
    from ..review.scaffold import configure_git, init_project, running_command

    for path in init_project(Path(args.dir)):
        print(f"created {path}")
    for line in [] if args.no_git else configure_git(Path(args.dir), running_command()):
        print(line)
    return EXIT_OK


@without_cycle_collector
def cmd_textconv(args) -> int:
    from ..review.textconv import textconv

    sys.stdout.write(textconv(Path(args.file)))
    return EXIT_OK
