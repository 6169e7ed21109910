"""A validated storyboard and its media digests to a ``Plan``: a pure function.

No network, no clock, no environment: the provider, its origin and the price
list come in as arguments. Every rule the storyboard breaks is reported to
the reporter (with its position); the caller raises them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Mapping

from ..catalog import Catalog, load_catalog
from ..format.media import MediaInfo
from ..format.model import Storyboard, Transition
from .types import (CutPlan, CutShot, FormatPlan, Job, MusicPlan, Plan, PriceListRef, Source, TransitionPlan, job_key,
                    provider_origin)
from .prices import BUILTIN, PriceList, builtin_prices, exact, job_cost
from .captions import captions_plan
from .graph import link, with_keys
from .hosts import check_host
from .elements import fill_elements, plan_elements
from .inline import inline_request, unmade_elements
from .takes import MAX_TAKES, take_of
from .deliverables import credits_shot, deliverable_plans, title_shot, with_deliverables
from ..format.rules import BuiltShot, ShotBuilder, ShotContext
from ..format.source import Reporter
from ..format.warnings import drop_ignored, warn
from ..format.template import CharacterRef, Templates

DEFAULT_TRANSITION_SECONDS = 0.5


@dataclass(frozen=True)
class Target:
    """Where the jobs go and how they are priced."""

    provider: str
    origin: str
    prices: PriceList
    price_source: str  # "built-in" or the price list's path relative to the project
    others: Mapping[str, "Target"] = field(default_factory=dict)  # the hosts a shot's own `provider:` may name

    def host(self, name: str | None) -> "Target":
        """Where a shot whose `provider:` is ``name`` goes: this target for none (or for a preview, which
        renders every shot), else that host at its address with its prices (built-in, unless given)."""
        if name is None or name == self.provider or self.provider == "preview":
            return self
        return self.others.get(name) or Target(name, provider_origin(name), builtin_prices(name), BUILTIN)


def compile_plan(
    sb: Storyboard,
    *,
    storyboard_file: str,
    media: dict[str, MediaInfo],
    catalog: Catalog,
    target: Target,
    reporter: Reporter,
    skip_shots: frozenset[int] = frozenset(),
    broken_characters: frozenset[str] = frozenset(),
) -> Plan:
    """The plan for ``sb``; problems go to ``reporter``.

    ``skip_shots`` and ``broken_characters`` name what failed structural
    validation already (reported): they are left out, not reported again.
    """
    _check_names(sb, reporter, skip_shots)
    ctx = ShotContext(sb, catalog, media, _templates(sb), reporter, set(broken_characters))
    hosts = [target.host(shot.provider) for shot in sb.shots]  # each shot's host: its own, else the film's
    contexts = {target.provider: ctx}
    shot_ctx = [contexts.setdefault(t.provider, replace(ctx, catalog=load_catalog(t.provider))) for t in hosts]
    built: list[BuiltShot | None] = [
        None if n in skip_shots else ShotBuilder(shot_ctx[n], n, shot).build() for n, shot in enumerate(sb.shots)
    ]
    check_host(sb, [c.catalog for c in shot_ctx], reporter, skip_shots)
    graph = link(sb, built, catalog, reporter)
    ids = {n for n in graph.order if shot_ctx[n].catalog.element_ids}  # the shots whose host takes element ids
    elements = plan_elements(sb, {n: built[n].request for n in ids}, media, catalog, target, storyboard_file, reporter)
    made: dict[int, Job] = {}
    keys: dict[str, str] = {}  # shot id → the key of its chosen take, for the shots downstream
    said: set[str] = set()  # characters whose element a host cannot take, reported once
    for n in graph.order:
        shot, result = sb.shots[n], built[n]
        result.request = fill_elements(with_keys(result.request, keys), elements)
        host, host_catalog = hosts[n], shot_ctx[n].catalog
        if n in ids:
            unmade_elements(sb, n, result.request, catalog, reporter)
        else:  # fal: declared elements go inline, with the shot
            result.request, files = inline_request(sb, n, result.request, media, host_catalog, reporter, said)
            result.media.update(files)
        job = _job(sb, n, result, host, storyboard_file, reporter, host_catalog.endpoint(result.model, result.request))
        if host is not target:  # a shot on another host than the film's names its own
            job = job.model_copy(update={"provider": host.provider, "origin": host.origin})
        if shot.take != 1:
            job = take_of(job, shot.take, target.provider, target.origin, host_catalog)
            if shot.take > MAX_TAKES:
                warn(reporter, "W006", ("shots", n, "take"), f"take {shot.take} is past {MAX_TAKES} takes of a shot: "
                                 f"rendering it needs `render --yes` (`--takes {shot.id}={shot.take} --yes`: "
                                 f"takes 1–{shot.take})")
        if graph.upstream.get(n):
            job = job.model_copy(update={"depends_on": [sb.shots[m].id for m in graph.upstream[n]]})
        made[n] = job
        keys.setdefault(shot.id, job.key)
    jobs = [made[n] for n in sorted(made)]
    built = [result if n in made else None for n, result in enumerate(built)]
    cut = _cut(sb, jobs, built, media, reporter)
    drop_ignored(reporter, sb.ignore_warnings, {n: shot.ignore_warnings for n, shot in enumerate(sb.shots)})
    unpriced = [e.label for e in elements.values() if e.cost is None] + [job.shot for job in jobs if job.cost is None]
    total = exact(sum((job.cost for job in [*elements.values(), *jobs] if job.cost is not None), Decimal(0)))
    plan = Plan(
        storyboard=storyboard_file,
        title=sb.title,
        provider=target.provider,
        origin=target.origin,
        price_list=PriceListRef(
            name=target.prices.name, as_of=target.prices.as_of.isoformat(), source=target.price_source
        ),
        total_cost=total,
        unpriced=unpriced,
        jobs=jobs,
        cut=cut,
        elements=list(elements.values()),
    )
    if not sb.deliverables:
        return plan
    again = dict(storyboard_file=storyboard_file, media=media, catalog=catalog, target=target,
                 skip_shots=skip_shots, broken_characters=broken_characters)
    return with_deliverables(plan, deliverable_plans(sb, plan, lambda other: _quietly(other, again, reporter), reporter))


def _quietly(sb: Storyboard, args: dict, reporter: Reporter) -> tuple[Plan, list[str]]:
    """``sb`` compiled again (a deliverable at its own ratio), and the errors the master did not have."""
    scratch = Reporter(reporter.file, reporter.source)
    plan = compile_plan(sb, reporter=scratch, **args)
    said = {(d.path, d.message) for d in reporter.diagnostics}
    return plan, [f"{d.path}: {d.message}" for d in scratch.diagnostics
                  if d.severity == "error" and (d.path, d.message) not in said]


def _templates(sb: Storyboard) -> Templates:
    characters = {
        key: CharacterRef(key, c.name if c.name is not None else key, c.description)
        for key, c in sb.characters.items()
    }
    return Templates(sb.vars, characters)


def _check_names(sb: Storyboard, reporter: Reporter, skip: frozenset[int]) -> None:
    first: dict[str, int] = {}
    for n, shot in enumerate(sb.shots):
        if n in skip:
            continue
        if shot.id in first:
            line = reporter.source.position(("shots", first[shot.id], "id"))[0]
            reporter.error(("shots", n, "id"), f"duplicate shot id `{shot.id}` (first used on line {line})")
        else:
            first[shot.id] = n
    for key in sb.vars:
        if key in sb.characters:
            reporter.error(("vars", key), f"`{key}` is both a var and a character; rename one", key=True)


def _job(sb: Storyboard, n: int, built: BuiltShot, target: Target, file: str, reporter: Reporter,
         model: str) -> Job:
    """``model``: where the host takes the job (fal's endpoint; on WaveSpeed the model id itself)."""
    if target.provider == "preview":
        cost: Decimal | None = Decimal(0)
    elif not built.duration:
        # A model that takes its length from a URL video: that length, and so
        # the cost, cannot be known without fetching the video. Unknown, never $0.
        cost = None
        warn(
            reporter, "W007", ("shots", n, "video"),
            "the length of a URL video is not known before the render, so this shot's cost is unknown and "
            "`--max-cost` refuses it; download the clip into the project to plan its length and cost",
        )
    else:
        cost = job_cost(
            target.prices, model, built.duration, video=built.has_video, sound=bool(built.request.get("sound"))
        )
        if cost is None:
            warn(
                reporter, "W008", ("shots", n),
                f"the price list `{target.prices.name}` has no price for `{model}`: this shot's cost is unknown",
            )
    line, column = reporter.source.position(("shots", n))
    return Job(
        shot=sb.shots[n].id,
        key=job_key(target.provider, target.origin, model, built.request),
        model=model,
        request=built.request,
        media=dict(sorted(built.media.items())),
        duration=built.duration,
        cost=cost,
        source=Source(file=file, line=line, column=column),
    )


def _transition(t: Transition | None) -> TransitionPlan:
    if t is None or t.type == "cut":
        return TransitionPlan(type="cut", duration=0)
    duration = DEFAULT_TRANSITION_SECONDS if t.duration is None else t.duration
    return TransitionPlan(type=t.type, duration=duration)


def _cut(sb: Storyboard, jobs: list[Job], built: list[BuiltShot | None], media, reporter: Reporter) -> CutPlan:
    _check_output(sb.cut.output, reporter)
    by_shot = {job.shot: job for job in jobs}
    title = title_shot(sb, media, reporter)
    shots: list[CutShot] = [title] if title else []
    left_out = False  # a shot before this one could not be built (its errors are reported)
    for n, (shot, result) in enumerate(zip(sb.shots, built)):
        if result is None or shot.id not in by_shot:
            left_out = True
            continue
        transition = _transition(shot.transition or sb.cut.transition)
        if shot.transition and shot.transition.type == "cut" and shot.transition.duration:
            warn(reporter, "W009", ("shots", n, "transition", "duration"), "a cut has no duration; it is ignored")
        if not shots:
            if shot.transition and shot.transition.type != "cut" and not left_out:
                warn(reporter, "W010", ("shots", n, "transition"), "the first shot has no shot before it; its transition is ignored")
            transition = TransitionPlan(type="cut", duration=0)
        shots.append(CutShot(shot=shot.id, key=by_shot[shot.id].key, duration=result.duration,
                             transition=transition, audio=result.audio, mute=shot.mute))
    credits = credits_shot(sb, _transition(sb.cut.transition)) if shots else None
    shots += [credits] if credits else []
    _check_overlaps(sb, shots, reporter)
    total = sum(Decimal(str(s.duration)) for s in shots) - sum(Decimal(str(s.transition.duration)) for s in shots)
    _check_music_length(sb, media, float(total), reporter)
    return CutPlan(output=sb.cut.output, shots=shots, music=_music(sb, media), duration=float(total),
                   format=_format(sb), loudness=sb.cut.loudness,
                   captions=captions_plan(sb, {s.shot: s.duration for s in shots}, reporter))


def _format(sb: Storyboard) -> FormatPlan:
    width, height = (int(n) for n in sb.cut.resolution.split("x")) if sb.cut.resolution else (None, None)
    return FormatPlan(width=width, height=height, fps=sb.cut.fps, quality=sb.cut.quality)


def _check_overlaps(sb: Storyboard, shots: list[CutShot], reporter: Reporter) -> None:
    """Each transition overlaps two shots: it must fit in both, after the
    transition that already overlaps the earlier one."""
    index = {shot.id: n for n, shot in enumerate(sb.shots)}
    for before, cs in zip(shots, shots[1:]):
        t = cs.transition
        if t.duration == 0:
            continue
        n = index.get(cs.shot)  # None: a card, whose transition is the cut's
        where = ("shots", n, "transition") if n is not None and sb.shots[n].transition else ("cut", "transition")
        taken = before.transition.duration
        if t.duration > cs.duration:
            reporter.error(where, f"the {t.duration:g} s {t.type} is longer than shot `{cs.shot}` ({cs.duration:g} s)")
        elif taken + t.duration > before.duration:
            after = f" after the {taken:g} s transition into it" if taken else ""
            reporter.error(
                where,
                f"the {t.duration:g} s {t.type} is longer than what is left of shot `{before.shot}` "
                f"({before.duration:g} s{after})",
            )


def _check_output(output: str, reporter: Reporter) -> None:
    path = PurePosixPath(output)
    if path.is_absolute() or ".." in path.parts or "\\" in output or "\0" in output:
        reporter.error(("cut", "output"), f"`{output}` must be a path inside the project folder, relative to the storyboard")
    elif not path.suffix:
        reporter.error(("cut", "output"), f"`{output}` needs a file extension such as .mp4")


def _check_music_length(sb: Storyboard, media: dict[str, MediaInfo], film: float, reporter: Reporter) -> None:
    music = sb.cut.music
    info = media.get(music.file) if music else None
    if music is None or music.loop or info is None or not info.duration or info.duration >= film:
        return
    warn(reporter, "W011", ("cut", "music"), f"the music ({info.duration:g} s) is shorter than the film ({film:g} s) and "
                                       f"does not loop: the last {film - info.duration:g} s have no music; "
                                       "remove `loop: false` to repeat it")


def _music(sb: Storyboard, media: dict[str, MediaInfo]) -> MusicPlan | None:
    music = sb.cut.music
    if music is None:
        return None
    info = media.get(music.file)
    return MusicPlan(
        file=music.file,
        digest=info.digest if info else "",
        volume=music.volume,
        duck=music.duck,
        fade_in=music.fade_in,
        fade_out=music.fade_out,
        loop=music.loop,
    )
