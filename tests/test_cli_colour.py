"""Colour like git and Terraform, never at the cost of escaping (issue 25, item 8)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from conftest import ROOT

ESC = "\x1b["
TWO = "version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour at night.\n  - id: b\n    prompt: Gulls.\n"
BAD = "version: 1\nshots:\n  - id: a\n    prompt: x\n    duration: five\n  - id: b\n    prompt: y\n    duration: 99\n"


def sides(tmp_path, old: str, new: str):
    out = []
    for name, text in (("old", old), ("new", new)):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "storyboard.yaml").write_text(text)
        out.append(str(tmp_path / name / "storyboard.yaml"))
    return out


def test_diff_is_coloured_with_color_always_and_plain_otherwise(tmp_path, cli, monkeypatch):
    old, new = sides(tmp_path, TWO, TWO.replace("quiet", "calm") + "  - id: c\n    prompt: Rain.\n")
    coloured = cli("diff", old, new, "--color", "always").out
    assert "\x1b[32m+ shot c: to render, $0.560 to pay\x1b[0m" in coloured
    assert "\x1b[33m~ shot a: to re-render" in coloured
    assert "\x1b[31m[-quiet-]\x1b[0m\x1b[32m{+calm+}\x1b[0m" in coloured
    plain = cli("diff", old, new).out  # captured: not a terminal
    assert ESC not in plain and "+ shot c: to render" in plain
    assert ESC not in cli("diff", old, new, "--color", "never").out
    monkeypatch.setenv("NO_COLOR", "1")
    assert ESC not in cli("diff", old, new).out
    assert ESC in cli("diff", old, new, "--color", "always").out  # an explicit choice wins, as in git


def test_validate_counts_and_names_the_file_and_colours_errors(tmp_path, cli, monkeypatch):
    (tmp_path / "storyboard.yaml").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "--color", "always")
    assert result.code == 1
    assert "\x1b[1mstoryboard.yaml: \x1b[0m\x1b[31m2 errors\x1b[0m" in result.err
    assert "\x1b[31mshots[0].duration: must be a whole number" in result.err
    plain = cli("validate")
    assert ESC not in plain.err and plain.err.splitlines()[-1] == "storyboard.yaml: 2 errors"
    assert ". " not in plain.err.splitlines()[-1]


def test_validate_ok_names_the_file_and_counts_warnings(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "storyboard.yaml").write_text(
        "version: 1\ncharacters:\n  ada: {description: a keeper}\nshots:\n  - id: a\n    prompt: ada waves.\n"
        "    model: kwaivgi/kling-video-o3-pro/text-to-video\n")
    result = cli("validate")
    assert result.out.startswith("storyboard.yaml: ok: 1 shot")


def test_hostile_text_is_still_escaped_with_colour_on(tmp_path, cli):
    evil = "A harbour \x1b[2J\x1b]0;owned\x07 at night."
    old, new = sides(tmp_path, TWO, TWO.replace("A quiet harbour at night.", json.dumps(evil)))
    out = cli("diff", old, new, "--color", "always").out
    assert "\x1b[2J" not in out and "\x1b]0" not in out and "\\x1b[2J" in out
    assert ESC in out  # colour on, all the same
    bad = tmp_path / "evil\x1b[31mname.yaml"
    bad.write_text(BAD)
    err = cli("validate", str(bad), "--color", "always").err
    assert "\x1b[31mname" not in err and "evil\\x1b[31mname.yaml" in err
    status = cli("status", new, "--color", "always").out
    assert "\x1b[32mnew" in status and "\x1b[2J" not in status


def on_a_terminal(command: list[str], env: dict) -> bytes:
    """What ``command`` writes to stdout when stdout is a pseudo-terminal."""
    main, child = pty.openpty()
    proc = subprocess.Popen(command, env=env, stdout=child, stderr=subprocess.DEVNULL)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(main)
    return seen


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_auto_colours_a_terminal_but_not_a_pipe(tmp_path):
    old, new = sides(tmp_path, TWO, TWO + "  - id: c\n    prompt: Rain.\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    command = [sys.executable, "-m", "storyboard", "diff", old, new]
    piped = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and ESC not in piped.stdout and "+ shot c" in piped.stdout
    seen = on_a_terminal(command, env)
    assert b"\x1b[32m+ shot c" in seen
    env["NO_COLOR"] = "1"
    seen = on_a_terminal(command, env)
    assert b"\x1b[" not in seen and b"+ shot c" in seen
