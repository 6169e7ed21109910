"""What the review page shows, gathered from the plan, the lock, the cache,
the review notes and (with a base revision) the diff: plain data for the
template, with every clip and still already handed to ``Media``."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ...plan.graph import dependency_label, is_dependency
from ...plan.prices import exact
from ...plan.project import Compiled
from ...plan.types import Job
from ...cut.captions import seconds_in_shot
from ...store.cache import ClipCache
from ..approvals import approvals
from ..diff import CHANGED, UNCHANGED, PlanDiff, ShotDiff, money
from ..status import HERE, LOST, NEW, REMOTE, STALE, Locator
from ..takes import Known, takes_of
from .media import Media
from ..words import word_diff

IMAGE_FIELDS = ("image", "images", "end_image", "last_image")


@dataclass
class Clip:
    url: str
    poster: str
    sha256: str


@dataclass
class Take:
    number: int
    chosen: bool
    key: str
    where: str
    length: str
    cost: str
    clip: Clip | None


@dataclass
class Ref:
    kind: str  # image, video, frame, element
    label: str
    url: str = ""
    poster: str = ""


@dataclass
class Change:
    status: str
    reason: str
    cost: str
    words: list[tuple[str, str]]  # (op, text): the prompt's words, "=" kept, "-" gone, "+" new
    old: Clip | None
    upstream: list[str] = field(default_factory=list)


@dataclass
class Shot:
    id: str
    index: int
    model: str
    duration: float
    start: float
    cost: str
    state: str
    reason: str
    prompt: str
    beats: list[tuple[str, float]]
    refs: list[Ref]
    takes: list[Take]
    chosen: Take | None
    approval: dict
    change: Change | None = None
    captions: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, text) in the clip


def clip_of(cache: ClipCache, key: str, state: str, media: Media) -> Clip | None:
    """The clip of ``key`` when the cache (or the remote) has it."""
    if state not in (HERE, REMOTE):
        return None
    got = cache.get_local(key) or (cache.get(key) if state == REMOTE else None)
    if got is None:
        return None
    url, poster = media.clip(got.record.sha256, got.path)
    return Clip(url, poster, got.record.sha256)


def starts(compiled: Compiled) -> dict[str, float]:
    """Where each shot starts in the film: after the one before, less the transition into it."""
    out, end = {}, 0.0
    for cs in compiled.plan.cut.shots:
        begin = max(0.0, end - (cs.transition.duration if cs.transition.type != "cut" else 0.0)) if out else 0.0
        out[cs.shot], end = begin, begin + cs.duration
    return out


def gather_shots(compiled: Compiled, cache: ClipCache, media: Media, diff: PlanDiff | None,
                 old_jobs: dict[str, Job], old_clip) -> list[Shot]:
    """A ``Shot`` per shot of the film, in cut order. ``old_clip(job)``: the base revision's clip of a job."""
    locator = Locator(compiled, cache)
    known = Known(compiled, cache, locator)  # the lock's takes and the cache's keys, gathered once
    marks = approvals(compiled)
    at = starts(compiled)
    diffs = {d.shot: d for d in diff.shots} if diff else {}
    jobs = {job.shot: job for job in compiled.plan.jobs}
    elements = {row.shot: row for row in locator.element_rows()}  # element:KEY → created, new, changed…
    shots = []
    for index, cs in enumerate(compiled.plan.cut.shots):
        if cs.card is not None:  # a title or end card: drawn by the cut, $0, no takes
            shots.append(Shot(cs.shot, index, "drawn locally", cs.duration, at.get(cs.shot, 0.0), money(Decimal(0)),
                              "drawn", "", " / ".join(cs.card.lines), [], [], [], None, {}))
            continue
        job = jobs[cs.shot]
        status = locator.locate(job)
        takes = [Take(r.take, r.chosen, r.key, r.where, f"{r.length:.2f} s" if r.length else "-",
                      money(r.cost) + ("" if r.paid else " to render"), clip_of(cache, r.key, r.state, media))
                 for r in takes_of(compiled, job, known)]
        mark = marks.get(job.shot)
        shots.append(Shot(job.shot, index, job.model, job.duration, at.get(job.shot, 0.0), money(job.cost),
                          status.label, status.reason, str(job.request.get("prompt", "")), _beats(job),
                          _refs(compiled, cache, job, media, elements), takes, next((t for t in takes if t.chosen), None),
                          mark.as_dict() if mark else {},
                          _change(diffs.get(job.shot), job, old_jobs, old_clip) if diff else None,
                          _captions(compiled, cs.shot, cs.duration)))
    return shots


def _captions(compiled: Compiled, shot: str, duration: float) -> list[tuple[float, float, str]]:
    """The shot's captions, timed in its clip."""
    items = compiled.plan.cut.captions.shots.get(shot, []) if compiled.plan.cut.captions else []
    return [(round(a, 3), round(b, 3), item.text) for item, (a, b) in zip(items, seconds_in_shot(items, duration))]


def _beats(job: Job) -> list[tuple[str, float]]:
    beats = job.request.get("multi_prompt") or []
    return [(str(b.get("prompt", "")), float(b.get("duration", 0))) for b in beats if isinstance(b, dict)]


def _refs(compiled: Compiled, cache: ClipCache, job: Job, media: Media, elements: dict | None = None) -> list[Ref]:
    """The job's inputs as the page shows them: stills, the reference video, upstream frames, element ids."""
    refs = []
    for name in (*IMAGE_FIELDS, "video"):
        values = job.request.get(name)
        for value in values if isinstance(values, list) else [values] if values is not None else []:
            refs.append(_ref(compiled, cache, job, media, name, value))
    refs += [_inline_ref(compiled, media, job, e) if isinstance(e, dict) and "inline" in e
             else _element_ref(compiled, media, e, elements or {}) for e in job.request.get("element_list") or []]
    return refs


def _inline_ref(compiled: Compiled, media: Media, job: Job, item: dict) -> Ref:
    """An element sent inline with the shot (fal): its frontal image, no job of its own."""
    label = f"element {item['inline']}, sent with the shot"
    path = job.media.get(item.get("frontal_image"))
    return Ref("image", label, media.still(compiled.root / path)) if path else Ref("element", label)


def _element_ref(compiled: Compiled, media: Media, item, states: dict) -> Ref:
    """An id made by hand (`{"element_id": "…"}`), or a declared element (`{"element": KEY}`): its frontal image,
    and its state like a shot's (created with its id, in flight, new or changed, and the cost)."""
    if not (isinstance(item, dict) and "element" in item):
        return Ref("element", f"element {item.get('element_id', '') if isinstance(item, dict) else item}")
    job = compiled.plan.element(f"element:{item['element']}")
    row = states.get(f"element:{item['element']}")
    label = f"element {item['element']}"
    if row is not None:
        label += f": {row.label}" + (f", {row.reason}" if row.reason else "")
        label += f", {money(row.cost)} to make" if row.state in (NEW, STALE) else ""
    if job is None or job.frontal is None:
        return Ref("element", label)
    return Ref("image", label, media.still(compiled.root / job.frontal))


def _ref(compiled: Compiled, cache: ClipCache, job: Job, media: Media, name: str, value) -> Ref:
    if is_dependency(value):
        label = f"{name}: {dependency_label(value)}"
        got = cache.get_local(value.get("key", ""))
        if got is None:
            return Ref("frame", label + " (not rendered yet)")
        if value.get("frame") is None:
            url, poster = media.clip(got.record.sha256, got.path)
            return Ref("video", label, url, poster)
        upstream = compiled.plan.job(value["shot"])
        still = media.frame(got.record.sha256, got.path, value["frame"], upstream.duration if upstream else None)
        return Ref("frame", label, still)
    if isinstance(value, str) and value.startswith("sha256:") and value in job.media:
        rel = job.media[value]
        path = compiled.root / rel
        if name == "video":
            url, poster = media.clip(value[7:], path)
            return Ref("video", rel, url, poster)
        return Ref("image", rel, media.still(path))
    return Ref("image", f"{name}: {value}")


def _change(d: ShotDiff | None, job: Job, old_jobs: dict[str, Job], old_clip) -> Change | None:
    if d is None or d.status == UNCHANGED:
        return None
    before = old_jobs.get(job.shot)
    old_prompt = str(before.request.get("prompt", "")) if before else ""
    words = word_diff(old_prompt, str(job.request.get("prompt", "")))
    upstream = [s for c in d.changes if c.note == "upstream" for s in c.after]
    cost = money(d.cost) if d.status in (CHANGED, "added") else money(Decimal(0))
    return Change(d.status, d.reason, cost, words, old_clip(before) if before else None, upstream)


def film_summary(compiled: Compiled, shots: list[Shot], locator_lock) -> dict:
    """The film's title, length, states counted, and money: planned, spent, left to pay."""
    counts: dict[str, int] = {}
    for s in shots:
        counts[s.state.split(" (")[0]] = counts.get(s.state.split(" (")[0], 0) + 1
    spent = sum((e.cost for _, _, e in locator_lock.paid() if e.cost is not None), Decimal(0))
    jobs = {job.shot: job for job in compiled.plan.jobs}
    owed = sum((jobs[s.id].cost for s in shots if s.state in (NEW, STALE, LOST) and jobs[s.id].cost is not None),
               Decimal(0))
    return {"title": compiled.plan.title or compiled.path.stem, "length": f"{compiled.plan.cut.duration:g} s",
            "counts": counts, "planned": money(compiled.plan.total_cost), "spent": money(exact(spent)),
            "left": money(exact(owed)), "shots": len(shots)}
