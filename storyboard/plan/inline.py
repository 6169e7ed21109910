"""Declared elements on a host that takes no element ids (fal): given inline.

On WaveSpeed a declared element is a paid job of its own whose id the shots
send. fal has no element model: a shot sends the element's images with the
request (``elements: [{frontal_image_url, reference_image_urls}]``) and its
prompt names the element ``@ElementN``. So on fal a declared element is no
job; each shot that sends it holds, in its ``element_list``,
``{"inline": "mara", "name": "Mara", "frontal_image": "sha256:…",
"refer_images": ["sha256:…", …]}``: the files as digests, so the shot's key
covers their bytes (a changed frontal image changes every shot that sends
it), uploaded like the shot's other files, and the name the fal client
rewrites to ``@ElementN`` in the prompt (``providers/fal_wire.py``).

What fal cannot take is said at its place: an element made from a video
(fal's elements are images), more elements in one shot than fal takes.
"""

from __future__ import annotations

from typing import Any

from ..catalog import Catalog
from ..format.elements import element_name
from ..format.media import MediaInfo
from ..format.model import Storyboard
from ..format.source import Reporter
from .hosts import host_name

INLINE = "inline"


def is_inline(item: Any) -> bool:
    """An element given inline: ``{"inline": KEY, "name", "frontal_image", "refer_images"}``."""
    return isinstance(item, dict) and isinstance(item.get(INLINE), str)


def inline_request(sb: Storyboard, n: int, request: dict[str, Any], media: dict[str, MediaInfo], catalog: Catalog,
                   reporter: Reporter, said: set) -> tuple[dict[str, Any], dict[str, str]]:
    """Shot ``n``'s request with each declared element's placeholder (``{"element": KEY, …}``) given inline,
    and the files it adds (digest → path). Problems go to ``reporter`` at their places, a character's
    once (``said``: the characters already reported)."""
    items = request.get("element_list") or []
    if not any(isinstance(item, dict) and "element" in item for item in items):
        return request, {}
    host, files, out = host_name(catalog.provider), {}, []
    for item in items:
        character = sb.characters.get(item.get("element")) if isinstance(item, dict) else None
        element = character.element if character is not None else None
        if element is None:
            out.append(item)  # a hand-made id: refused by check_host, at its place
            continue
        key = item["element"]
        if element.video is not None:
            if key not in said:
                said.add(key)
                reporter.error(("characters", key, "element", "video"),
                               f"{host} takes elements made from images only (a frontal image and views), not from "
                               f"a video, and shot `{sb.shots[n].id}` sends character `{key}` there; declare the "
                               "element from its images, or render on WaveSpeed (`provider: wavespeed`)")
            continue
        out.append({INLINE: key, "name": element_name(key, character),
                    "frontal_image": _digest(element.frontal, media, files),
                    "refer_images": [_digest(ref, media, files) for ref in element.views]})
    inline = [item for item in out if is_inline(item)]
    if catalog.max_elements is not None and len(inline) > catalog.max_elements:
        names = ", ".join(f"`{item[INLINE]}`" for item in inline)
        reporter.error(("shots", n, "characters"),
                       f"{len(inline)} elements ({names}) is more than {host} takes in one shot (at most "
                       f"{catalog.max_elements}); send fewer characters with elements in this shot")
    return {**request, "element_list": out}, files


def _digest(ref: str | None, media: dict[str, MediaInfo], files: dict[str, str]) -> str:
    info = media.get(ref) if ref is not None else None
    if info is None:  # missing or unreadable: reported by references
        return "sha256:unavailable:" + str(ref)
    files.setdefault(info.digest, ref)
    return info.digest


def unmade_elements(sb: Storyboard, n: int, request: dict[str, Any], catalog: Catalog, reporter: Reporter) -> None:
    """A shot on a host that takes element ids, in a film whose host makes no elements (a shot's own
    `provider: wavespeed` in a film on fal): no element job can make its id. Said at the shot's `provider:`."""
    if catalog.element_model is not None:
        return
    for item in request.get("element_list") or []:
        if isinstance(item, dict) and "element" in item and "key" not in item:
            film = host_name(catalog.provider)
            reporter.error(("shots", n, "provider"),
                           f"this shot goes to {host_name(sb.shots[n].provider or '')}, which takes element "
                           f"`{item['element']}` by an id made by an element job, but the film renders on {film}, "
                           f"which makes no element jobs; render this shot on {film} too (its elements go inline), "
                           "or the film on WaveSpeed")
            return
