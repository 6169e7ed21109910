"""A lock is written by others (hand edits, merges, a hostile pull request):
whatever any of its fields holds, every command that reads it exits 0 or 1
with a message, never 3 or a traceback, never hangs, never pays, and never
changes the film."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli

from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-lock-property"
FILM = "version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n  - id: b\n    prompt: Gulls at dawn.\n"
FIELDS = ["key", "model", "origin", "task_id", "clip", "duration", "cost", "completed_at", "inputs"]

# Values people and tools really write, beside arbitrary JSON: half the examples draw from these.
HOSTILE = st.sampled_from(["9999-12-31T23:59:59+00:00", "2026-11-01", "2026-11-01T10:00:00", "0001-01-01T00:00:00-23:59",
                           "../../etc/passwd", "sha256:" + "0" * 64, "\x1b[2J", "NaN", "1e400", "-0.0", "", " ",
                           "a" * 64, 10**30, -1, 0, 1e308, True, [], {}, None, "0.56", "t\r\nX-Injected: 1"])
json_values = HOSTILE | st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def rendered():
    """A film rendered once against the emulator: its project folder (lock, cache) and the emulator."""
    with tempfile.TemporaryDirectory() as tmp, Emulator(task_seconds=0.05) as emu:
        root = Path(tmp) / "proj"
        root.mkdir()
        (root / "storyboard.yaml").write_text(FILM)
        env = {"WAVESPEED_BASE_URL": emu.url, "WAVESPEED_API_KEY": KEY}
        result = render_project(str(root / "storyboard.yaml"), env=env, options=Options(concurrency=4, rate=0))
        yield root, emu, hashlib.sha256(result.film.read_bytes()).hexdigest()


def check(rendered, monkeypatch, lock_text: str, commands, fresh: bool = False) -> None:
    """Run ``commands`` on a copy of the project with ``lock_text`` as its lock (``fresh``: without
    its cache, as a new clone, so the lock alone says where each clip is)."""
    root, emu, film = rendered
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    submits = emu.stats()["total_submits"]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "proj"
        shutil.copytree(root, copy, symlinks=True)
        (copy / "storyboard.lock").write_text(lock_text)
        if fresh:
            shutil.rmtree(copy / ".storyboard")
        for command in commands:
            code, output = run_cli(*command, str(copy))
            assert code in (0, 1), (command, code, output)
            assert "Traceback" not in output and "internal error" not in output, (command, output)
            assert not any(c in output for c in "\x1b\x07\x08"), (command, output)
        out = copy / "renders" / "film.mp4"
        if out.exists():
            assert hashlib.sha256(out.read_bytes()).hexdigest() == film
    assert emu.stats()["total_submits"] == submits  # the film is cached: nothing is ever paid again


READERS = [("status",), ("status", "--json"), ("takes",), ("lock", "prune", "--dry-run"), ("plan",)]


@settings(max_examples=300, deadline=20_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=json_values, shot=st.sampled_from(["a", "b"]), fresh=st.booleans())
def test_any_value_in_any_field_of_an_entry(rendered, monkeypatch, field, value, shot, fresh):
    lock = json.loads((rendered[0] / "storyboard.lock").read_text())
    lock["shots"][shot][field] = value
    check(rendered, monkeypatch, json.dumps(lock), READERS, fresh)


@settings(max_examples=40, deadline=20_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(section=st.sampled_from(["shots", "takes", "retired", "version", None]), value=json_values)
def test_any_value_in_place_of_a_section_or_the_whole_lock(rendered, monkeypatch, section, value):
    lock = json.loads((rendered[0] / "storyboard.lock").read_text())
    if section is None:
        lock = value
    else:
        lock[section] = value
    check(rendered, monkeypatch, json.dumps(lock), READERS)


@settings(max_examples=12, deadline=60_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_render_and_stitch_with_a_hostile_lock_pay_nothing_and_keep_the_film(rendered, monkeypatch, field, value):
    lock = json.loads((rendered[0] / "storyboard.lock").read_text())
    lock["shots"]["b"][field] = value
    check(rendered, monkeypatch, json.dumps(lock), [("render",), ("stitch",)])


@settings(max_examples=30, deadline=20_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_garbage_bytes(rendered, monkeypatch, raw):
    root, emu, film = rendered
    lock = (root / "storyboard.lock").read_bytes()
    cut = len(raw) % max(len(lock), 1)
    check(rendered, monkeypatch, (lock[:cut] + raw).decode("utf-8", "replace"), READERS)
