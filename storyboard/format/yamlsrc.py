"""YAML text to plain Python data plus a source map, safely.

PyYAML's own loaders lose positions, keep the last of two duplicate keys
without a word, and expand aliases without limit. So we let PyYAML (libyaml
when present) only *compose* the node graph, and build the data ourselves:

- every value's and every key's position is recorded by key path;
- a duplicate key is an error naming both lines;
- only plain-data tags are accepted (no ``!!python/object`` and friends);
- aliases are allowed, but a document that expands past a limit (an alias
  bomb) or refers to itself is refused before anything is built;
- ``16:9`` written without quotes stays the text ``16:9`` instead of
  YAML 1.1's base-60 integer 969, and a number written with a leading zero
  (``0307212335131305``, an element id) stays as written instead of
  becoming YAML 1.1's octal: YAML 1.2 reads it as decimal, so it is
  ambiguous, and an id must not silently become another number;
- a scalar that its tag cannot build (``!!bool x``, an empty ``!!int``, a
  number of thousands of digits) is an error at its position, never a crash.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .indentation import indentation_problem
from .source import Reporter, SourceMap, format_path

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 64
MAX_VALUES = 1_000_000
MAX_NUMBER_TEXT = 100  # digits: no setting needs more, and a long one is echoed nowhere

_Y = "tag:yaml.org,2002:"
MERGE = _Y + "merge"
_SCALAR_TAGS = {_Y + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_SEQ, _MAP = _Y + "seq", _Y + "map"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+$")


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text):,} characters)"


class _Refused(Exception):
    """The document cannot be built at all; the reporter holds why."""


def _mark(node_or_mark) -> tuple[int, int]:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    return mark.line + 1, mark.column + 1


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag


def yaml_error_message(exc: yaml.MarkedYAMLError, text: str) -> str:
    problem = exc.problem or "not valid YAML"
    mark = exc.problem_mark
    indented = indentation_problem(text, mark.line) if mark is not None else None
    if indented:
        return f"YAML syntax error: {indented}"
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        problem += " (a tab: YAML indents with spaces, not tabs)"
    if exc.context and problem.startswith("but "):
        problem = f"{exc.context}, {problem}"
    elif exc.context and exc.context.startswith("while parsing") and exc.context_mark is not None:
        problem += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
    return f"YAML syntax error: {problem}"


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n", line + 1)
    if line < len(lines) and column < len(lines[line]):
        return lines[line][column]
    return ""


def parse_yaml(text: str, reporter: Reporter) -> tuple[Any, SourceMap]:
    """Compose and build ``text``; problems go to ``reporter``.

    Returns ``(None, map)`` when the text could not be built at all.
    """
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _mark(mark) if mark else (1, 1)
        reporter.at(line, col, yaml_error_message(exc, text))
        return None, reporter.source
    except yaml.YAMLError as exc:
        reporter.at(1, 1, f"YAML error: {exc}")
        return None, reporter.source
    except RecursionError:
        reporter.at(1, 1, f"the document is nested too deeply (more than {MAX_DEPTH} levels)")
        return None, reporter.source
    if root is None:
        return None, reporter.source
    builder = _Builder(reporter)
    try:
        builder.check_size(root)
        data = builder.build(root, (), 0)
    except _Refused:
        return None, reporter.source
    # A refused tag leaves nothing sensible to validate further.
    return (None if builder.refused_tag else data), reporter.source


class _Builder:
    def __init__(self, reporter: Reporter):
        self.reporter = reporter
        self.values = reporter.source.values
        self.keys = reporter.source.keys
        self.refused_tag = False

    # -- alias bombs and cycles, checked on the node graph before building --

    def check_size(self, root: Node) -> None:
        sizes: dict[int, int] = {}
        refs: dict[int, int] = {}
        nodes: dict[int, Node] = {}
        active: set[int] = set()

        def size(node: Node, depth: int) -> int:
            ident = id(node)
            refs[ident] = refs.get(ident, 0) + 1
            if ident in sizes:
                return sizes[ident]
            if ident in active:
                self.reporter.at(*_mark(node), "an alias refers to the value that contains it (a cycle)")
                raise _Refused
            if depth > MAX_DEPTH:
                self.reporter.at(*_mark(node), f"nested too deeply (more than {MAX_DEPTH} levels)")
                raise _Refused
            active.add(ident)
            nodes[ident] = node
            total = 1
            if isinstance(node, SequenceNode):
                total += sum(size(child, depth + 1) for child in node.value)
            elif isinstance(node, MappingNode):
                total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
            active.discard(ident)
            sizes[ident] = total
            return total

        try:
            total = size(root, 0)
        finally:
            # `size` calls itself, so it and its frame's dicts (every node of the
            # document) form a cycle that only the cycle collector would free.
            size = None  # noqa: F841
        if total > MAX_VALUES:
            shared = [i for i, n in refs.items() if n > 1]
            if not shared:  # simply large: no alias is to blame
                self.reporter.at(1, 1, f"the document holds {len(nodes):,} values; a storyboard may hold at most "
                                       f"{MAX_VALUES:,} (split the film into several storyboards)")
                raise _Refused
            worst = nodes[max(shared, key=lambda i: sizes[i] * refs[i])]
            self.reporter.at(
                *_mark(worst),
                f"aliases expand this document to more than {MAX_VALUES:,} values "
                "(an alias bomb?); write the data out or use fewer aliases",
            )
            raise _Refused

    # -- building --

    def build(self, node: Node, path: tuple, depth: int) -> Any:
        self.values[path] = _mark(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            self.check_tag(node, path, _SEQ)
            return [self.build(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]
        self.check_tag(node, path, _MAP)
        return self.mapping(node, path, depth)

    def check_tag(self, node: Node, path: tuple, expected: str) -> None:
        if node.tag != expected:
            self.refuse_tag(node, path)

    def refuse_tag(self, node: Node, path: tuple) -> None:
        self.refused_tag = True
        self.reporter.error(path, f"the tag `{_show_tag(node.tag)}` is not allowed here: a storyboard holds plain data")

    def scalar(self, node: ScalarNode, path: tuple) -> Any:
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            self.refuse_tag(node, path)
            return node.value
        if tag.endswith((":str", ":timestamp")):
            return node.value
        if tag.endswith((":int", ":float")) and ":" in node.value and not node.style:
            return node.value  # YAML 1.1 base 60: keep `16:9` as written
        if tag.endswith(":int") and _LEADING_ZERO.match(node.value) and not node.style:
            return node.value  # YAML 1.1 octal, 1.2 decimal: keep it as written
        if tag.endswith((":int", ":float")) and len(node.value) > MAX_NUMBER_TEXT:
            return self.bad_scalar(node, path, f"a number of {len(node.value):,} digits is too long to be a setting")
        constructor = _CONSTRUCTOR.yaml_constructors[tag]
        try:
            return constructor(_CONSTRUCTOR, node)
        except Exception:  # PyYAML raises ValueError, KeyError or IndexError for bad scalars
            shown = f"`{_shorten(node.value)}`" if node.value else "an empty value"
            return self.bad_scalar(node, path, f"{shown} is not a valid {_show_tag(tag)[2:]}")

    def bad_scalar(self, node: ScalarNode, path: tuple, message: str) -> Any:
        self.reporter.error(path, message)
        self.reporter.flagged.add(path)  # one error for this value is enough
        return node.value

    def mapping(self, node: MappingNode, path: tuple, depth: int) -> dict:
        result: dict[str, Any] = {}
        explicit: list[tuple[Node, Node]] = []
        merges: list[Node] = []
        for key_node, value_node in node.value:
            (merges if key_node.tag == MERGE else explicit).append((key_node, value_node))
        for _, value_node in reversed(merges):
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in reversed(sources):
                if not isinstance(source, MappingNode):
                    self.reporter.at(*_mark(source), "`<<` merges only mappings", format_path(path))
                    continue
                result.update(self.mapping(source, path, depth + 1))
        first_line: dict[str, int] = {}
        for key_node, value_node in explicit:
            if not isinstance(key_node, ScalarNode):
                self.reporter.at(*_mark(key_node), "keys must be plain text, not a list or a mapping", format_path(path))
                continue
            key = key_node.value
            key_path = path + (key,)
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.keys[key_path] = _mark(key_node)
                self.reporter.error(
                    key_path,
                    f"duplicate key `{key}` (first given on line {first_line[key]}); "
                    "keep one: YAML would silently use the last",
                    key=True,
                )
                continue
            first_line[key] = line
            self.keys[key_path] = _mark(key_node)
            result[key] = self.build(value_node, key_path, depth + 1)
        return result
