"""Warnings that can be right and quiet: codes, acknowledgement, and no advice that earns a second warning
(issue 25, item 9)."""

from __future__ import annotations

import re

from conftest import DATA, PNG_1
from storyboard.format.warnings import CODES

I2V = "kwaivgi/kling-video-o3-pro/image-to-video"
R2V = "kwaivgi/kling-video-o3-pro/reference-to-video"


def film(model: str, listed: bool = False, extra: str = "") -> str:
    characters = "    characters: [ada]\n" if listed else ""
    image = "    image: still.png\n" if model == I2V else ""
    return (f"version: 1\n{extra}characters:\n  ada: {{name: Ada, images: [ada.png]}}\nshots:\n"
            f"  - id: a\n    model: {model}\n{image}{characters}    prompt: \"{{{{ ada }}}} climbs the stairs.\"\n")


def warnings_of(cli, path) -> list[str]:
    result = cli("validate", str(path))
    assert result.code == 0, result.err
    return [line for line in result.err.splitlines() if ": warning: " in line]


def test_a_model_that_takes_no_references_is_not_told_to_list_the_character(project, cli):
    files = {"ada.png": PNG_1, "still.png": PNG_1}
    assert warnings_of(cli, project(film(I2V), files, "i2v")) == []
    listed = warnings_of(cli, project(film(I2V, listed=True), files, "i2v-listed"))
    assert len(listed) == 1 and "takes no `images`" in listed[0] and listed[0].endswith("[W001]")
    r2v = warnings_of(cli, project(film(R2V), files, "r2v"))
    assert len(r2v) == 1 and "the prompt names `ada`" in r2v[0] and r2v[0].endswith("[W003]")
    assert "reference images are not sent" in r2v[0] and "element id" not in r2v[0]  # ada has no element id
    assert warnings_of(cli, project(film(R2V, listed=True), files, "r2v-listed")) == []


def test_every_warning_in_the_golden_files_ends_with_a_known_code():
    lines = [line for out in (DATA / "invalid").glob("*.out") for line in out.read_text().splitlines()
             if ": warning: " in line]
    assert lines
    for line in lines:
        match = re.search(r" \[(W\d{3})\]$", line)
        assert match and match.group(1) in CODES, line


def test_a_shot_acknowledges_its_own_warning_and_only_its_own(project, cli):
    text = ("version: 1\nshots:\n  - id: a\n    prompt: x\n    keep_original_sound: true\n"
            "    ignore_warnings: [W002]\n  - id: b\n    prompt: y\n    keep_original_sound: true\n")
    path = project(text)
    shown = warnings_of(cli, path)
    assert len(shown) == 1 and "shots[1].keep_original_sound" in shown[0]
    assert cli("validate", "--strict", str(path)).code == 1  # b's warning still fails --strict
    quiet = project(text.replace("version: 1\n", "version: 1\nignore_warnings: [W002]\n"), name="quiet")
    assert warnings_of(cli, quiet) == []
    assert cli("validate", "--strict", str(quiet)).code == 0


def test_an_unknown_code_is_an_error_at_its_position(project, cli):
    path = project("version: 1\nignore_warnings: [W002, W999]\nshots:\n  - id: a\n    prompt: x\n"
                   "    ignore_warnings: [w2]\n")
    result = cli("validate", str(path))
    assert result.code == 1
    assert re.search(r"storyboard\.yaml:2:25: ignore_warnings\[1\]: `W999` is not a warning code", result.err)
    assert re.search(r"storyboard\.yaml:6:23: shots\[0\]\.ignore_warnings\[0\]: `w2` is not a warning code", result.err)
    assert "2 errors" in result.err


def test_the_readme_lists_every_warning_code():
    from pathlib import Path

    from storyboard.format.warnings import CODES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for code, text in CODES.items():
        assert f"| `{code}` | {text} |" in readme, code
