"""Declared Kling elements as jobs of the plan.

Each character with ``element:`` that some shot sends becomes one element
job, listed before the shots (``Plan.elements``). Its key is a job key like a
shot's: the provider, the API origin, the element model and the request with
every file as the sha256 of its bytes (the name, the description, the
reference type and the images or video). A shot that sends the element holds
``{"element": "mara", "key": <the element's key>}`` in its ``element_list``
until the render swaps in the id the element came back with, so a shot's key
follows from its elements' keys: a changed reference image changes the
element and every shot that sends it, and nothing else.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator

from ..catalog import Catalog
from ..format.elements import element_request
from ..format.media import MediaInfo
from ..format.model import Storyboard
from ..format.source import Reporter
from ..format.warnings import warn
from .prices import run_cost
from .types import ElementJob, Source, job_key

__all__ = ["ElementJob", "element_refs", "fill_elements", "plan_elements", "used_elements", "with_element_ids"]


def element_refs(request: dict[str, Any]) -> Iterator[dict]:
    """Each ``{"element": …, "key": …}`` placeholder of a request's ``element_list``."""
    for item in request.get("element_list") or []:
        if isinstance(item, dict) and isinstance(item.get("element"), str):
            yield item


def used_elements(request: dict[str, Any]) -> list[str]:
    """The characters whose declared element the request sends."""
    return [item["element"] for item in element_refs(request)]


def plan_elements(sb: Storyboard, requests: dict[int, dict], media: dict[str, MediaInfo], catalog: Catalog,
                  target, file: str, reporter: Reporter) -> dict[str, ElementJob]:
    """The element job of each declared element some shot sends (``requests``: shot index → request), by
    character, in the order the characters are written."""
    spec = catalog.element_model
    users: dict[str, list[str]] = {}
    for n in sorted(requests):
        for key in used_elements(requests[n]):
            shots = users.setdefault(key, [])
            if sb.shots[n].id not in shots:
                shots.append(sb.shots[n].id)
    jobs: dict[str, ElementJob] = {}
    if spec is None:
        return jobs  # reported by the format's checks
    for key, character in sb.characters.items():
        if character.element is None or key not in users:
            continue
        request, files = element_request(key, character, media)
        jobs[key] = ElementJob(
            character=key, name=request["name"], description=request["description"],
            key=job_key(target.provider, target.origin, spec.id, request), model=spec.id, request=request,
            media=dict(sorted(files.items())), frontal=character.element.frontal, views=list(character.element.views),
            video=character.element.video, cost=_cost(key, spec.id, target, reporter), shots=users[key],
            source=Source(file=file, **_position(reporter, ("characters", key, "element"))),
        )
    return jobs


def _position(reporter: Reporter, path: tuple) -> dict:
    line, column = reporter.source.position(path)
    return {"line": line, "column": column}


def _cost(key: str, model: str, target, reporter: Reporter) -> Decimal | None:
    if target.provider == "preview":
        return Decimal(0)
    cost = run_cost(target.prices, model)
    if cost is None:
        warn(reporter, "W008", ("characters", key, "element"),
             f"the price list `{target.prices.name}` has no price for `{model}`: this element's cost is unknown")
    return cost


def fill_elements(request: dict[str, Any], jobs: dict[str, ElementJob]) -> dict[str, Any]:
    """The request with each element placeholder given its element's key (which joins the shot's key)."""
    if not any(True for _ in element_refs(request)):
        return request
    items = []
    for item in request["element_list"]:
        job = jobs.get(item.get("element")) if isinstance(item, dict) and "element" in item else None
        items.append({"element": job.character, "key": job.key} if job is not None else item)
    return {**request, "element_list": items}


def with_element_ids(request: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """The request as it is sent: each element placeholder swapped for ``{"element_id": …}`` (``ids``: element
    key → id, a string of digits kept exactly). A placeholder without an id stays (the caller refuses it)."""
    if not any(True for _ in element_refs(request)):
        return request
    items = [{"element_id": ids[item["key"]]} if isinstance(item, dict) and item.get("key") in ids else item
             for item in request["element_list"]]
    return {**request, "element_list": items}

