"""What a host cannot do with a storyboard, said where the storyboard says it.

The storyboard's meaning is the same on every host; a few things exist on one
host only. A Kling element id is made by Kling Elements on WaveSpeed and is
meaningless to fal, which takes elements inline from their images: an id
written by hand is an error on fal, at the id, naming the host. Each host's
own name for a model (fal's endpoints) comes from the catalog.
"""

from __future__ import annotations

from ..catalog import Catalog
from ..format.model import Storyboard
from ..format.source import Reporter

HOST_NAMES = {"wavespeed": "WaveSpeed", "fal": "fal", "preview": "the preview"}


def host_name(provider: str) -> str:
    return HOST_NAMES.get(provider, provider)


def check_host(sb: Storyboard, catalogs: list[Catalog], reporter: Reporter, skip: frozenset[int] = frozenset()) -> None:
    """Report, at their positions, the things in ``sb`` that a shot's host (``catalogs[n]``: its catalog) cannot render."""
    used: dict[str, str] = {}  # character → the first host without element ids that one of its shots goes to
    for n, shot in enumerate(sb.shots):
        if n in skip or catalogs[n].element_ids:
            continue
        host = host_name(catalogs[n].provider)
        for name in shot.characters:
            used.setdefault(name, host)
        for i, element_id in enumerate(shot.element_list):
            reporter.error(("shots", n, "element_list", i), _element_id_message(host, element_id, "this shot"))
    for name, character in sb.characters.items():
        if character.element_id is not None and name in used:
            reporter.error(("characters", name, "element_id"),
                           _element_id_message(used[name], character.element_id, f"character `{name}`"))


def _element_id_message(host: str, element_id: str, whose: str) -> str:
    return (f"{host} takes no Kling element ids: the element id `{element_id}` of {whose} was made on WaveSpeed "
            f"and cannot be used on {host}; declare the element from its images instead (a frontal image and "
            "reference images), which every host can use, or render on WaveSpeed (`provider: wavespeed`)")
