"""Commands of the render and cut stages: ``render``, ``stitch``, ``emulate`` (``cache``: cache_commands)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ..errors import StoryboardError, UsageError
from .common import (EXIT_FAILED, EXIT_OK, add_path, command, compile_for, dollars, money, non_negative, port, positive,
                     print_warnings, provider_options, remote_arg, remote_option, takes_option,
                     takes_wanted)
from .finishing_display import deliverable_option


def register(sub) -> None:
    """Add this stage's commands to the parser."""
    p = command(sub, "render", "render the shots that are not cached (pays for them), record them, cut the film")
    add_path(p)
    provider_options(p)
    p.add_argument("--concurrency", type=positive, default=3, metavar="N", help="tasks at once")
    p.add_argument("--rate", type=non_negative, default=5, metavar="N",
                   help="submits in any 60 s (WaveSpeed's lowest tier is 5; 0 for no limit)")
    p.add_argument("--max-cost", type=money, metavar="USD", help="refuse to start if the uncached cost is more "
                   "(default: the storyboard's `max_cost:`, else no limit)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before paying (a terminal asks; a pipe "
                   "never does), and allow takes past 20 of a shot")
    p.add_argument("--only", action="extend", nargs="+", default=[], metavar="SHOT",
                   help="render only these shots (SHOT or SHOT#N) and the shots they are built on; the film is "
                        "cut when every shot it needs has its clip")
    p.add_argument("--keep-going", action="store_true", help="a failed shot does not stop the others")
    p.add_argument("--cache", metavar="DIR", help="the clip cache (default: $STORYBOARD_CACHE or .storyboard/cache)")
    p.add_argument("--resubmit", action="append", default=[], metavar="SHOT",
                   help="forget SHOT's journalled task and submit it again (it may be paid twice); "
                        "`element:KEY` names a character's element")
    p.add_argument("--repay", action="append", default=[], metavar="SHOT",
                   help="pay again for SHOT (or `all`) although it was paid for and its clip cannot be recovered; "
                        "`element:KEY` makes a character's element again")
    p.add_argument("--plan", metavar="FILE", help="render exactly this saved plan, or refuse if it is stale")
    p.add_argument("--engine", default="ffmpeg", choices=["ffmpeg", "moviepy"],
                   help="the stitch engine: ffmpeg (fast) or moviepy (the reference)")
    p.add_argument("--no-stitch", action="store_true", help="render the clips but do not cut the film")
    p.add_argument("--json", action="store_true", help="end with a JSON summary on stdout instead of the sentence")
    takes_option(p)
    remote_option(p)
    deliverable_option(p)
    p.set_defaults(run=cmd_render)

    p = command(sub, "stitch", "cut the film from the clips in the cache, read through the team's remote when there "
                "is one (no API key, no request to the provider)")
    add_path(p)
    p.add_argument("--provider", default=None, choices=["wavespeed", "fal", "preview"],
                   help="whose clips to cut; part of every job key (default: the storyboard's `provider:`)")
    p.add_argument("--engine", default="ffmpeg", choices=["ffmpeg", "moviepy"],
                   help="ffmpeg (fast) or moviepy (the reference)")
    p.add_argument("--output", metavar="FILE", help="where to write the film (default: cut.output)")
    p.add_argument("--otio", metavar="FILE", help="also write an OpenTimelineIO timeline of the cut")
    remote_option(p)
    p.add_argument("--cache", metavar="DIR", help="the clip cache (default: $STORYBOARD_CACHE or .storyboard/cache)")
    deliverable_option(p)
    p.set_defaults(run=cmd_stitch, prices=None, strict=False)

    p = command(sub, "emulate", "serve a local emulator of the WaveSpeed API, for tests and demos")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    p.add_argument("--port", type=port, default=8765, help="the port to listen on (0: any free port)")
    p.add_argument("--task-seconds", type=float, default=2.0, metavar="SECONDS", help="how long each task runs")
    p.add_argument("--retention", type=float, default=7 * 24 * 3600, metavar="SECONDS",
                   help="how long a finished task's outputs are kept, as WaveSpeed keeps them (7 days)")
    p.add_argument("--api-key", help="accept only this key (default: any non-empty key)")
    p.add_argument("--log", metavar="FILE", help="append every request received to FILE, one JSON line each")
    p.add_argument("--fault", action="append", default=[], metavar="ON:KIND[:TIMES[:MATCH]]",
                   help="misbehave, e.g. submit:429, poll:503:3, download:truncate, submit:fail:1:storm")
    p.set_defaults(run=cmd_emulate)


def cmd_render(args) -> int:
    from ..errors import Diagnostic
    from .progress import Progress
    from ..render.executor import Options
    from ..render.run import render_project
    from .confirm import asker, interactive

    options = Options(args.concurrency, args.rate, args.max_cost, args.keep_going)
    saved = None
    if args.plan:
        from ..review.saved import check_saved_plan, load_saved_plan

        saved = load_saved_plan(args.plan)
        args.provider = saved.provider
    only = _only(args)  # first: it may take the project's PATH from the end of --only
    result = render_project(
        args.path, provider=args.provider, prices=args.prices, strict=args.strict, cache=args.cache,
        options=options, resubmit=tuple(args.resubmit), repay=tuple(args.repay), progress=Progress,
        engine=None if args.no_stitch else args.engine, saved_plan=saved,
        accept_plan=None if saved is None else lambda plan: check_saved_plan(saved, plan),
        remote_flag=remote_arg(args), takes=takes_wanted(args), only=only, yes=args.yes, deliverable=args.deliverable,
        confirm=None if args.yes or not interactive() else asker(),
    )
    print_warnings(result.compiled)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    report, plan = result.report, result.selected or result.compiled.plan
    index = {shot.id: n for n, shot in enumerate(result.compiled.storyboard.shots)}
    display = str(result.compiled.path) if not Path(args.path).is_dir() else str(Path(args.path) / result.compiled.path.name)
    blocked = [o for o in report.outcomes if o.state == "skipped" and "whose output it takes" in o.message]
    in_film = {id(job) for job in plan.jobs}  # by identity: comparing jobs field by field is quadratic at scale
    for outcome in report.failed + blocked:
        src = outcome.job.source
        shot, _, film = outcome.job.shot.partition("@")  # a rendered deliverable's job is SHOT@FILM
        extra = outcome.job.take != 1 or (not film and id(outcome.job) not in in_film)
        take = f"take {outcome.job.take}: " if extra else ""
        take = f"{film} ({outcome.job.shot}): {take}" if film else take
        print(Diagnostic(display, src.line, src.column, f"shots[{index[shot]}]",
                         take + outcome.message).format(), file=sys.stderr)
    resumed = sum(1 for o in report.outcomes if o.resumed)
    if args.json:
        print(_summary_json(report, plan, result.film, resumed, result.not_cut, result.films))
    else:
        _print_summary(report, plan, result.film, resumed, result.films)
        if result.not_cut:
            print(not_cut_text(result.not_cut))
    return EXIT_FAILED if report.failed or report.count("skipped") else EXIT_OK


def _only(args) -> list[str]:
    """``--only``'s shots; ``render --only a b PATH`` takes PATH as the project, as ``render PATH --only a b`` does."""
    from ..plan.select import parse_only

    names = parse_only(args.only)
    if names and args.path == "." and (names[-1].endswith((".yaml", ".yml")) or Path(names[-1]).is_dir()):
        args.path = names.pop()
    return names


def not_cut_text(shots: list[str]) -> str:
    """``render --only`` left shots of the film without clips: no film, and why."""
    n = len(shots)
    named = ", ".join(shots[:5]) + (", …" if n > 5 else "")
    return (f"the film was not cut: {n} shot{'s are' if n != 1 else ' is'} not rendered ({named}); "
            "`storyboard render` renders the rest and cuts it")


def _summary_json(report, plan, film, resumed: int, not_cut: list[str] = (), films=()) -> str:
    import json

    from ..plan.prices import fixed

    return json.dumps({
        "shots": len(plan.jobs), "takes": len(plan.takes), "rendered": report.count("done"), "resumed": resumed,
        "cached": report.count("cached"), "failed": [o.job.label for o in report.failed],
        "not_started": [o.job.label for o in report.outcomes if o.state == "skipped"],
        "spent": fixed(report.spent), "film": str(film) if film else None,
        "length": plan.cut.duration if film else None, "not_cut": list(not_cut),
        "elements": {e.job.character: {"state": e.state, "element_id": e.element_id or None}
                     for e in report.elements},
        **({"films": {name: str(path) for name, path in films}} if plan.deliverables else {}),
    }, indent=2, ensure_ascii=False)


def _print_summary(report, plan, film, resumed: int, films=()) -> None:
    new = report.count("done")
    print(
        f"{len(plan.jobs)} shot{'s' if len(plan.jobs) != 1 else ''}"
        + (f" and {len(plan.takes)} other take{'s' if len(plan.takes) != 1 else ''}" if plan.takes else "")
        + (f" and {again} for the other films" if (again := sum(len(d.jobs) for d in plan.deliverables)) else "")
        + f": {new} rendered"
        + (f" ({resumed} resumed)" if resumed else "")
        + f", {report.count('cached')} from the cache, {len(report.failed)} failed"
        + (f", {report.count('skipped')} not started" if report.count("skipped") else "")
        + f". Spent this run: {dollars(report.spent)}."
    )
    if report.elements:
        made = sum(1 for e in report.elements if e.state == "done")
        print(f"Elements: {made} made, {sum(1 for e in report.elements if e.state == 'cached')} from the lock, "
              f"{sum(1 for e in report.elements if e.state == 'failed')} failed.")
    if film:
        print(f"Film: {film} ({plan.cut.duration:g} s)")
    for name, path in films[1:]:
        print(f"Film {name}: {path}")


def cmd_stitch(args) -> int:
    from ..cut.stitch import MissingClips
    from ..store.cache import project_cache

    compiled = compile_for(args, args.path)
    print_warnings(compiled)
    warnings: list[str] = []
    cache = project_cache(compiled.root, cache=args.cache, remote=remote_arg(args),
                          storyboard_remote=compiled.storyboard.remote, warn=warnings.append)
    fromlock = _from_lock(compiled, cache, args)
    try:
        made = cut_films(fromlock.plan, compiled, cache, args)
    except MissingClips as exc:
        advice = fromlock.advice(args.path)
        if advice:
            raise MissingClips(fromlock.plan, exc.shots, args.path, advice.replace("{", "{{").replace("}", "}}")) from None
        raise _with_preview_advice(exc, args, cache) from None
    if fromlock.note():
        print(fromlock.note(), file=sys.stderr)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for name, output in made:
        prefix = "" if name == "master" else f"{name}: "
        print(f"{prefix}{output} ({compiled.plan.cut.duration:g} s, {len(compiled.plan.cut.shots)} shots)")
    if args.otio:
        print(f"timeline: {args.otio}")
    return EXIT_OK


def _from_lock(compiled, cache, args):
    """The clips the lock says the film is made of, when this shell's API address names others (a clone)."""
    from ..render.lockcut import LockCut, compiled_at, cut_from_lock

    if compiled.plan.provider == "preview":  # previews are never in a lock
        return LockCut(compiled.plan)
    return cut_from_lock(compiled, cache, compiled_at(args.path, compiled.plan.provider))


def cut_films(plan, compiled, cache, args) -> list:
    """Each film `stitch` makes: (name, path); ``--output`` and ``--otio`` apply to the first."""
    from ..cut.deliver import stitch_film
    from ..plan.deliverables import MASTER, chosen_film

    chosen = chosen_film(plan, args.deliverable)
    made = []
    for n, film in enumerate(chosen):
        path = stitch_film(plan, film, compiled.root, cache, storyboard=args.path, engine=args.engine,
                           output=Path(args.output) if args.output and not n else None,
                           otio=Path(args.otio) if args.otio and not n else None)
        made.append((MASTER if film is None else film.name, path))
    return made


def _with_preview_advice(exc, args, cache):
    """After a preview-only render, point at the preview cut rather than a paid render."""
    from ..cut.stitch import MissingClips

    if args.provider == "preview":
        return exc
    args.provider = "preview"
    try:
        preview = compile_for(args, args.path).plan
    except StoryboardError:
        return exc
    if any(cache.record(cs.key) is None for cs in preview.cut.shots):
        return exc
    return MissingClips(preview, exc.shots, args.path,
                        f"this film has only been rendered as a preview: cut that with "
                        f"`storyboard stitch {args.path} --provider preview`, or pay for the real clips with "
                        f"`storyboard render {args.path}` (see `storyboard plan` for the cost)")


def cmd_emulate(args) -> int:
    from ..providers.emulator import Emulator, Fault

    try:
        faults = [Fault.parse(f) for f in args.fault]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        emulator = Emulator(args.host, args.port, task_seconds=args.task_seconds, api_key=args.api_key, faults=faults,
                            retention=args.retention, log=Path(args.log) if args.log else None)
    except OSError as exc:
        if exc.filename:  # the --log file
            raise StoryboardError(f"{exc.filename}: {exc.strerror or exc}") from None
        raise StoryboardError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    # The default --rate 5 is WaveSpeed's own limit, which the emulator does not have.
    print(f"WaveSpeed emulator on {emulator.url} (tasks take {args.task_seconds:g} s; render at full speed with "
          "`storyboard render --rate 0`). Use it with:", flush=True)
    key = shlex.quote(args.api_key) if args.api_key else "any-key"  # the key it accepts, ready to paste
    print(f"  export WAVESPEED_BASE_URL={emulator.url} WAVESPEED_API_KEY={key}", flush=True)
    print(f"  or, for fal's protocol: export FAL_BASE_URL={emulator.url} FAL_KEY={key}", flush=True)
    if args.log:
        print(f"Every request is logged to {args.log} (JSON lines).", flush=True)
    try:
        emulator.serve()
    finally:
        emulator.stop()
    return EXIT_OK
