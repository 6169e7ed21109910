"""Golden tests: each invalid storyboard in data/invalid/ with its exact output.

Regenerate after an intended change of wording with
``STORYBOARD_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import DATA

CASES = sorted(p.name for p in (DATA / "invalid").glob("*.yaml"))
UPDATE = os.environ.get("STORYBOARD_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    # A copy, so the media memo (.storyboard/) is never written into the repo.
    dest = tmp_path_factory.mktemp("golden") / "invalid"
    shutil.copytree(DATA / "invalid", dest, ignore=shutil.ignore_patterns("*.out", ".storyboard"))
    return dest


def args_for(path: Path) -> list[str]:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    return first.removeprefix("# args:").split() if first.startswith("# args:") else []


def render(result, args: list[str]) -> str:
    text = f"$ storyboard validate {' '.join(args)}\n[exit {result.code}]\n"
    if result.err:
        text += "[stderr]\n" + result.err
    if result.out:
        text += "[stdout]\n" + result.out
    return text


def test_there_are_enough_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_golden(name, workdir, cli, monkeypatch):
    monkeypatch.chdir(workdir)
    args = args_for(workdir / name) + [name]
    result = cli("validate", *args)
    actual = render(result, args)
    expected_path = DATA / "invalid" / (name.removesuffix(".yaml") + ".out")
    if UPDATE:
        expected_path.write_text(actual, "utf-8")
    assert expected_path.exists(), f"no expected output for {name}: run with STORYBOARD_UPDATE_GOLDEN=1"
    assert actual == expected_path.read_text("utf-8")
    assert "Traceback" not in actual
    if "warning-only" not in name:
        assert result.code == 1
