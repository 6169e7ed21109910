"""Shots built on shots: the job graph.

A shot may take another shot's output as an input: a frame of it as an image
(``{shot: a, frame: last}``) or its clip as a video (``{shot: a}``). The
request then holds ``{"shot": "a", "frame": "last", "key": <a's key>}`` where
a file's digest would be, so a dependent job's key follows from the key of
the job it depends on: a change to ``a`` changes every shot downstream, and
every key and cost is known before anything is rendered. The order of work is
the graph's, not the film's.

A frame goes into the request (and so the key) as the frame it resolves to,
at the upstream model's frame rate and planned length (``frames``): ``0``,
``0.01`` and ``first`` send the same picture, so they are one job.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterator

from ..catalog import Catalog
from ..format.model import Storyboard
from ..format.rules import BuiltShot, Dependency
from ..format.source import Reporter
from .frames import key_frame

SLOTS = ("image", "end_image", "video", "images")


def is_dependency(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("shot"), str)


def dependencies_in(request: dict[str, Any]) -> Iterator[tuple[str, dict]]:
    """(parameter, ``{"shot": …}`` input) for each input that is another shot's output."""
    for slot in SLOTS:
        value = request.get(slot)
        for item in value if isinstance(value, list) else [value]:
            if is_dependency(item):
                yield slot, item


def dependency_label(item: dict) -> str:
    """``a:last``, ``a:2.5`` or ``a:clip``."""
    frame = item.get("frame")
    if frame is None:
        return f"{item['shot']}:clip"
    return f"{item['shot']}:{frame if isinstance(frame, str) else format(frame, 'g')}"


@dataclass
class Graph:
    order: list[int]  # shot indexes, each after the shots it depends on
    upstream: dict[int, list[int]]  # shot index → the indexes it depends on (resolved ones)


def link(sb: Storyboard, built: list[BuiltShot | None], catalog: Catalog, reporter: Reporter) -> Graph:
    """Check every dependency (every error at once, positioned) and order the shots.

    Lengths flow down the graph: a video-edit of ``{shot: a}`` is as long as
    ``a``'s planned length, so ``built`` is updated in that order."""
    index: dict[str, int] = {}
    for n, shot in enumerate(sb.shots):
        index.setdefault(shot.id, n)
    upstream: dict[int, list[int]] = {}
    for n, result in enumerate(built):
        if result is None:
            continue
        ups = []
        for dep in result.dependencies:
            m = _resolve(sb, n, dep, index, reporter)
            if m is not None and m not in ups:
                ups.append(m)
        upstream[n] = ups
    cyclic = _report_cycles(sb, built, upstream, index, reporter)
    order = _order(upstream, cyclic)
    for n in order + sorted(cyclic):
        _check_inputs(sb, n, built, index, catalog, reporter)
        _key_frames(n, built, index, catalog)
    return Graph(order, {n: ups for n, ups in upstream.items() if n not in cyclic})


def _resolve(sb: Storyboard, n: int, dep: Dependency, index: dict[str, int], reporter: Reporter) -> int | None:
    where = dep.path + ("shot",)
    if dep.shot == sb.shots[n].id:
        what = "a frame of itself" if dep.frame is not None else "its own clip"
        reporter.error(where, f"shot `{dep.shot}` cannot take {what} as an input: it does not exist before it is made")
        return None
    m = index.get(dep.shot)
    if m is None:
        close = difflib.get_close_matches(dep.shot, list(index), n=1, cutoff=0.5)
        hint = f"; did you mean `{close[0]}`?" if close else f"; the shots are: {', '.join(index)}"
        reporter.error(where, f"unknown shot `{dep.shot}`{hint}")
        return None
    return m


def _report_cycles(sb: Storyboard, built, upstream: dict[int, list[int]], index, reporter: Reporter) -> set[int]:
    """Every shot on a cycle, each reported at its own input with the whole loop named."""
    state: dict[int, int] = {}  # 1: on the stack, 2: done
    stack: list[int] = []
    cyclic: set[int] = set()
    reported: set[frozenset[int]] = set()

    def visit(n: int) -> None:
        state[n] = 1
        stack.append(n)
        for m in upstream.get(n, []):
            if state.get(m) == 1:
                loop = stack[stack.index(m):]
                cyclic.update(loop)
                if frozenset(loop) not in reported:
                    reported.add(frozenset(loop))
                    _report_cycle(sb, built, loop, reporter)
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(upstream):
        if n not in state:
            visit(n)
    return cyclic


def _report_cycle(sb: Storyboard, built, loop: list[int], reporter: Reporter) -> None:
    # loop[i] depends on loop[i + 1]; written the way work would have to flow: a → b → c → a
    flow = [sb.shots[n].id for n in reversed(loop)]
    text = " → ".join(flow + [flow[0]])
    for i, n in enumerate(loop):
        target = sb.shots[loop[(i + 1) % len(loop)]].id
        dep = next(d for d in built[n].dependencies if d.shot == target)
        places = []
        for m in loop:
            line, column = reporter.source.position(("shots", m))
            places.append(f"`{sb.shots[m].id}` at {reporter.file}:{line}:{column}")
        reporter.error(dep.path + ("shot",), f"shots that depend on each other in a cycle: {text} "
                                             f"({', '.join(places)}); none of them can be made first")


def _order(upstream: dict[int, list[int]], cyclic: set[int]) -> list[int]:
    """Shot indexes, each after its upstream shots (film order where the graph allows)."""
    done: set[int] = set()
    order: list[int] = []

    def place(n: int) -> None:
        if n in done:
            return
        done.add(n)
        for m in upstream.get(n, []):
            if m in upstream and m not in cyclic:
                place(m)
        order.append(n)

    for n in sorted(upstream):
        if n not in cyclic:
            place(n)
    return order


def _check_inputs(sb: Storyboard, n: int, built, index, catalog: Catalog, reporter: Reporter) -> None:
    """Frames within the upstream shot's planned length; a video input within the model's limits."""
    result = built[n]
    for dep in result.dependencies:
        m = index.get(dep.shot)
        if m is None or m == n or built[m] is None:
            continue
        length = built[m].duration
        if not length:
            reporter.error(dep.path + ("shot",), f"the length of shot `{dep.shot}` is not known before it is rendered "
                                                 "(it edits a URL video), so its output cannot be planned as an input")
            continue
        if isinstance(dep.frame, (int, float)) and not isinstance(dep.frame, bool) and dep.frame >= length:
            reporter.error(dep.path + ("frame",), f"{dep.frame:g} s is outside shot `{dep.shot}`, which is planned "
                                                  f"{length:g} s long (its frames run from 0 to under {length:g} s)")
        if dep.frame is None:
            _check_video_input(sb, n, result, dep, length, catalog, reporter)


def _check_video_input(sb, n: int, result: BuiltShot, dep: Dependency, length: float, catalog: Catalog,
                       reporter: Reporter) -> None:
    spec = catalog.get(result.model)
    pspec = spec.params.get("video") if spec else None
    if pspec is not None and pspec.length is not None and not pspec.length.min <= length <= pspec.length.max:
        reporter.error(dep.path + ("shot",), f"shot `{dep.shot}` is planned {length:g} s long; `{result.model}` "
                                             f"takes a video of {pspec.length.min} to {pspec.length.max} seconds")
    if spec is not None and spec.duration_from == "video":
        result.duration = length  # a video-edit is as long as the clip it edits


def _key_frames(n: int, built: list[BuiltShot | None], index: dict[str, int], catalog: Catalog) -> None:
    """Each frame input of shot ``n`` in the one spelling of the frame it resolves to (an `images` list
    keeps one of two spellings of one frame, as it keeps one of two names of one file)."""
    request = built[n].request
    for slot in SLOTS:
        value = request.get(slot)
        if isinstance(value, list):
            kept: list[Any] = []
            for item in value:
                item = _key_frame(item, n, built, index, catalog)
                if item not in kept:
                    kept.append(item)
            request[slot] = kept
        elif value is not None:
            request[slot] = _key_frame(value, n, built, index, catalog)


def _key_frame(item: Any, n: int, built: list[BuiltShot | None], index: dict[str, int], catalog: Catalog) -> Any:
    if not is_dependency(item) or item.get("frame") is None:
        return item
    m = index.get(item["shot"])
    upstream = built[m] if m is not None and m != n else None
    spec = catalog.get(upstream.model) if upstream else None
    if spec is None or spec.fps is None or not upstream.duration:
        return item  # an unknown shot or length: reported already
    frame = item["frame"]
    if not isinstance(frame, str) and frame >= upstream.duration:
        return item  # outside the shot: reported already
    return {**item, "frame": key_frame(frame, upstream.duration, Fraction(spec.fps))}


def with_keys(request: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    """The request with each shot input given the key of that shot's job."""
    def fill(value: Any) -> Any:
        if is_dependency(value):
            key = keys.get(value["shot"])
            return {**value, "key": key} if key else dict(value)
        return value

    out = dict(request)
    for slot in SLOTS:
        if slot in out:
            out[slot] = [fill(v) for v in out[slot]] if isinstance(out[slot], list) else fill(out[slot])
    return out
