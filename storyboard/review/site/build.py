"""``storyboard review``: the static review site of a film at this revision.

Gathers everything first (plan, lock, cache, review notes, the diff against a
base revision), then writes: ``index.html`` (the project's own Jinja2
template, autoescaped), ``static/`` (the page's script and style, shipped as
package data), ``chapters.vtt`` (a chapter per shot of the film) and
``media/`` (clips, posters and stills, placed by content). No network, no
CDN: the folder works from ``file://``, a CI artifact or any static host."""

from __future__ import annotations

import json

from contextlib import ExitStack
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ...format.media import STATE_DIR
from ...plan.project import Compiled, compile_project
from ...plan.types import Job
from ...render.lock import Lock, lock_path, read_lock
from ...errors import StoryboardError
from ...store.cache import ClipCache, file_sha256
from ..compare import added_takes, base_spec, compile_side
from ..diff import PlanDiff, diff_plans
from ..gitio import _git
from ..status import cache_for
from .media import Media
from .model import Clip, film_summary, gather_shots

DEFAULT_OUT = Path(STATE_DIR) / "review"
STATIC = ("site.js", "site.css")


@dataclass
class Options:
    base: str | None = None
    out: Path | None = None
    cache: str | None = None
    remote: str | None = None
    media_url: str | None = None
    provider: str = "wavespeed"
    base_url: str | None = None
    prices: str | None = None
    strict: bool = False


def build_site(path: str, options: Options, warn=lambda message: None) -> Path:
    """Write the site for the storyboard at ``path``; returns its ``index.html``."""
    compiled = compile_project(path, provider=options.provider, base_url=options.base_url, prices=options.prices,
                               strict=options.strict)
    cache = cache_for(compiled, options.cache, options.remote, warn=warn)
    out = Path(options.out) if options.out else compiled.root / DEFAULT_OUT
    media = Media(out, compiled.root / STATE_DIR / "posters", options.media_url)
    with ExitStack() as stack:
        old = _base_side(path, options, compiled, stack) if options.base else None
        diff = _diff(old, compiled) if options.base else None
        old_jobs = {job.shot: job for job in old.plan.jobs} if old else {}
        shots = gather_shots(compiled, cache, media, diff, old_jobs, lambda job: _clip(cache, job, media))
    film = _film(compiled, media)
    revision, dirty = revision_of(compiled.path)
    page = {"storyboard": compiled.path.name, "revision": revision, "dirty": dirty, "base": options.base or "",
            "shots": [{"id": s.id, "chosen": s.chosen.number if s.chosen else 1, "start": s.start, "duration": s.duration,
                       "clip": s.chosen.clip.url if s.chosen and s.chosen.clip else "",
                       "captions": [{"start": a, "end": b, "text": text} for a, b, text in s.captions],
                       "takes": [{"number": t.number, "key": t.key} for t in s.takes]} for s in shots]}
    summary = film_summary(compiled, shots, read_lock(lock_path(compiled.path)))
    html = _render(summary=summary, shots=shots, film=film, diff=diff, page=page, base=options.base,
                   revision=revision, dirty=dirty, folded=bool(options.base))
    out.mkdir(parents=True, exist_ok=True)
    media.write()
    _write_static(out)
    (out / "chapters.vtt").write_text(chapters(shots), "utf-8")
    index = out / "index.html"
    tmp = out / ".tmp-index.html"
    tmp.write_text(html, "utf-8")
    tmp.replace(index)
    return index


def _base_side(path: str, options: Options, compiled: Compiled, stack: ExitStack) -> Compiled | None:
    prices = options.prices
    if prices is None and compiled.plan.price_list.source != "built-in":
        prices = str(compiled.root / compiled.plan.price_list.source)
    return compile_side(base_spec(options.base, path), stack, provider=options.provider,
                        base_url=options.base_url, prices=prices)


def _diff(old: Compiled | None, new: Compiled) -> PlanDiff:
    from ..compare import empty

    old_plan = old.plan if old else empty(new.plan)
    old_lock = _lock(old) if old else Lock()
    new_lock = _lock(new)
    paid = frozenset(e.key for _, _, e in new_lock.paid())
    return diff_plans(old_plan, new.plan, paid, added_takes(old_lock, new_lock, new.plan))


def _lock(side: Compiled) -> Lock:
    try:
        return read_lock(lock_path(side.path))
    except StoryboardError:
        return Lock()


def _clip(cache: ClipCache, job: Job, media: Media) -> Clip | None:
    got = cache.get_local(job.key)
    if got is None:
        return None
    url, poster = media.clip(got.record.sha256, got.path)
    return Clip(url, poster, got.record.sha256)


def _film(compiled: Compiled, media: Media) -> Clip | None:
    """The cut film when it has been cut (``cut.output``)."""
    film = compiled.root / compiled.plan.cut.output
    if not film.is_file():
        return None
    sha = file_sha256(film)
    url, poster = media.clip(sha, film)
    return Clip(url, poster, sha)


def revision_of(storyboard: Path) -> tuple[str, bool]:
    """The git commit checked out where the storyboard is, and whether the storyboard differs from it."""
    try:
        head = _git(["rev-parse", "HEAD"], storyboard.parent).strip()
        dirty = bool(_git(["status", "--porcelain", "--", storyboard.name], storyboard.parent).strip())
    except StoryboardError:
        return "", True
    return head, dirty


def chapters(shots) -> str:
    """WebVTT chapters: one cue per shot, from where it starts in the film to where the next starts."""
    lines = ["WEBVTT", ""]
    for i, s in enumerate(shots):
        end = shots[i + 1].start if i + 1 < len(shots) else s.start + s.duration
        lines += [s.id, f"{_stamp(s.start)} --> {_stamp(max(end, s.start + 0.001))}", s.id, ""]
    return "\n".join(lines)


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _render(**context) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("storyboard.review.site", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    context["page_json"] = json.dumps(context["page"], ensure_ascii=True).replace("<", "\\u003c")
    return env.get_template("index.html.j2").render(**context)


def _write_static(out: Path) -> None:
    folder = out / "static"
    folder.mkdir(parents=True, exist_ok=True)
    source = resources.files("storyboard.review.site") / "static"
    for name in STATIC:
        (folder / name).write_bytes((source / name).read_bytes())


__all__ = ["Options", "build_site", "chapters", "revision_of"]
