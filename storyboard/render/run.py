"""``storyboard render``: compile, then render what is not cached, then record it.

Gathers the pieces (cache, journal, provider, uploads, progress) around the
executor in ``executor`` and writes the lock and the clips afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shlex
import tempfile
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Callable

from ..store.cache import cache_dir, project_cache
from ..store.claims import Claims, drop_claim
from ..store.remote import FolderRemote
from ..errors import StoryboardError, UsageError
from ..format.files import TEMP_PREFIX, remove_stale
from .journal import Journal
from .lock import Lock, LockEntry, lock_path, read_lock, write_lock
from .recover import project_paid, recover_paid, refuse
from ..plan.select import select
from ..catalog import load_catalog
from ..plan.types import BASE_URLS, DEFAULT_BASE_URL, Plan, base_url_from
from ..plan.project import Compiled, compile_project, find_storyboard, price_list_problem
from ..cut.ready import Readying
from ..cut.reframe import ready_reframes
from ..plan.deliverables import chosen_film, for_film
from .executor import Events, Options, Renderer, Report
from .quote import Quote, check_take_limit, quote
from ..store.storage import LocalStorage
from .uploads import UploadBook
from .checks import budget_check
from .elements import ElementMaker, folder_elements, needed_elements, resolved

STATE = ".storyboard"


@dataclass
class RenderResult:
    compiled: Compiled
    report: Report
    film: Path | None
    warnings: list[str] = field(default_factory=list)
    not_cut: list[str] = field(default_factory=list)  # `only`: the film's shots with no clip, so no film
    selected: Plan | None = None  # `only`: the jobs this run was to make (else: the compiled plan's)
    films: list[tuple[str, Path]] = field(default_factory=list)  # (name, path) of each film cut: master first


def state_storage(root: Path) -> LocalStorage:
    return LocalStorage(root / STATE)


def render_project(
    arg: str,
    *,
    provider: str | None = None,
    prices: str | None = None,
    strict: bool = False,
    cache: str | None = None,
    options: Options | None = None,
    resubmit: tuple[str, ...] = (),
    progress: Callable[..., object] | None = None,
    env: dict | None = None,
    transport=None,
    clock=None,
    engine: str | None = "ffmpeg",
    saved_plan=None,
    accept_plan: Callable[[Plan], None] | None = None,
    repay: tuple[str, ...] = (),
    wall_clock: Callable[[], float] = time.time,
    remote_flag: str | None = None,
    takes: dict[str, int] | None = None,
    only: list[str] | None = None,
    confirm: Callable[[Quote], None] | None = None,
    yes: bool = False,
    deliverable: str | None = None,
) -> RenderResult:
    """Render what is not cached, record it in the lock, and cut the film with
    ``engine`` (None: do not cut) when every shot has its clip.

    ``saved_plan`` sets the provider and price list to compile with;
    ``accept_plan`` is shown the compiled plan before anything is spent and
    raises to refuse it (the CLI passes the saved-plan check from review).
    A shot already paid for (its key in the lock) whose clip is missing is
    recovered from the provider, or refused before any submit unless it is in
    ``repay`` (shot ids, or ``all``). ``takes`` asks for takes 1..N of
    shots (``SHOT``/``all`` → N) in the same run; ``only`` renders just those
    shots (``SHOT`` or ``SHOT#N``) and the shots they are built on. ``confirm``
    is shown what will be paid now, before any request, and raises to refuse;
    takes past ``MAX_TAKES`` are refused unless ``yes``."""
    env = os.environ if env is None else env
    if saved_plan is not None:
        provider = saved_plan.provider
        if prices is None and saved_plan.price_list.source != "built-in":
            root = find_storyboard(arg)[0].resolve().parent
            problem = price_list_problem(root / saved_plan.price_list.source, root, saved_plan.price_list.source)
            if problem:
                raise StoryboardError(f"the saved plan names a price list it cannot use: {problem}")
            prices = str(root / saved_plan.price_list.source)
    compiled = compile_project(arg, provider=provider, base_url=env.get("WAVESPEED_BASE_URL") or DEFAULT_BASE_URL,
                               prices=prices, strict=strict, takes=takes, env=env)
    provider = compiled.plan.provider  # --provider, else the storyboard's
    if accept_plan is not None:
        accept_plan(compiled.plan)
    plan, root = for_film(compiled.plan, deliverable), compiled.root  # --deliverable: that film's jobs alone
    plan = select(plan, only, load_catalog(provider)) if only else plan  # --only: those shots and their inputs
    warnings: list[str] = []
    lock = preflight(compiled, cache_dir(root, cache), paid=provider != "preview", cut=bool(engine))
    clip_cache = project_cache(root, cache=cache, remote=remote_flag, storyboard_remote=compiled.storyboard.remote,
                               warn=warnings.append)
    paid_here = project_paid(compiled.path, lock) if lock is not None else {}  # every lock of the folder, read once
    claims_backend = clip_cache.remote or FolderRemote(cache_dir(root, cache))  # with no remote: beside the cache
    journal = Journal(state_storage(root))
    for shot in resubmit:
        job = compiled.plan.job(shot) or plan.job(shot) or plan.element(shot)
        if job is None:
            raise UsageError(f"--resubmit {shot}: there is no such shot (or SHOT#TAKE) in {compiled.path.name}")
        journal.forget(job.key)
        drop_claim(claims_backend, job.key)
    remote = local = None
    if provider == "preview":
        from functools import partial

        from ..providers.preview import render_card

        faces = {e.character: (e.name, e.frontal) for e in plan.elements}  # who is in each shot, on its card
        local = partial(render_card, elements=faces) if faces else render_card
    else:
        # The key is needed only for what is not cached; check it before anything is sent.
        missing = [j for j in plan.all_jobs if clip_cache.get(j.key) is None]
        remote = remote_hosts(plan, env, missing, transport)
    repaying = _repaying(compiled.plan, repay, compiled.path.name, plan)
    paid = set(paid_here) - {j.key for j in plan.all_jobs if _named(j, repaying)}
    options = _with_budget(options or Options(), compiled)
    if options.command == Options.command:
        options = replace(options, command=render_command(arg, provider))
    paid_elements = folder_elements(compiled.path, lock) if lock is not None else {}
    to_pay = quote(plan, clip_cache, journal, paid, {k for k in paid_elements if not _named_element(k, plan, repaying)})
    check_take_limit(plan, to_pay, takes or {}, yes)
    budget_check(to_pay.jobs, None, options.max_cost, options.budget_name)
    if confirm is not None and to_pay.jobs and provider != "preview":  # previews are free
        confirm(to_pay)  # before the first request; it raises to refuse
    estimate = sum((j.cost for j in plan.all_jobs if j.cost is not None and clip_cache.record(j.key) is None),
                   Decimal(0))

    readying = Readying(plan.cut, clip_cache) if engine == "ffmpeg" else None
    in_film = {cs.key for cs in plan.cut.shots}
    reframes = any(d.method == "reframe" for d in plan.deliverables)

    def landed(job, clip) -> None:  # while the provider renders the rest, the cut's work on this clip
        if readying is not None and job.key in in_film:
            readying.landed(clip.path, job.duration)
            if reframes:  # a reframed deliverable's clip, made while the provider renders the rest
                readying.also(ready_reframes, plan, job.shot, clip.path, clip_cache)


    order = {job.label: i for i, job in enumerate(plan.all_jobs)}

    async def go(events: Events) -> Report:
        claims = Claims(claims_backend, wall_clock=wall_clock) if remote is not None else None  # paid jobs only
        renderer = Renderer(plan, root, clip_cache, options=options, events=events, provider=remote, local=local,
                            journal=journal, uploads=UploadBook(root), clock=clock, paid=paid, claims=claims,
                            landed=landed)
        try:
            if remote is not None and any(clip_cache.record(j.key) is None for j in plan.all_jobs):
                await remote.check_access()
            if lock is not None:  # paid clips missing here: from the provider, or a refusal before any submit
                lost = [item for item in await recover_paid(plan, paid_here, clip_cache, remote, events)
                        if not _named(item.job, repaying)]
                if lost:
                    raise refuse(lost, options.command)
            blocked, made = await _elements(renderer, root, journal, claims, remote, paid_elements, repaying, options,
                                            events, clock, compiled, wall_clock)
            report = await renderer.run()
            report.elements = made
            report.outcomes = sorted(report.outcomes + blocked, key=lambda o: order[o.job.label])
            return report
        finally:
            if claims is not None:
                claims.close()
            if remote is not None:
                await remote.aclose()

    report = Report()
    try:
        if progress is None:
            report = asyncio.run(go(lambda *a: None))
        else:
            with progress(plan, estimate) as events:
                report = asyncio.run(go(events))
    except BaseException:
        if readying is not None:
            readying.finish(cancel=True)  # what is running ends (its files are whole or not kept)
        raise
    finally:
        if provider != "preview" and report.outcomes:
            _update_lock(compiled, report, wall_clock)
    if readying is not None:
        readying.finish()
    film, films, not_cut = None, [], []
    if engine and report.outcomes and not report.failed and not report.count("skipped"):
        not_cut = _not_rendered(compiled.plan, deliverable, clip_cache) if only else []
        if not not_cut:
            made = stitch_all(compiled.plan, compiled.root, clip_cache, storyboard=arg, engine=engine, only=deliverable)
            film, films = made[0][1], made
    return RenderResult(compiled, report, film, warnings, not_cut=not_cut, selected=plan if only else None,
                        films=films if film else [])


def _with_budget(options: Options, compiled: Compiled) -> Options:
    """``--max-cost`` as given, else the storyboard's ``max_cost:``."""
    budget = getattr(compiled.storyboard, "max_cost", None)
    if options.max_cost is None and budget is not None:
        return replace(options, max_cost=budget, budget_name=f"max_cost in {compiled.path.name}")
    return options


def remote_hosts(plan: Plan, env, missing: list, transport=None):
    """The client of the plan's host, or of each host its jobs go to (a shot's own `provider:`)."""
    names = list(dict.fromkeys([plan.provider] + [plan.host(job)[0] for job in plan.all_jobs]))
    clients = {name: remote_provider(name, env, [j for j in missing if plan.host(j)[0] == name], transport)
               for name in names}
    if len(names) == 1:
        return clients[plan.provider]
    from ..providers.hosts import Hosts

    return Hosts(clients, plan.provider)


def remote_provider(provider: str, env, missing: list, transport=None):
    """The client of the paid host (its key read from ``env``), or None when nothing is to be
    rendered and no key is set; the key's absence stops the render before anything is sent."""
    if provider == "fal":
        from ..providers.fal import KEY_VARIABLE, Fal, fal_key_from_env

        if env.get(KEY_VARIABLE, "").strip() or missing:
            return Fal(fal_key_from_env(env), base_url_from(env, "fal") or BASE_URLS["fal"], transport=transport)
        return None
    from ..providers.wavespeed import KEY_VARIABLE, WaveSpeed, api_key_from_env

    if env.get(KEY_VARIABLE, "").strip() or missing:
        return WaveSpeed(api_key_from_env(env), env.get("WAVESPEED_BASE_URL") or DEFAULT_BASE_URL, transport=transport)
    return None


async def _elements(renderer: Renderer, root, journal, claims, remote, paid, repaying, options, events, clock,
                    compiled: Compiled, wall_clock) -> tuple[list, list]:
    """The elements the shots still to be made send: found in a lock or made now, and recorded in the lock; the
    renderer's plan then sends their ids. Returns the shots that cannot be started and the elements' outcomes."""
    plan = renderer.plan
    if remote is None or not plan.elements:
        return [], []
    unmade = [j for j in plan.all_jobs if await asyncio.to_thread(renderer.cache.get, j.key) is None]
    needed = needed_elements(plan, unmade)
    if not needed:
        return [], []
    to_pay = [e for e in needed if e.key not in paid or e.label in repaying]
    for e in needed:
        if e.label in repaying and claims is not None:  # its kept claim would lead back to the element paid for
            drop_claim(claims.backend, e.key)
    budget_check(to_pay + [j for j in {j.key: j for j in unmade}.values()], journal, options.max_cost)
    maker = ElementMaker(root=root, provider=remote, journal=journal, claims=claims, cache=renderer.cache,
                         uploads=UploadBook(root), paid=paid, repaying=repaying, options=options, events=events,
                         clock=clock)
    made = await maker.run(needed)
    await asyncio.to_thread(maker.settle, made, lock_path(compiled.path), remote.origin, wall_clock())
    renderer.plan, blocked = resolved(plan, made, unmade, options.keep_going)
    return blocked, made


def _not_rendered(plan: Plan, deliverable: str | None, cache) -> list[str]:
    """The shots of the films this render cuts that have no clip (a title or end card is drawn at the cut)."""
    missing: dict[str, None] = {}
    for film in chosen_film(plan, deliverable):
        mark = f"@{film.name}" if film is not None and film.method == "render" else ""
        for cs in (plan.cut if film is None else film.cut).shots:
            if cs.card is None and cache.record(cs.key) is None:
                missing[cs.shot + mark] = None
    return list(missing)


def render_command(arg: str, provider: str) -> str:
    """The command that renders this project again, as the user would type it."""
    return f"storyboard render {shlex.quote(arg)}" + ("" if provider == "wavespeed" else f" --provider {provider}")


def preflight(compiled: Compiled, cache: Path, *, paid: bool, cut: bool) -> Lock | None:
    """Everything that would otherwise fail only after paying, checked before
    the first request: the lock parses, and the cache, the journal, the lock's
    folder and the film's folder can be written. Leftovers of a killed run
    are cleaned up on the way. Returns the lock of a paid render."""
    remove_stale(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"))
    lock = None
    if paid:
        lock = read_lock(lock_path(compiled.path))  # raises, naming the file, when it does not parse
        _writable(compiled.root, f"the project folder (for {lock_path(compiled.path).name})")
    _writable(cache, "the clip cache")
    _writable(compiled.root / STATE, "the project's state folder")
    if cut:
        _writable((compiled.root / compiled.plan.cut.output).parent, "the film's folder (cut.output)")
    return lock


def _writable(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StoryboardError(f"{folder}: {what} cannot be written ({exc.strerror or exc}); "
                              "nothing was sent or paid") from None


def _repaying(plan: Plan, repay: tuple[str, ...], name: str, selected: Plan) -> set[str]:
    """Shot ids (every take of them) and ``SHOT#N`` labels (that take) to pay again; ``selected``:
    the jobs this run makes (``--only`` may name a take the plan does not have)."""
    if "all" in repay:
        return {job.shot for job in plan.all_jobs}  # the deliverables' SHOT@NAME too
    unknown = [shot for shot in repay if plan.job(shot) is None and selected.job(shot) is None
               and plan.element(shot) is None]
    if unknown:
        raise UsageError(f"--repay {unknown[0]}: there is no such shot (or SHOT#TAKE) in {name}")
    return set(repay)


def _named(job, names: set[str]) -> bool:
    return job.shot in names or job.label in names


def _named_element(key: str, plan: Plan, names: set[str]) -> bool:
    """Whether ``--repay`` names the element whose key is ``key`` (``element:mara``)."""
    return any(e.key == key and e.label in names for e in plan.elements)


def _update_lock(compiled: Compiled, report: Report, wall_clock: Callable[[], float] = time.time) -> None:
    path = lock_path(compiled.path)
    lock = read_lock(path)
    known = project_paid(compiled.path, lock)
    lock.retire_shots({job.shot for job in compiled.plan.all_jobs})  # the deliverables' jobs too (SHOT@NAME)
    now = dt.datetime.fromtimestamp(wall_clock(), dt.timezone.utc).isoformat(timespec="seconds")
    for outcome in report.outcomes:
        if outcome.clip is None:
            continue
        record = outcome.clip.record
        before = known.get(outcome.job.key)
        completed = now if outcome.state == "done" or before is None else before.completed_at
        inputs = outcome.inputs or (before.inputs if before is not None else {})
        lock.put(outcome.job.shot, outcome.job.take, LockEntry(
            key=outcome.job.key, model=outcome.job.model, origin=compiled.plan.host(outcome.job)[1], task_id=record.task_id,
            clip="sha256:" + record.sha256, duration=record.duration, cost=outcome.job.cost, completed_at=completed,
            inputs=inputs,
        ))
    try:
        write_lock(path, lock)
    except OSError as exc:  # a full disk: the clips are cached, so a rerun records them without paying
        raise StoryboardError(f"{path}: the lock could not be written ({exc.strerror or exc}); the clips paid for "
                              "are in the cache: free some space and run the same render again to record them "
                              "(nothing is paid again)") from None


def stitch_all(*args, **kwargs):
    from ..cut.deliver import stitch_all as cut_all

    return cut_all(*args, **kwargs)
