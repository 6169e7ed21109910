"""A lock's element entries are written by others too (hand edits, merges, a
hostile pull request): whatever they hold, every command that reads the lock
exits 0 or 1 with a message, never a traceback, and nothing is paid again."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import run_cli

from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-element-lock-property"
FIELDS = ["key", "model", "origin", "task_id", "element_id", "name", "cost", "completed_at"]
FILM = """version: 1
characters:
  mara:
    name: Mara
    description: a fisher
    element: {frontal: front.png, views: [side.png]}
shots:
  - {id: a, prompt: Mara rows., characters: [mara], duration: 3}
"""
HOSTILE = st.sampled_from(["9007199254740993", 9007199254740993, 3.07212335131305e14, "1e400", "", "\x1b[2J",
                           "../../x", "a" * 64, "0" * 41, -1, True, None, [], {}, "t\r\nX: 1", "١٢٣"])
values = HOSTILE | st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=5)
READERS = [("status",), ("status", "--json"), ("takes",), ("lock", "prune", "--dry-run"), ("plan",), ("render",)]


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 320), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def rendered():
    with tempfile.TemporaryDirectory() as tmp, Emulator(task_seconds=0.05) as emu:
        root = Path(tmp) / "proj"
        root.mkdir()
        (root / "storyboard.yaml").write_text(FILM)
        (root / "front.png").write_bytes(png("red"))
        (root / "side.png").write_bytes(png("blue"))
        env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
        render_project(str(root / "storyboard.yaml"), env=env, options=Options(concurrency=2, rate=0))
        yield root, emu


@settings(max_examples=60, deadline=30_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS + ["character"]), value=values, retired=st.booleans())
def test_any_value_in_any_field_of_an_element_entry(rendered, monkeypatch, field, value, retired):
    root, emu = rendered
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    lock = json.loads((root / "storyboard.lock").read_text())
    entry = dict(lock["elements"]["mara"])
    if retired:  # the same entry, retired under its key
        entry["character"] = "mara"
        lock["retired_elements"] = {entry["key"]: entry}
    elif field == "character":
        lock["elements"] = {str(value): entry}
    if field != "character" or retired:
        entry[field] = value
    if not retired and field != "character":
        lock["elements"]["mara"] = entry
    submits = emu.stats()["total_submits"]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "proj"
        shutil.copytree(root, copy)
        (copy / "storyboard.lock").write_text(json.dumps(lock))
        for command in READERS:
            code, output = run_cli(*command, str(copy))
            assert code in (0, 1), (command, code, output)
            assert "Traceback" not in output and "internal error" not in output, (command, output)
            assert not any(c in output for c in "\x1b\x07\x08"), (command, output)
    assert emu.stats()["total_submits"] == submits  # the film is cached: nothing is paid again
