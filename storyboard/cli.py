"""The command line: parse arguments, call an operation, print, pick an exit code.

Exit codes: 0 success; 1 the storyboard or the operation failed; 2 usage;
3 an internal error (a bug); 4 refused by the budget guard; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .errors import InvalidStoryboard, StoryboardError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_BUDGET, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
ISSUES_URL = "the project's issue tracker"


def _provider_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", default="wavespeed", choices=["wavespeed", "preview"],
                   help="where the jobs go; part of every job key (default: wavespeed)")
    p.add_argument("--prices", metavar="FILE", help="a price list (YAML) to cost the plan with")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storyboard", description="A declarative storyboard compiler.")
    parser.add_argument("--version", action="version", version=f"storyboard {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check storyboards; print their errors with file:line:col")
    p.add_argument("paths", nargs="+", metavar="PATH", help="storyboard files or project folders")
    _provider_options(p)
    p.set_defaults(run=cmd_validate)

    p = sub.add_parser("plan", help="show the jobs a storyboard needs and what they cost")
    p.add_argument("path", metavar="PATH", help="a storyboard file or project folder")
    p.add_argument("--json", action="store_true", help="print the plan as canonical JSON")
    _provider_options(p)
    p.set_defaults(run=cmd_plan)

    p = sub.add_parser("schema", help="print the storyboard JSON Schema, or write every schema")
    p.add_argument("--write", action="store_true", help="regenerate every file in the schemas folder")
    p.add_argument("--dir", default="schemas", help="the schemas folder for --write (default: ./schemas)")
    p.set_defaults(run=cmd_schema)
    return parser


def _compile(args, path: str):
    from .project import compile_project

    return compile_project(
        path,
        provider=args.provider,
        base_url=os.environ.get("WAVESPEED_BASE_URL") or None,
        prices=args.prices,
        strict=args.strict,
    )


def _print_warnings(compiled) -> None:
    for warning in compiled.warnings:
        print(warning.format(), file=sys.stderr)


def cmd_validate(args) -> int:
    from .prices import dollars

    status = EXIT_OK
    for path in args.paths:
        try:
            compiled = _compile(args, path)
        except InvalidStoryboard as exc:
            print(exc, file=sys.stderr)
            status = EXIT_FAILED
            continue
        except StoryboardError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        _print_warnings(compiled)
        plan = compiled.plan
        shots = len(plan.jobs)
        warned = f", {len(compiled.warnings)} warning{'s' if len(compiled.warnings) != 1 else ''}" if compiled.warnings else ""
        print(
            f"{path}: ok: {shots} shot{'s' if shots != 1 else ''}, {len(compiled.storyboard.characters)} "
            f"character{'s' if len(compiled.storyboard.characters) != 1 else ''}, "
            f"{plan.cut.duration:g} s, {dollars(plan.total_cost)}{warned}"
        )
    return status


def cmd_plan(args) -> int:
    compiled = _compile(args, args.path)
    _print_warnings(compiled)
    if args.json:
        sys.stdout.write(compiled.plan.to_json())
    else:
        from .display import print_plan

        print_plan(compiled.plan)
    return EXIT_OK


def cmd_schema(args) -> int:
    from .schemas import schema_text, write_schemas
    from .model import Storyboard

    if args.write:
        for path in write_schemas(Path(args.dir)):
            print(path)
    else:
        sys.stdout.write(schema_text(Storyboard))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except InvalidStoryboard as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    except StoryboardError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
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
