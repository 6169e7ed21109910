"""The README's quick start and CI run the same commands."""

from __future__ import annotations

from conftest import ROOT

TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest -q"
MAIN_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -e . && "
    ".venv/bin/storyboard render examples/lighthouse --provider preview"
)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert TEST_COMMAND in readme.splitlines()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == TEST_COMMAND


def test_readme_main_command_is_there():
    assert MAIN_COMMAND in (ROOT / "README.md").read_text().splitlines()
