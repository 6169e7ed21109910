"""``storyboard lock prune``: forget paid clips the film no longer uses, saying what money that abandons."""

from __future__ import annotations

import argparse

from .common import EXIT_OK, add_path, command, compile_for, dollars, print_warnings


def register(sub) -> None:
    """Add ``lock`` and its subcommands to the parser."""
    lock = command(sub, "lock", "the lock of paid clips: `storyboard lock prune` forgets the ones the film no "
                   "longer uses")
    verbs = lock.add_subparsers(dest="lock_command", required=True, metavar="SUBCOMMAND")
    p = command(verbs, "prune", "forget paid clips the storyboard no longer uses (shots taken out, earlier versions, "
                "takes of another request); re-rendering them later pays again")
    add_path(p)
    p.add_argument("--older-than", type=_days, metavar="DAYS",
                   help="only clips whose task completed more than DAYS days ago (a clip with no date is kept)")
    p.add_argument("--dry-run", action="store_true", help="say what would be forgotten, change nothing")
    # Only paid renders write a lock: its keys are WaveSpeed's, so the film's keys are compiled for it.
    p.set_defaults(run=cmd_prune, provider=None, prices=None, strict=False)


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text}") from None
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError("must be between 0 and 100000 days")
    return value


def cmd_prune(args) -> int:
    from ..render.lock import lock_path
    from ..review.paid import prune, total

    compiled = compile_for(args, args.path)
    print_warnings(compiled, args)
    result = prune(compiled, older_than_days=args.older_than, dry_run=args.dry_run)
    name = lock_path(compiled.path).name
    if not result.forgotten:
        print(f"Nothing to prune: every paid clip in {name} " + (
            "is in the film." if not (result.kept_young or result.kept_elsewhere) else "that is not in the film is kept "
            "(below)."))
    else:
        verb = "Would forget" if args.dry_run else "Forgot"
        n = len(result.forgotten)
        print(f"{verb} {n} paid clip{'s' if n != 1 else ''} not in the film, {dollars(result.cost)} abandoned: "
              "storyboard no longer recovers them, and rendering them again pays again.")
        for clip in result.forgotten:
            done = clip.entry.completed()
            when = f"paid {done:%Y-%m-%d}" if done else "paid on an unknown date"
            print(f"  - {clip.label}  {dollars(clip.entry.cost)}  {when}  key {clip.entry.key[:12]}  "
                  f"task {clip.entry.task_id}")
    if result.kept_young:
        print(f"Kept {len(result.kept_young)} not in the film, {dollars(total(result.kept_young))}: completed "
              f"{args.older_than:g} days ago or less, or on an unknown date.")
    if result.kept_elsewhere:
        print(f"Kept {len(result.kept_elsewhere)} paid at another API address, {dollars(total(result.kept_elsewhere))}"
              ": prune with that WAVESPEED_BASE_URL to forget them.")
    if result.forgotten and not args.dry_run:
        print(f"{name} updated; commit it to forget them for the whole team.")
    return EXIT_OK
