"""Commands of the format and plan stages: ``validate``, ``plan``, ``schema``."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import InvalidStoryboard, StoryboardError, UsageError
from . import colour
from .common import (EXIT_FAILED, EXIT_OK, add_path, command, compile_for, dollars, print_warnings, provider_options,
                     takes_option, write_atomic)


def register(sub) -> None:
    """Add this stage's commands to the parser."""
    p = command(sub, "validate", "check storyboards; print every error with its file:line:col")
    p.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                   help="storyboard files or project folders (default: the project here or above)")
    p.add_argument("--json", action="store_true", help="print what was found as JSON (each file, its errors and "
                   "warnings with their positions and codes)")
    provider_options(p)
    colour.color_option(p)
    p.set_defaults(run=cmd_validate)

    p = command(sub, "plan", "show the jobs a storyboard needs and what they cost, spending nothing")
    add_path(p)
    p.add_argument("--json", action="store_true", help="print the plan as canonical JSON")
    p.add_argument("--out", metavar="FILE", help="save the plan (canonical JSON) for `render --plan`")
    p.add_argument("--compare", action="store_true", help="the cost of each shot and of the film on each host the "
                   "catalog knows, the cheapest marked, and what each host cannot render (with --json: as JSON)")
    provider_options(p)
    takes_option(p)
    p.set_defaults(run=cmd_plan)

    p = command(sub, "schema", "print the storyboard JSON Schema, or write every schema")
    p.add_argument("--write", action="store_true", help="regenerate every file in the schemas folder")
    p.add_argument("--dir", default="schemas", metavar="DIR", help="the schemas folder for --write")
    p.set_defaults(run=cmd_schema)


def cmd_validate(args) -> int:
    if args.json:
        return _validate_json(args)
    status = EXIT_OK
    for path in args.paths:
        status = max(status, _validate_one(args, path))
    return status


def _validate_json(args) -> int:
    """``{"files": [{"file", "ok", "diagnostics", …}], "errors": N, "warnings": N}`` on stdout."""
    import json

    from ..format.warnings import code_of
    from ..plan.prices import fixed_or_none
    from ..plan.project import find_storyboard

    files = []
    for path in args.paths:
        entry: dict = {"file": path, "ok": False}
        try:
            entry["file"] = find_storyboard(path)[1]
            compiled = compile_for(args, path)
            found = compiled.warnings
            entry.update(ok=True, shots=len(compiled.plan.jobs), length=compiled.plan.cut.duration,
                         cost=fixed_or_none(compiled.plan.total_cost), unpriced=list(compiled.plan.unpriced))
        except InvalidStoryboard as exc:
            found = exc.diagnostics
        except StoryboardError as exc:
            found, entry["error"] = [], str(exc)
        entry["diagnostics"] = [{"file": d.file, "line": d.line, "column": d.column, "path": d.path,
                                 "severity": d.severity, "message": d.message, "code": code_of(d.message)}
                                for d in found]
        files.append(entry)
    count = {kind: sum(1 for f in files for d in f["diagnostics"] if d["severity"] == kind)
             for kind in ("error", "warning")}
    count["error"] += sum(1 for f in files if "error" in f)
    print(json.dumps({"files": files, "errors": count["error"], "warnings": count["warning"]}, indent=2,
                     ensure_ascii=False))
    return EXIT_OK if all(f["ok"] for f in files) else EXIT_FAILED


def _validate_one(args, path: str) -> int:
    """One storyboard checked: its diagnostics, then a line naming the file with what was found."""
    from ..plan.project import find_storyboard

    try:
        shown = find_storyboard(path)[1]
        compiled = compile_for(args, path)
    except InvalidStoryboard as exc:
        errors = len(exc.errors)
        warnings = len(exc.diagnostics) - errors
        colour.write([colour.diagnostic(d) for d in exc.diagnostics], args, sys.stderr)
        found = colour.counted(errors, warnings) + ("" if errors else " (--strict: warnings fail)")
        colour.write([[("bold", f"{shown}: "), ("error", found)]], args, sys.stderr)
        return EXIT_FAILED
    except StoryboardError as exc:
        colour.write([[("error", "error:"), ("", f" {exc}")]], args, sys.stderr)
        return EXIT_FAILED
    colour.write([colour.diagnostic(d) for d in compiled.warnings], args, sys.stderr)
    plan = compiled.plan
    shots, characters = len(plan.jobs), len(compiled.storyboard.characters)
    found = colour.counted(0, len(compiled.warnings))
    colour.write([[("bold", f"{shown}: "), ("ok", "ok"), ("", f": {shots} shot{'s' if shots != 1 else ''}, "
                   f"{characters} character{'s' if characters != 1 else ''}, {plan.cut.duration:g} s, "
                   f"{dollars(plan.total_cost)}" + (f" (+ {len(plan.unpriced)} unpriced)" if plan.unpriced else "")),
                   ("warning", f", {found}" if found else "")]], args)
    return EXIT_OK


def cmd_plan(args) -> int:
    if args.compare:
        return _compare(args)
    compiled = compile_for(args, args.path)
    print_warnings(compiled)
    if args.out:
        write_atomic(Path(args.out), compiled.plan.to_json())
        from ..review.status import cache_for, left_to_pay

        todo, owed, unknown = left_to_pay(compiled, cache_for(compiled, None))
        left = f"{dollars(owed)} left to pay for {todo} job{'s' if todo != 1 else ''} not yet paid"
        if unknown:
            left += f" (and unknown for {', '.join(unknown)})"
        jobs = len(compiled.plan.elements) + len(compiled.plan.all_jobs)  # elements, takes, deliverables too
        print(f"plan saved to {args.out}: {jobs} job{'s' if jobs != 1 else ''}, "
              f"{dollars(compiled.plan.total_cost)} for the film; {left}")
    elif args.json:
        sys.stdout.write(compiled.plan.to_json())
    else:
        from .owed import print_plan_owed

        print_plan_owed(compiled)
    return EXIT_OK


def _compare(args) -> int:
    import os

    from ..plan.compare import compare_hosts
    from .compare_output import comparison_json, comparison_text

    if args.out or args.takes:
        raise UsageError(f"--compare compares the film's shots on each host; it saves no plan and lists no takes "
                         f"(drop {'--out' if args.out else '--takes'})")
    comparison = compare_hosts(args.path, provider=args.provider, prices=args.prices,
                               base_url=os.environ.get("WAVESPEED_BASE_URL") or None)
    sys.stdout.write(comparison_json(comparison) if args.json else comparison_text(comparison))
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
