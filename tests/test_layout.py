"""The tree reads as the pipeline, and stays so: every import points down the
stages of DESIGN.md §1, no module imports itself back through others, and only
the cut touches moviepy."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "storyboard"

# Lower number, lower stage. A module imports its own stage or lower ones only;
# stages that share a number (store and providers) are independent of each other.
STAGES = {
    "errors": 0, "catalog": 0,
    "format": 1,
    "plan": 2,
    "store": 3, "providers": 3,
    "cut": 4,
    "render": 5,
    "review": 6,
    "cli": 7,
    "__main__": 8,
}
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every storyboard module ``name`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "storyboard"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "storyboard":
                continue
            for alias in node.names:  # `from . import x` imports the module x
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return found - {name}


def stage(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def test_every_module_belongs_to_a_stage():
    strays = [name for name in modules() if name != "storyboard" and stage(name) not in STAGES]
    assert strays == [], f"modules outside the stages of DESIGN.md §1: {strays}"


def test_imports_point_down_the_stages():
    wrong = []
    for name, targets in graph().items():
        here = stage(name)
        for target in targets:
            there = stage(target)
            if here is None or there is None or here == there:
                continue
            if STAGES[there] >= STAGES[here]:
                wrong.append(f"{name} → {target}")
    assert wrong == [], "imports from a lower stage to a higher one (or between siblings):\n" + "\n".join(wrong)


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" → ".join(trail[trail.index(nxt):] + [node, nxt]) if nxt in trail else f"{node} → {nxt}")
            elif nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [])
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_nothing_imports_the_cli():
    users = [name for name, targets in graph().items()
             if stage(name) not in ("cli", "__main__") and any(stage(t) == "cli" for t in targets)]
    assert users == []


@pytest.mark.parametrize("library", ["moviepy", "opentimelineio"])
def test_only_the_cut_imports_the_editing_libraries(library):
    users = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            if any(n.split(".")[0] == library for n in names):
                users.append(name)
    assert users and all(stage(u) == "cut" for u in users), users


def test_modules_stay_small():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_checks_see_a_wrong_import(tmp_path):
    # The walker itself: a relative import from a lower stage to a higher one is found.
    path = tmp_path / "storyboard" / "format" / "bad.py"
    path.parent.mkdir(parents=True)
    path.write_text("from ..render.run import render_project\nfrom . import media\n")
    found = imports("storyboard.format.bad", path, {"storyboard.format.media"})
    assert found == {"storyboard.render.run", "storyboard.format.media"}
