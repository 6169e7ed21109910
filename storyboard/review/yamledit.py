"""Choose a shot's take in the storyboard's own text: ``take: N`` written in
place, every other byte (comments, key order, anchors, quoting, blank lines,
line endings) kept. The composed YAML nodes say where each shot, its ``id``
and its ``take`` are, as the source map does for messages."""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode, SequenceNode

from ..errors import StoryboardError

_COLON = re.compile(r"[ \t]*:[ \t]*")
_ALIAS = re.compile(r"\*[^\s,\]}#]+")


def set_takes(text: str, takes: dict[str, int], name: str) -> str:
    """``text`` with each shot of ``takes`` set to its take (take 1 with no ``take:`` is left alone)."""
    edits: list[tuple[int, int, str]] = []
    items = _shot_items(text, name)
    for shot, take in takes.items():
        node = items.get(shot)
        if node is None:
            raise StoryboardError(f"{name}: no shot `{shot}` to set the take of")
        edit = _edit(text, node, take, name, shot)
        if edit is not None:
            edits.append(edit)
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _shot_items(text: str, name: str) -> dict[str, MappingNode]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # pure Python: marks count characters
    except yaml.YAMLError:
        raise StoryboardError(f"{name}: not valid YAML; fix it before applying a review") from None
    shots = _get(root, "shots") if isinstance(root, MappingNode) else None
    if not isinstance(shots, SequenceNode):
        raise StoryboardError(f"{name}: no list of shots")
    out = {}
    for item in shots.value:
        if isinstance(item, MappingNode):
            ident = _get(item, "id")
            if ident is not None and isinstance(ident.value, str):
                out[ident.value] = item
    return out


def _get(node: MappingNode, key: str):
    return next((v for k, v in node.value if getattr(k, "value", None) == key), None)


def _edit(text: str, item: MappingNode, take: int, name: str, shot: str) -> tuple[int, int, str] | None:
    pair = next(((k, v) for k, v in item.value if getattr(k, "value", None) == "take"), None)
    if pair is not None:
        key, value = pair
        if getattr(value, "value", None) == str(take):
            return None  # already chosen: not a byte changes
        colon = _COLON.match(text, key.end_mark.index)
        at = colon.end() if colon else -1
        if text.startswith("&", at):  # other shots may take this value by its anchor: not ours to change
            raise StoryboardError(f"{name}:{key.start_mark.line + 1}: `{shot}`'s take is anchored "
                                  f"({text[at:].split()[0]}) and other shots may use it; set it by hand")
        if at == value.start_mark.index:
            return at, value.end_mark.index, str(take)
        alias = _ALIAS.match(text, at) if at >= 0 else None
        if alias is None:
            raise StoryboardError(f"{name}:{key.start_mark.line + 1}: `{shot}`'s take is not written as `take: N`; "
                                  "set it by hand")
        return alias.start(), alias.end(), str(take)
    if take == 1:
        return None
    ident_key, ident = next((k, v) for k, v in item.value if getattr(k, "value", None) == "id")
    if item.flow_style:
        return ident.end_mark.index, ident.end_mark.index, f", take: {take}"
    newline = "\r\n" if "\r\n" in text else "\n"
    line_end = text.find("\n", ident.end_mark.index)
    if line_end < 0:
        return len(text), len(text), f"{newline}{' ' * ident_key.start_mark.column}take: {take}"
    return line_end + 1, line_end + 1, f"{' ' * ident_key.start_mark.column}take: {take}{newline}"
