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

from .. import __version__
from ..errors import InvalidStoryboard, StoryboardError, UsageError

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
    p.add_argument("--out", metavar="FILE", help="save the plan (canonical JSON) for `render --plan`")
    _provider_options(p)
    p.set_defaults(run=cmd_plan)

    p = sub.add_parser("status", help="which shots are cached, paid for, new or changed, and what is left to pay")
    p.add_argument("path", metavar="PATH", help="a storyboard file or project folder")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.add_argument("--cache", metavar="DIR", help="the clip cache (default: $STORYBOARD_CACHE or .storyboard/cache)")
    _provider_options(p)
    p.set_defaults(run=cmd_status)

    p = sub.add_parser("diff", help="what a change to a film changes, and what re-rendering costs")
    p.add_argument("sides", nargs="+", metavar="SIDE",
                   help="OLD NEW (each a storyboard path or REV:path), or with --base just PATH")
    p.add_argument("--base", metavar="REV", help="compare PATH in the working tree with PATH at git revision REV")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when something needs re-rendering")
    _provider_options(p)
    p.set_defaults(run=cmd_diff)

    p = sub.add_parser("init", help="start a story project (storyboard, refs/, git files, editor schema)")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR")
    p.set_defaults(run=cmd_init)

    p = sub.add_parser("textconv", help="a storyboard as reviewable text (git's diff driver)")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(run=cmd_textconv)

    p = sub.add_parser("render", help="render the shots that are not cached (pays for them), then record them")
    p.add_argument("path", metavar="PATH", help="a storyboard file or project folder")
    _provider_options(p)
    p.add_argument("--concurrency", type=_positive, default=3, help="tasks at once (default 3)")
    p.add_argument("--rate", type=_non_negative, default=5,
                   help="submits in any 60 s (default 5, WaveSpeed's lowest tier; 0 for no limit)")
    p.add_argument("--max-cost", type=_money, metavar="USD", help="refuse to start if the uncached cost is more")
    p.add_argument("--keep-going", action="store_true", help="a failed shot does not stop the others")
    p.add_argument("--cache", metavar="DIR", help="the clip cache (default: $STORYBOARD_CACHE or .storyboard/cache)")
    p.add_argument("--resubmit", action="append", default=[], metavar="SHOT",
                   help="forget SHOT's journalled task and submit it again (it may be paid twice)")
    p.add_argument("--plan", metavar="FILE", help="render exactly this saved plan, or refuse if it is stale")
    p.add_argument("--engine", default="ffmpeg", choices=["ffmpeg", "moviepy"], help="the stitch engine")
    p.add_argument("--no-stitch", action="store_true", help="render the clips but do not cut the film")
    p.set_defaults(run=cmd_render)

    p = sub.add_parser("stitch", help="cut the film from cached clips (no network, no API key)")
    p.add_argument("path", metavar="PATH", help="a storyboard file or project folder")
    p.add_argument("--provider", default="wavespeed", choices=["wavespeed", "preview"],
                   help="whose clips to cut; part of every job key (default: wavespeed)")
    p.add_argument("--engine", default="ffmpeg", choices=["ffmpeg", "moviepy"],
                   help="ffmpeg (fast, the default) or moviepy (the reference)")
    p.add_argument("--output", metavar="FILE", help="where to write the film (default: cut.output)")
    p.add_argument("--otio", metavar="FILE", help="also write an OpenTimelineIO timeline of the cut")
    p.add_argument("--cache", metavar="DIR", help="the clip cache (default: $STORYBOARD_CACHE or .storyboard/cache)")
    p.set_defaults(run=cmd_stitch, prices=None, strict=False)

    p = sub.add_parser("cache", help="look after the clip cache")
    cache_sub = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    v = cache_sub.add_parser("verify", help="re-hash every clip and report what is wrong")
    v.add_argument("path", nargs="?", default=".", metavar="PATH", help="a project (default: here)")
    v.add_argument("--cache", metavar="DIR", help="the cache folder to check")
    v.set_defaults(run=cmd_cache_verify)

    p = sub.add_parser("emulate", help="serve a local emulator of the WaveSpeed API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--task-seconds", type=float, default=2.0, help="how long each task runs (default 2)")
    p.add_argument("--api-key", help="accept only this key (default: any non-empty key)")
    p.add_argument("--fault", action="append", default=[], metavar="ON:KIND[:TIMES[:MATCH]]",
                   help="misbehave, e.g. submit:429, poll:503:3, download:truncate, submit:fail:1:storm")
    p.set_defaults(run=cmd_emulate)

    p = sub.add_parser("schema", help="print the storyboard JSON Schema, or write every schema")
    p.add_argument("--write", action="store_true", help="regenerate every file in the schemas folder")
    p.add_argument("--dir", default="schemas", help="the schemas folder for --write (default: ./schemas)")
    p.set_defaults(run=cmd_schema)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _money(text: str):
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text.lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount of dollars: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not an amount of dollars: {text!r}")
    return value


def _compile(args, path: str):
    from ..plan.project import compile_project

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
    from ..plan.prices import dollars

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
    if args.out:
        _write_atomic(Path(args.out), compiled.plan.to_json())
        print(f"plan saved to {args.out}: {len(compiled.plan.jobs)} jobs, {_dollars(compiled.plan.total_cost)}")
    elif args.json:
        sys.stdout.write(compiled.plan.to_json())
    else:
        from .display import print_plan

        print_plan(compiled.plan)
    return EXIT_OK


def _dollars(amount) -> str:
    from ..plan.prices import dollars

    return dollars(amount)


def _write_atomic(path: Path, text: str) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def cmd_status(args) -> int:
    import json

    from ..review.status import cache_for, status

    compiled = _compile(args, args.path)
    _print_warnings(compiled)
    rows = status(compiled, cache_for(compiled, args.cache))
    todo = [r for r in rows if r.state in ("new", "changed")]
    from decimal import Decimal

    from ..plan.prices import exact

    owed = exact(sum((r.cost for r in todo if r.cost is not None), start=Decimal(0)))
    unpriced = [r.shot for r in todo if r.cost is None]
    if args.json:
        print(json.dumps({"shots": [{"shot": r.shot, "state": r.state, "key": r.key,
                                     "cost": None if r.cost is None else str(r.cost)} for r in rows],
                          "to_render": len(todo), "cost": str(owed), "unpriced": unpriced}, indent=2))
        return EXIT_OK
    width = max(len(r.shot) for r in rows)
    for r in rows:
        cost = f"  {_dollars(r.cost)}" if r.state in ("new", "changed") else ""
        print(f"{r.shot:<{width}}  {r.state:<8}{cost}")
    paid = sum(1 for r in rows if r.state == "paid")
    line = f"To bring the film up to date: {len(todo)} shot{'s' if len(todo) != 1 else ''} to render, {_dollars(owed)}"
    if unpriced:
        line += f" (and unpriced: {', '.join(unpriced)})"
    print(line + ".")
    if paid:
        print(f"{paid} shot{'s' if paid != 1 else ''} paid for but not in this cache: whoever has the clips can re-cut.")
    return EXIT_OK


def cmd_diff(args) -> int:
    from ..review.diff import as_json, as_markdown, as_text
    from ..review.status import base_spec, diff_sides

    if args.base:
        if len(args.sides) != 1:
            raise UsageError("with --base, give one storyboard PATH")
        old, new = base_spec(args.base, args.sides[0]), args.sides[0]
    elif len(args.sides) == 2:
        old, new = args.sides
    else:
        raise UsageError("give OLD and NEW, or --base REV PATH")
    d = diff_sides(old, new, provider=args.provider, base_url=os.environ.get("WAVESPEED_BASE_URL") or None,
                   prices=args.prices)
    if args.format == "json":
        sys.stdout.write(as_json(d))
    elif args.format == "markdown":
        sys.stdout.write(as_markdown(d, new))
    else:
        sys.stdout.write(as_text(d))
    return EXIT_FAILED if args.exit_code and d.needs_render else EXIT_OK


def cmd_init(args) -> int:
    from ..review.scaffold import init_project

    for path in init_project(Path(args.dir)):
        print(f"created {path}")
    return EXIT_OK


def cmd_textconv(args) -> int:
    from ..review.scaffold import textconv

    sys.stdout.write(textconv(Path(args.file)))
    return EXIT_OK


def cmd_render(args) -> int:
    from ..errors import Diagnostic
    from ..plan.prices import dollars
    from .progress import Progress
    from ..render.executor import Options
    from ..render.run import render_project

    options = Options(args.concurrency, args.rate, args.max_cost, args.keep_going)
    saved = None
    if args.plan:
        from ..review.status import load_saved_plan

        saved = load_saved_plan(args.plan)
        args.provider = saved.provider
    result = render_project(
        args.path, provider=args.provider, prices=args.prices, strict=args.strict, cache=args.cache,
        options=options, resubmit=tuple(args.resubmit), progress=Progress,
        engine=None if args.no_stitch else args.engine, saved_plan=saved,
    )
    _print_warnings(result.compiled)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    report, plan = result.report, result.compiled.plan
    index = {shot.id: n for n, shot in enumerate(result.compiled.storyboard.shots)}
    display = str(result.compiled.path) if not Path(args.path).is_dir() else str(Path(args.path) / result.compiled.path.name)
    for outcome in report.failed:
        src = outcome.job.source
        print(Diagnostic(display, src.line, src.column, f"shots[{index[outcome.job.shot]}]", outcome.message).format(),
              file=sys.stderr)
    resumed = sum(1 for o in report.outcomes if o.resumed)
    new = report.count("done")
    print(
        f"{len(plan.jobs)} shot{'s' if len(plan.jobs) != 1 else ''}: {new} rendered"
        + (f" ({resumed} resumed)" if resumed else "")
        + f", {report.count('cached')} from the cache, {len(report.failed)} failed"
        + (f", {report.count('skipped')} not started" if report.count("skipped") else "")
        + f". Spent this run: {dollars(report.spent)}."
    )
    if result.film:
        print(f"Film: {result.film} ({plan.cut.duration:g} s)")
    return EXIT_FAILED if report.failed or report.count("skipped") else EXIT_OK


def cmd_stitch(args) -> int:
    from ..store.cache import ClipCache, cache_dir
    from ..cut.stitch import stitch

    compiled = _compile(args, args.path)
    _print_warnings(compiled)
    warnings: list[str] = []
    cache = ClipCache.at(cache_dir(compiled.root, args.cache), warnings.append)
    output = stitch(compiled.plan, compiled.root, cache, storyboard=args.path, engine=args.engine,
                    output=Path(args.output) if args.output else None, otio=Path(args.otio) if args.otio else None)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{output} ({compiled.plan.cut.duration:g} s, {len(compiled.plan.cut.shots)} shots)")
    if args.otio:
        print(f"timeline: {args.otio}")
    return EXIT_OK


def cmd_cache_verify(args) -> int:
    from ..store.cache import ClipCache, cache_dir
    from ..plan.project import find_storyboard

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
    return EXIT_FAILED if problems else EXIT_OK


def cmd_emulate(args) -> int:
    from ..providers.emulator import Emulator, Fault

    try:
        faults = [Fault.parse(f) for f in args.fault]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        emulator = Emulator(args.host, args.port, task_seconds=args.task_seconds, api_key=args.api_key, faults=faults)
    except OSError as exc:
        raise StoryboardError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"WaveSpeed emulator on {emulator.url} (tasks take {args.task_seconds:g} s). Use it with:", flush=True)
    print(f"  export WAVESPEED_BASE_URL={emulator.url} WAVESPEED_API_KEY=any-key", flush=True)
    try:
        emulator.serve()
    finally:
        emulator.stop()
    return EXIT_OK


def cmd_schema(args) -> int:
    from ..review.schemas import schema_text, write_schemas
    from ..format.model import Storyboard

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
    except OSError as exc:  # the machine said no (permissions, a full disk): not a bug of ours
        if args.debug:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted: submitted tasks stay in the journal; run the same command again to resume them",
              file=sys.stderr)
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
