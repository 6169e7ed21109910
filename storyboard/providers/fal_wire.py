"""A job's request in the storyboard's words to the body fal's endpoint takes.

The plan keeps every job's request in the storyboard's own vocabulary (the
one WaveSpeed speaks), so the same shot has the same meaning on every host
and render's uploads and shot inputs work the same; only the host's name for
each field differs. fal's names come from the catalog (``fal.yaml``
``fields``); what is not a rename is done here:

- ``duration`` is a string ("3" … "15"), in ``multi_prompt`` segments too;
- a prompt and ``multi_prompt`` are never sent together (fal takes one or the
  other): with segments, the segments are the prompt;
- there are no element ids. Elements go inline (``elements: [{frontal_image_url,
  reference_image_urls}]``, at most ``max_elements``) and the prompt names
  them ``@Element1``…: ``inline_elements`` is the one place that does it.
"""

from __future__ import annotations

import re
from typing import Any

from ..catalog import Catalog
from . import ProviderError


def fal_body(catalog: Catalog, endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a submit to ``endpoint``; a ProviderError (before anything is sent) when
    the request asks for what fal cannot do."""
    if catalog.by_endpoint(endpoint) is None:
        raise ProviderError(f"fal serves no model of the catalog at `{endpoint}`; nothing was sent")
    body: dict[str, Any] = {}
    elements: list[tuple[str, str, list[str]]] = []
    for name, value in request.items():
        if name == "element_list":
            elements = _inline(value)
            continue
        if name == "prompt" and request.get("multi_prompt"):
            continue
        field = catalog.fields.get(name)
        if field is None:
            raise ProviderError(f"`{name}` has no field on fal; nothing was sent")
        body[field] = _value(name, value)
    return inline_elements(body, elements, catalog.max_elements)


def _inline(items: Any) -> list[tuple[str, str, list[str]]]:
    """(name, frontal image URL, reference image URLs) of each element the plan gives inline
    (``{"inline", "name", "frontal_image", "refer_images"}``, its files uploaded by now)."""
    out = []
    for item in items if isinstance(items, list) else [items]:
        if not isinstance(item, dict) or "inline" not in item:
            raise ProviderError("fal takes no Kling element ids; declare the element from its images instead. "
                                "Nothing was sent")
        frontal, refs = item.get("frontal_image"), item.get("refer_images") or []
        if not all(isinstance(url, str) and url.startswith(("https://", "http://")) for url in [frontal, *refs]):
            raise ProviderError(f"element `{item.get('inline')}`: its images were not uploaded; nothing was sent")
        out.append((str(item.get("name") or ""), frontal, list(refs)))
    return out


def _value(name: str, value: Any) -> Any:
    if name == "duration" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if name == "multi_prompt" and isinstance(value, list):
        return [{**segment, "duration": _value("duration", segment.get("duration"))} if isinstance(segment, dict)
                else segment for segment in value]
    return value


def inline_elements(body: dict[str, Any], elements: list[tuple[str, str, list[str]]],
                    limit: int | None = None) -> dict[str, Any]:
    """``body`` with ``elements`` (each ``(name, frontal image URL, reference image URLs)``) given
    inline, and each element's name in the prompt (and in each segment's) written ``@ElementN``,
    N counting from 1 in the order given. Declared elements reach fal this way."""
    if not elements:
        return body
    if limit is not None and len(elements) > limit:
        raise ProviderError(f"{len(elements)} elements is more than fal takes in one request (at most {limit})")
    out = dict(body)
    out["elements"] = [{"frontal_image_url": frontal, "reference_image_urls": list(refs)}
                       for _, frontal, refs in elements]
    names = {name: f"@Element{n}" for n, (name, _, _) in enumerate(elements, 1)}
    if isinstance(out.get("prompt"), str):
        out["prompt"] = _named(out["prompt"], names)
    if isinstance(out.get("multi_prompt"), list):
        out["multi_prompt"] = [{**s, "prompt": _named(s["prompt"], names)} if isinstance(s, dict)
                               and isinstance(s.get("prompt"), str) else s for s in out["multi_prompt"]]
    return out


def _named(text: str, names: dict[str, str]) -> str:
    """Each name as a whole word (longest first, so `Mara Jane` wins over `Mara`) → its ``@ElementN``;
    in any case, as the plan's check that the prompt says the name (W012) reads it."""
    if not names:
        return text
    folded = {name.casefold(): tag for name, tag in names.items()}
    pattern = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.sub(rf"(?<![\w@])(?:{pattern})(?!\w)", lambda m: folded.get(m.group(0).casefold(), m.group(0)), text,
                  flags=re.IGNORECASE)
