"""A YAML error that is really a line indented wrong, said in plain words:
``line 42 is indented 3 spaces; the keys of this shot are at 4``.

YAML's own words (``did not find expected key``, ``mapping values are not
allowed in this context``) name the parser's state, not the mistake. When the
line the parser stopped at is indented at none of the levels the lines above
it open, that is the mistake, and the levels say what was meant.
"""

from __future__ import annotations


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key_column(line: str) -> int:
    """Where a line's key starts: past its indentation and any ``- `` item marks."""
    column, rest = _indent(line), line.lstrip(" ")
    while rest.startswith("- ") or rest == "-":
        after = rest[2:]
        column += 2 + _indent(after)
        rest = after.lstrip(" ")
    return column


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _levels(lines: list[str], at: int) -> list[tuple[int, int]]:
    """The indentation levels open at line ``at``, innermost first, each with the line that opens it."""
    levels: list[tuple[int, int]] = []
    limit = None
    for j in range(at - 1, -1, -1):
        line = lines[j]
        if not _is_content(line):
            continue
        for column in (_key_column(line), _indent(line)):
            if limit is None or column < limit:
                levels.append((column, j))
                limit = column
        if limit == 0:
            break
    return levels


def _owner(lines: list[str], level: int, start: int) -> str:
    """What the keys at ``level`` belong to, from the lines above ``start``."""
    if level == 0:
        return "the top-level keys are at 0"
    in_item = False
    for j in range(start, -1, -1):
        line = lines[j]
        if not _is_content(line):
            continue
        if _key_column(line) == level and line.lstrip(" ").startswith("-"):
            in_item = True
        elif _key_column(line) < level:
            parent = line.strip().lstrip("- ").split(":", 1)[0].strip()
            if in_item and parent == "shots":
                name = "this shot"
            elif in_item:
                name = f"this item of `{parent}`"
            else:
                name = f"`{parent}`"
            return f"the keys of {name} are at {level}"
    return f"the keys around it are at {level}"


def indentation_problem(text: str, line: int) -> str | None:
    """Plain words for an indentation mistake on ``line`` (0-based), or None when its indentation is fine."""
    lines = text.split("\n")
    if line >= len(lines) or not _is_content(lines[line]) or "\t" in lines[line][:_indent(lines[line]) + 1]:
        return None
    previous = next((lines[j] for j in range(line - 1, -1, -1) if _is_content(lines[j])), None)
    if previous is None or previous.rstrip().endswith(":"):  # a block opens: any deeper indentation is fine
        return None
    levels = _levels(lines, line)
    spaces = _indent(lines[line])
    if not levels or spaces in {level for level, _ in levels}:
        return None
    unit = "space" if spaces == 1 else "spaces"
    said = f"line {line + 1} is indented {spaces} {unit}; "
    if lines[line].lstrip().startswith("-"):  # a list item: beside the items of the nearest open list
        open_levels = {level for level, _ in levels}
        for j in range(line - 1, -1, -1):
            if _is_content(lines[j]) and lines[j].lstrip().startswith("-") and _indent(lines[j]) in open_levels:
                return said + _items(lines, _indent(lines[j]), j)
    return said + _owner(lines, levels[0][0], line - 1)


def _items(lines: list[str], level: int, start: int) -> str:
    for j in range(start, -1, -1):
        if _is_content(lines[j]) and _key_column(lines[j]) < level and not lines[j].lstrip().startswith("-"):
            return f"the items of `{lines[j].strip().split(':', 1)[0]}` are at {level}"
    return f"the items of the list are at {level}"
