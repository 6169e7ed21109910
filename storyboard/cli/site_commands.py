"""Commands of the review site: ``review`` (build it) and ``apply-review`` (decisions back into the repository)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .common import EXIT_FAILED, EXIT_OK, add_path, command, compile_for, print_warnings, provider_options, \
    remote_arg, remote_option


def register(sub) -> None:
    """Add this stage's commands to the parser."""
    p = command(sub, "review", "write a static review site of the film: shots, takes side by side, changes "
                "against a base revision, decisions to export")
    add_path(p)
    p.add_argument("--base", metavar="REV", help="show what changed since git revision REV, old and new clips "
                   "side by side")
    p.add_argument("--out", metavar="DIR", help="the site's folder (default: .storyboard/review in the project)")
    p.add_argument("--cache", metavar="DIR", help="the clip cache (default: $STORYBOARD_CACHE or .storyboard/cache)")
    remote_option(p)
    p.add_argument("--media-url", metavar="URL", help="refer to clips under URL (the remote's layout, "
                   "URL/objects/ab/<sha256>.mp4, or a URL with {sha256}) instead of copying them into DIR")
    provider_options(p)
    p.set_defaults(run=cmd_review)

    p = command(sub, "apply-review", "write a review's decisions back: chosen takes into the storyboard, "
                "approvals and notes beside it")
    p.add_argument("file", metavar="FILE", help="the decisions file the review site exported")
    add_path(p)
    provider_options(p)
    p.set_defaults(run=cmd_apply_review)


def cmd_review(args) -> int:
    from ..review.site.build import Options, build_site

    options = Options(base=args.base, out=Path(args.out) if args.out else None, cache=args.cache,
                      remote=remote_arg(args), media_url=args.media_url, provider=args.provider,
                      base_url=os.environ.get("WAVESPEED_BASE_URL") or None, prices=args.prices, strict=args.strict)
    index = build_site(args.path, options, warn=lambda m: print(f"warning: {m}", file=sys.stderr))
    print(index)
    return EXIT_OK


def cmd_apply_review(args) -> int:
    from ..review.approvals import review_path
    from ..review.decisions import apply_decisions, read_decisions

    decisions = read_decisions(Path(args.file))
    compiled = compile_for(args, args.path)
    print_warnings(compiled, args)
    outcome = apply_decisions(compiled, decisions, args.file)
    for line in outcome.applied:
        print(line)
    for line in outcome.refused:
        print(f"refused {line}", file=sys.stderr)
    if outcome.applied:
        print(f"{compiled.path.name}: {'takes written' if outcome.changed else 'takes unchanged'}; "
              f"notes and approvals in {review_path(compiled.path).name}")
    return EXIT_FAILED if outcome.refused else EXIT_OK
