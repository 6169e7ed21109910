"""Kling elements declared in the storyboard: a character's ``element:``.

An element is made once from a frontal image and other views of the
character (or from a reference video) by the catalog's element model, and
its id then joins the ``element_list`` of every shot the character is in.
This module holds (``element_model`` holds the format) its checks at their positions
(lengths, image counts, kinds, sizes, aspects: limits from the catalog), the
request the element model receives, and the checks of a shot that uses one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, ElementLimits
from .element_model import IMAGE_REFER, VIDEO_REFER, Element
from .model import Character, Storyboard
from .source import Reporter
from .warnings import warn

if TYPE_CHECKING:
    from .media import MediaInfo


def is_url(ref: str) -> bool:  # as ``references.is_url`` (which imports this module)
    return ref.startswith(("https://", "http://"))


def element_name(key: str, character: "Character") -> str:
    element = character.element
    if element is not None and element.name is not None:
        return element.name
    return character.name if character.name is not None else key


def element_description(character: "Character") -> str:
    element = character.element
    return element.description if element is not None and element.description is not None else character.description


def has_element(character: Any) -> bool:
    """The character sends an element: one made by hand (``element_id``) or declared (``element:``)."""
    return bool(character is not None and (character.element_id or character.element))


def element_media_refs(sb: "Storyboard"):
    """(key path, reference, (kinds, word)) for each file an element names, for ``references``."""
    for key, character in sb.characters.items():
        element = character.element
        if element is None:
            continue
        base = ("characters", key, "element")
        if element.frontal is not None:
            yield base + ("frontal",), element.frontal, (("image",), "an image")
        for i, ref in enumerate(element.views):
            yield base + ("views", i), ref, (("image",), "an image")
        if element.video is not None:
            yield base + ("video",), element.video, (("video",), "a video")


# -- the element's checks --

def check_elements(sb: "Storyboard", catalog: Catalog, media: dict[str, "MediaInfo"], root: Path | None,
                   reporter: "Reporter") -> None:
    """Every declared element against the element model's limits, each problem at its position."""
    spec = catalog.element_model
    for key, character in sb.characters.items():
        if character.element is None:
            continue
        base = ("characters", key, "element")
        if character.element_id is not None:
            reporter.error(("characters", key, "element_id"), "a character has a hand-made `element_id` or a "
                           "declared `element:`, not both; remove one", key=True)
        # A host with no element model (fal) takes the element's images inline, within Kling's same limits.
        limits = spec.element if spec is not None else catalog.inline_element
        if limits is None:
            reporter.error(base, f"the provider `{catalog.provider}` has no model that makes Kling elements", key=True)
            continue
        _check_texts(key, character, limits, base, reporter)
        _check_files(character.element, limits, catalog, media, root, base, reporter)


def _check_texts(key: str, character: "Character", limits: ElementLimits, base: tuple, reporter: "Reporter"):
    element = character.element
    name, description = element_name(key, character), element_description(character)
    where = base + ("name",) if element.name is not None else ("characters", key, "name")
    if not name.strip():
        reporter.error(where, "an element needs a name: it is how prompts name the character")
    elif len(name) > limits.name_chars:
        hint = "" if element.name is not None else "; give the element a shorter `name:`"
        reporter.error(where, f"the element's name `{name}` is {len(name)} characters; Kling takes at most "
                              f"{limits.name_chars}{hint}")
    where = base + ("description",) if element.description is not None else ("characters", key, "description")
    if not description.strip():
        reporter.error(where if element.description is not None else base,
                       "an element needs a description: give the character a `description:` or the element one")
    elif len(description) > limits.description_chars:
        hint = "" if element.description is not None else "; give the element a shorter `description:`"
        reporter.error(where, f"the element's description is {len(description)} characters; Kling takes at most "
                              f"{limits.description_chars}{hint}")


def _check_files(element: Element, limits: ElementLimits, catalog: Catalog, media, root, base, reporter) -> None:
    if element.frontal is not None:
        count = len(element.views)
        if not limits.views.min <= count <= limits.views.max:
            reporter.error(base + ("views",),  # an absent `views:` is placed at the element
                           f"{count} other view{'s' if count != 1 else ''}: an element made from images takes "
                           f"{limits.views.min} to {limits.views.max} besides the frontal image")
        images = [(base + ("frontal",), element.frontal)] + [(base + ("views", i), v) for i, v in enumerate(element.views)]
        for path, ref in images:
            _check_image(ref, path, limits, catalog, media, root, reporter)
    if element.video is not None and is_url(element.video):
        reporter.error(base + ("video",), "an element's video must be a file in the project (it is keyed by its bytes)")


def _check_image(ref: str, path: tuple, limits: ElementLimits, catalog: Catalog, media, root, reporter) -> None:
    if is_url(ref):
        reporter.error(path, "an element's images must be files in the project (the element is keyed by their bytes)")
        return
    info = media.get(ref)
    if info is None or info.kind != "image":
        return  # missing, or not an image: reported by references
    if catalog.limits.image_bytes is not None and info.size > catalog.limits.image_bytes:
        reporter.error(path, f"`{ref}` is {info.size:,} bytes; Kling takes element images of at most "
                             f"{catalog.limits.image_bytes:,}")
    size = image_size(root / ref) if root is not None else None
    if size is None:
        return
    width, height = size
    if min(width, height) < limits.image_min_side:
        reporter.error(path, f"`{ref}` is {width}×{height} px; Kling takes element images of at least "
                             f"{limits.image_min_side} px on each side")
    elif max(width / height, height / width) > limits.image_max_aspect:
        reporter.error(path, f"`{ref}` is {width}×{height} px; Kling takes element images between 1:"
                             f"{limits.image_max_aspect:g} and {limits.image_max_aspect:g}:1")


def image_size(path: Path) -> tuple[int, int] | None:
    """An image's width and height from its header (Pillow reads no pixels for it); None if unreadable."""
    try:
        from PIL import Image

        with Image.open(path) as img:
            width, height = img.size
    except Exception:  # Pillow raises many kinds for a damaged file; the kind check has spoken already
        return None
    return (width, height) if width > 0 and height > 0 else None


# -- the request the element model receives --

def element_request(key: str, character: "Character", media: dict[str, "MediaInfo"]) -> tuple[dict, dict[str, str]]:
    """The element model's request, with each file as its ``sha256:`` digest, and digest → path."""
    element = character.element
    files: dict[str, str] = {}

    def digest(ref: str) -> str:
        info = media.get(ref)
        value = info.digest if info is not None else "sha256:unavailable:" + ref
        files.setdefault(value, ref)
        return value

    request: dict[str, Any] = {"name": element_name(key, character), "description": element_description(character)}
    if element.video is not None:
        request["reference_type"] = VIDEO_REFER
        request["element_video_list"] = [digest(element.video)]
    else:
        request["reference_type"] = IMAGE_REFER
        request["frontal_image"] = digest(element.frontal)
        request["refer_images"] = [digest(v) for v in element.views]
    return request, files


# -- a shot that uses elements --

def check_shot_elements(report, base: tuple, spec, request: dict, given: dict, characters, sb) -> None:
    """Reference images and elements together within the model's limit; the element's name in the prompt."""
    elements = request.get("element_list") or []
    pspec = spec.params.get("element_list")
    if elements and pspec is not None and pspec.max is not None:
        video = "video" in given
        limit = pspec.max_with_video if video and pspec.max_with_video is not None else pspec.max
        images = len(request.get("images") or [])
        if images + len(elements) > limit:
            where = given["element_list"].path if "element_list" in given else base + ("characters",)
            report.error(where, f"{images} reference image{'s' if images != 1 else ''} and {len(elements)} "
                                f"element{'s' if len(elements) != 1 else ''} is more than `{spec.id}` takes together "
                                f"(at most {limit}{' with a reference video' if video else ''})")
    if not spec.takes("element_list"):
        return
    text = " ".join([str(request.get("prompt") or "")] + [s.get("prompt", "") for s in request.get("multi_prompt") or []])
    for key, character in characters:
        if character.element is None:
            continue
        name = element_name(key, character)
        if name.strip() and name.casefold() not in text.casefold():
            warn(report, "W012", base + ("prompt",) if "prompt" in given else base,
                 f"character `{key}` is sent as the element `{name}`, but the prompt never says `{name}`: "
                 "write the element name in your prompt")
