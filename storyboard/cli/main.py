"""The command line: parse arguments, call an operation, print, pick an exit code.

Exit codes: 0 success; 1 the storyboard or the operation failed; 2 usage;
3 an internal error (a bug); 4 refused by the budget guard; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable, Sequence

from .. import __version__
from ..errors import InvalidStoryboard, StoryboardError
from . import (cache_commands, completion, lock_commands, plan_commands, remote_commands, render_commands, review_commands,
               site_commands)
from . import colour
from .streams import protected_streams
from .common import EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

ISSUES_URL = "the project's issue tracker"
EXIT_CODES = """exit codes:
  0    success
  1    the storyboard or the operation failed (the message says why)
  2    command-line usage
  3    an internal error (a bug: run again with --debug and report it)
  4    refused by the budget guard (--max-cost)
  130  interrupted (Ctrl-C); run the same command again to resume

PATH may be left out: the project is found in the current folder or above."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storyboard", description="A declarative storyboard compiler: YAML storyboards to costed, cached video jobs "
        "and a final cut.", epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"storyboard {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in (plan_commands, render_commands, cache_commands, remote_commands, review_commands, lock_commands,
                  site_commands, completion):
        stage.register(sub)
    parser.set_defaults(parser=parser)  # `completion` walks the whole parser
    return parser


def _innermost(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub)parser of the last command word given: ``cache verify`` → the parser of ``verify``."""
    while True:
        action = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, action.dest, None) if action else None
        if action is None or name not in action.choices:
            return parser
        parser = action.choices[name]


def main(argv: Sequence[str] | None = None) -> int:
    with protected_streams():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # as git does: what there is to do, rather than "COMMAND is required"
        sys.stdout.write(parser.format_help())
        return EXIT_USAGE
    args, extra = parser.parse_known_args(argv)
    if extra:  # the usage of the command that was given, not the top-level one
        _innermost(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except InvalidStoryboard as exc:
        colour.write([colour.diagnostic(d) for d in exc.diagnostics], args, sys.stderr)
        return EXIT_FAILED
    except StoryboardError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the machine said no (permissions, a full disk): not a bug of ours
        if args.debug:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        if args.command == "render":
            print("interrupted: submitted tasks stay in the journal; run the same command again to resume them",
                  file=sys.stderr)
        else:
            print(f"interrupted: `{args.command}` stopped; nothing was left half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception:
        if args.debug:
            traceback.print_exc()
        else:
            kind = sys.exc_info()[0].__name__
            print(
                f"internal error ({kind}): this is a bug in storyboard {__version__}. "
                f"Run again with --debug and report the output to {ISSUES_URL}.",
                file=sys.stderr,
            )
        return EXIT_INTERNAL
