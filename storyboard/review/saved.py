"""Saved plans (``plan --out``): reading one, and refusing to render it when
the storyboard no longer compiles to exactly it.

A saved plan may come from anyone (a pull request, a colleague's machine), so
it is read as untrusted input: whatever ``plan --out`` could not have written
(another shape, a number that is not finite, an unknown provider) is refused
with a message naming the file, before anything is compiled or sent."""

from __future__ import annotations

from pathlib import Path

from ..errors import StoryboardError
from ..format.files import FileTooLarge, NotRegularFile, read_bounded
from ..plan.types import PROVIDERS, Plan
from .diff import ADDED, CHANGED, REMOVED, diff_plans


def check_saved_plan(saved: Plan, current: Plan) -> None:
    """Refuse, naming what changed, when ``current`` is not exactly ``saved``."""
    if saved.to_json() == current.to_json():
        return
    d = diff_plans(saved, current)
    changed = [f"{s.shot} ({s.status})" for s in d.shots if s.status in (ADDED, CHANGED, REMOVED)]
    recut = [s.shot for s in d.shots if s.status == "re-cut only"]
    what = []
    if saved.origin != current.origin:  # every key changes with it: name the cause, not each shot
        what.append(f"the API address ({saved.origin} → {current.origin}; WAVESPEED_BASE_URL)")
        changed = []
    if changed:
        what.append("shots " + ", ".join(changed))
    if recut:
        what.append("the cut of " + ", ".join(recut))
    if d.film:
        what.append("the film's " + ", ".join(c.field for c in d.film))
    if saved.price_list != current.price_list or (not what and saved.total_cost != current.total_cost):
        what.append(f"the price list ({saved.price_list.name} → {current.price_list.name})")
    if not what:
        what.append("the plan's details")
    raise StoryboardError(
        f"the saved plan is stale: the storyboard now compiles differently in {'; '.join(what)}. "
        "Make and review a new plan with `storyboard plan PATH --out FILE`."
    )


MAX_PLAN_BYTES = 256 * 1024 * 1024


def load_saved_plan(path: str) -> Plan:
    """The plan saved at ``path``; a StoryboardError naming the file if it is not one."""
    plan = _read_plan(path)
    try:
        plan.to_json()  # what `plan --out` wrote can be written again: no NaN, no infinity
    except ValueError:
        raise StoryboardError(f"{path}: not a plan saved by `storyboard plan --out` (a number in it is not "
                              "finite)") from None
    if plan.provider not in PROVIDERS:
        raise StoryboardError(f"{path}: not a plan saved by `storyboard plan --out` (it names no known provider; "
                              f"one of: {', '.join(PROVIDERS)})")
    return plan


def _read_plan(path: str) -> Plan:
    try:
        return Plan.model_validate_json(read_bounded(Path(path), MAX_PLAN_BYTES))
    except FileNotFoundError:
        raise StoryboardError(f"{path}: no such plan file") from None
    except NotRegularFile as exc:
        raise StoryboardError(f"{path}: is {exc.kind}, not a plan file") from None
    except FileTooLarge:
        raise StoryboardError(f"{path}: larger than {MAX_PLAN_BYTES // 2**20} MiB; not a saved plan") from None
    except ValueError as exc:
        raise StoryboardError(f"{path}: not a plan saved by `storyboard plan --out` ({str(exc).splitlines()[0]})") from None
