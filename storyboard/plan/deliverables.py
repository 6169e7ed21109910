"""Cards and deliverables in the plan.

Title and end cards are places in the cut with no job: $0, keyed by what
they are made of. A deliverable is another film of the same storyboard:
``reframe`` cuts the master's clips again (cropped, $0); ``render`` compiles
the storyboard again at its aspect ratio, so its jobs get keys of their own
(the aspect ratio is part of each request) and are priced, paid once and
recovered like the master's. A shot whose model takes no aspect ratio keeps
its master job: the same key is one clip, never paid twice.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import PurePosixPath
from typing import Callable

from ..errors import UsageError
from ..format.media import MediaInfo
from ..format.model import Storyboard
from ..format.source import Reporter
from .finishing import CREDITS_SHOT, TITLE_SHOT, CardPlan, card_key
from .prices import exact
from .types import CutPlan, CutShot, DeliverablePlan, Job, Plan, TransitionPlan

MASTER = "master"  # the film `cut.output` is always a deliverable of this name
DELIVERABLE_MARK = "@"  # a deliverable's job is `SHOT@NAME`: no shot id has an @


def title_shot(sb: Storyboard, media: dict[str, MediaInfo], reporter: Reporter) -> CutShot | None:
    title = sb.cut.title
    if title is None:
        return None
    digest = None
    if title.image is not None:
        info = media.get(title.image)
        if info is None and title.image.startswith(("http://", "https://")):
            reporter.error(("cut", "title", "image"), "a title's background image must be a file inside the project")
        digest = info.digest if info is not None else None
    card = CardPlan(kind="title", lines=[title.text] + ([title.subtitle] if title.subtitle else []),
                    background=title.background, color=title.color, image=title.image, image_digest=digest)
    return CutShot(shot=TITLE_SHOT, key=card_key(card, title.seconds), duration=title.seconds,
                   transition=TransitionPlan(type="cut", duration=0), audio="none", card=card)


def credits_shot(sb: Storyboard, transition: TransitionPlan) -> CutShot | None:
    credits = sb.cut.credits
    if credits is None:
        return None
    card = CardPlan(kind="credits", lines=list(credits.lines), background=credits.background, color=credits.color,
                    rolling=credits.style == "rolling")
    return CutShot(shot=CREDITS_SHOT, key=card_key(card, credits.seconds), duration=credits.seconds,
                   transition=transition, audio="none", card=card)


def deliverable_plans(sb: Storyboard, plan: Plan, compile_at: Callable[[Storyboard], tuple[Plan, list[str]]],
                      reporter: Reporter) -> list[DeliverablePlan]:
    """Each deliverable of ``sb`` (one whose output is `cut.output` is the master itself)."""
    out: list[DeliverablePlan] = []
    seen: dict[str, int] = {MASTER: -1}
    for n, d in enumerate(sb.deliverables):
        if d.name in seen and (d.name != MASTER or d.output != plan.cut.output):
            reporter.error(("deliverables", n, "name"), f"duplicate deliverable name `{d.name}`" if d.name != MASTER
                           else "`master` names the film `cut.output`; give this one another name")
            continue
        seen[d.name] = n
        if not _output_ok(d.output, ("deliverables", n, "output"), reporter):
            continue
        cut = plan.cut.model_copy(update={"output": d.output})
        if d.output == plan.cut.output:  # the master, listed among the deliverables: made by the cut itself
            out.append(DeliverablePlan(name=d.name, aspect_ratio=d.aspect_ratio, output=d.output, method="master",
                                       cost=Decimal(0), cut=plan.cut))
        elif d.method == "reframe":
            focus = {s.id: _xy(s.focus) for s in sb.shots if s.focus}
            out.append(DeliverablePlan(name=d.name, aspect_ratio=d.aspect_ratio, output=d.output, method="reframe",
                                       cost=Decimal(0), resolution=d.resolution, focus=focus, cut=cut))
        else:
            out.append(_rendered(sb, plan, n, compile_at, reporter))
    return out


def _rendered(sb: Storyboard, plan: Plan, n: int, compile_at, reporter: Reporter) -> DeliverablePlan:
    d = sb.deliverables[n]
    if d.resolution:
        reporter.error(("deliverables", n, "resolution"), "a rendered deliverable is the size its clips come back; "
                       "`resolution` is for `method: reframe`")
    again, problems = compile_at(at_ratio(sb, d.aspect_ratio))
    for problem in problems[:3]:  # said where the deliverable asks for the ratio
        reporter.error(("deliverables", n, "aspect_ratio"), f"rendered at {d.aspect_ratio}, {problem}")
    master = {job.key for job in plan.jobs}
    jobs = [_renamed(job, d.name) for job in again.jobs if job.key not in master]
    cost = exact(sum((j.cost for j in jobs if j.cost is not None), Decimal(0)))
    keys = {job.shot: job.key for job in again.jobs}
    shots = [cs if cs.card is not None else cs.model_copy(update={"key": keys.get(cs.shot, cs.key)})
             for cs in plan.cut.shots]
    fmt = plan.cut.format.model_copy(update={"width": None, "height": None})  # the clips' own size
    cut = plan.cut.model_copy(update={"output": d.output, "shots": shots, "format": fmt})
    return DeliverablePlan(name=d.name, aspect_ratio=d.aspect_ratio, output=d.output, method="render",
                           cost=cost, jobs=jobs, cut=cut)


def at_ratio(sb: Storyboard, ratio: str) -> Storyboard:
    """``sb`` with every aspect ratio it sets, and its default, at ``ratio`` (a model that takes
    none still takes none: an inherited setting applies only where the model takes it)."""
    shots = [s.model_copy(update={"aspect_ratio": ratio}) if s.aspect_ratio else s for s in sb.shots]
    return sb.model_copy(update={"defaults": sb.defaults.model_copy(update={"aspect_ratio": ratio}),
                                 "shots": shots, "deliverables": []})


def _renamed(job: Job, name: str) -> Job:
    return job.model_copy(update={"shot": f"{job.shot}{DELIVERABLE_MARK}{name}",
                                  "depends_on": [f"{s}{DELIVERABLE_MARK}{name}" for s in job.depends_on]})


def _xy(focus: list[float]) -> list[float]:
    return [focus[0], focus[1] if len(focus) > 1 else 0.5]


def _output_ok(output: str, where: tuple, reporter: Reporter) -> bool:
    path = PurePosixPath(output)
    if path.is_absolute() or ".." in path.parts or "\\" in output or "\0" in output or not path.suffix:
        reporter.error(where, f"`{output}` must be a file path inside the project folder, relative to the "
                       "storyboard, with an extension such as .mp4")
        return False
    return True


def with_deliverables(plan: Plan, made: list[DeliverablePlan]) -> Plan:
    """``plan`` with its deliverables, their jobs in the total."""
    if not made:
        return plan
    extra = [j for d in made for j in d.jobs]
    total = exact(plan.total_cost + sum((j.cost for j in extra if j.cost is not None), Decimal(0)))
    unpriced = plan.unpriced + [j.shot for j in extra if j.cost is None]
    return plan.model_copy(update={"deliverables": made, "total_cost": total, "unpriced": unpriced})


def card_cut(cut: CutPlan) -> list[CutShot]:
    return [cs for cs in cut.shots if cs.card is not None]


def chosen_film(plan: Plan, name: str | None) -> list[DeliverablePlan | None]:
    """The films to make: None for the master, then each deliverable; ``name`` picks one of them."""
    made = [d for d in plan.deliverables if d.method != "master"]
    if name is None:
        return [None, *made]
    if name == MASTER or any(d.name == name and d.method == "master" for d in plan.deliverables):
        return [None]
    chosen = [d for d in made if d.name == name]
    if not chosen:
        raise UsageError(f"--deliverable {name}: there is no such deliverable in {plan.storyboard}; the films are: "
                         + ", ".join([MASTER, *(d.name for d in made)]))
    return chosen


def for_film(plan: Plan, name: str | None) -> Plan:
    """``plan`` with only the jobs the film ``name`` needs (all of them without a name)."""
    if name is None:
        return plan
    (film,) = chosen_film(plan, name)
    if film is None:
        return plan.model_copy(update={"deliverables": []})
    if film.method == "reframe":
        return plan.model_copy(update={"deliverables": [film]})
    keys = {cs.key for cs in film.cut.shots}
    return plan.model_copy(update={"jobs": [j for j in plan.jobs if j.key in keys],
                                   "takes": [j for j in plan.takes if j.key in keys], "deliverables": [film]})


def film_jobs(plan: Plan) -> list[Job]:
    """The jobs of every film: the master's, then each rendered deliverable's (``SHOT@NAME``)."""
    return plan.jobs + [job for d in plan.deliverables for job in d.jobs]
