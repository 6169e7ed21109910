"""Files and clones (issue 25, items 10, 11, 16, 22): `stitch` cuts from the lock, a missing remote is an
error, `push` says what it uploaded, and `push`/`pull` give a JSON summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-cli-files-key"
FILM = ("version: 1\ntitle: Harbour\nshots:\n  - id: a\n    prompt: A quiet harbour.\n"
        "  - id: b\n    prompt: Gulls at dawn.\n    duration: 3\ncut:\n  output: renders/film.mp4\n")


def render(path, emulator, **kw):
    env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
    return render_project(str(path), env=env, options=Options(concurrency=4, rate=0), **kw)


def clone(path: Path, dest: Path) -> Path:
    """What `git clone` gives a teammate: the storyboard, the lock and the media; no clips."""
    shutil.copytree(path.parent, dest, ignore=shutil.ignore_patterns(".storyboard", "renders"))
    return dest / "storyboard.yaml"


@pytest.fixture
def rendered(project, tmp_path):
    """A film rendered on the emulator, its clips pushed to a shared folder; the emulator is gone since."""
    path = project(FILM)
    shared = tmp_path / "shared"
    shared.mkdir()
    with Emulator(task_seconds=0.2) as emu:
        film = render(path, emu, remote_flag=str(shared)).film.read_bytes()
        origin = emu.url
    return path, shared, film, origin


# -- 10: stitch cuts from the lock --

def test_stitch_in_a_clone_cuts_the_clips_the_lock_names_without_the_api_address(rendered, cli, tmp_path):
    path, shared, film, origin = rendered
    other = clone(path, tmp_path / "teammate")
    pulled = cli("pull", str(other), "--remote", str(shared))  # no WAVESPEED_BASE_URL in this shell
    assert pulled.code == 0, pulled.err
    result = cli("stitch", str(other))
    assert result.code == 0, result.err
    assert (other.parent / "renders" / "film.mp4").read_bytes() == film
    assert "cut from the clips the lock names" in result.err and origin in result.err
    # through the remote directly, nothing pulled first
    third = clone(path, tmp_path / "third")
    assert cli("stitch", str(third), "--remote", str(shared)).code == 0
    assert (third.parent / "renders" / "film.mp4").read_bytes() == film


def test_stitch_names_the_address_and_never_advises_paying_again(rendered, cli, tmp_path):
    path, _, _, origin = rendered
    other = clone(path, tmp_path / "teammate")  # the clips are nowhere this clone can read
    result = cli("stitch", str(other))
    assert result.code == 1
    assert f"paid at {origin}" in result.err and "storyboard pull" in result.err
    assert f"WAVESPEED_BASE_URL={origin} storyboard render" in result.err
    assert "render them first: `storyboard render" not in result.err


def test_pull_in_a_clone_advises_the_address_the_lock_names_not_paying_again(rendered, cli, tmp_path):
    path, _, _, origin = rendered
    other = clone(path, tmp_path / "teammate")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("pull", str(other), "--remote", str(empty))
    assert result.code == 1 and "(a, b)" in result.out
    assert f"paid at {origin} (the lock): `WAVESPEED_BASE_URL={origin} storyboard render" in result.err


def test_a_shot_changed_since_it_was_paid_is_not_cut_from_the_lock(rendered, cli, tmp_path):
    path, shared, _, _ = rendered
    other = clone(path, tmp_path / "teammate")
    other.write_text(other.read_text().replace("Gulls at dawn.", "Gulls at dusk."))
    result = cli("stitch", str(other), "--remote", str(shared))
    assert result.code == 1 and "shot b " in result.err and "render" in result.err


# -- 11: a missing remote is an error; push says what it uploaded --

@pytest.mark.parametrize("command", ["pull", "push", "status"])
def test_a_missing_folder_remote_is_an_error_naming_it(rendered, cli, tmp_path, command):
    path, shared, _, _ = rendered
    typo = str(shared) + "-typo"
    result = cli(command, str(path), "--remote", typo)
    assert result.code == 1, result.out
    assert f"remote {typo}: no such folder" in result.err
    assert "not in the remote" not in result.out and not Path(typo).exists()


def test_push_creates_a_folder_remote_only_when_asked_and_says_what_it_uploaded(project, cli, tmp_path, monkeypatch):
    path = project(FILM.replace("    duration: 3\n", "    duration: 3\n    take: 2\n"))
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu, engine=None)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)  # the same API address: the same job keys
    shared = tmp_path / "new-remote"
    assert cli("push", str(path), "--remote", str(shared)).code == 1 and not shared.exists()
    first = cli("push", str(path), "--remote", str(shared), "--create")
    assert first.code == 0, first.err
    assert "2 clips pushed, 0 already there" in first.out
    again = cli("push", str(path), "--remote", str(shared), "--json")
    data = json.loads(again.out)
    assert data == {"remote": str(shared), "pushed": 0, "already_there": 2, "not_in_cache": []}
    shutil.rmtree(path.parent / ".storyboard")
    pulled = cli("pull", str(path), "--remote", str(shared), "--json")
    assert json.loads(pulled.out) == {"remote": str(shared), "pulled": 2, "already_here": 0, "not_in_remote": []}


def test_lists_name_each_job_once(project, cli, tmp_path, monkeypatch):
    """The chosen take 2 of b is `b#2`, not a second `b`."""
    path = project(FILM.replace("    duration: 3\n", "    duration: 3\n    take: 2\n"))
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu, engine=None)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    shutil.rmtree(path.parent / ".storyboard" / "cache")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("pull", str(path.parent), "--remote", str(empty), "--json")
    assert result.code == 1
    assert json.loads(result.out)["not_in_remote"] == ["a", "b#2"]
    text = cli("pull", str(path.parent), "--remote", str(empty))
    assert "(a, b#2)" in text.out


# -- 22 --

def test_stitch_help_says_it_reads_through_the_remote(cli):
    result = cli("stitch", "--help")
    description = result.out.split("positional arguments")[0].split("\n\n", 1)[1]  # after the usage
    assert "remote" in description


# -- 13: an OTIO timeline an editor can use --

def test_the_otio_timeline_names_shots_and_refers_to_clips_beside_it(project, cli, tmp_path):
    import re

    import opentimelineio as otio

    path = project(FILM.replace("    duration: 3\n", "    duration: 3\n    take: 2\n"))
    assert cli("render", str(path), "--provider", "preview").code == 0
    out = tmp_path / "edit" / "film.otio"
    result = cli("stitch", str(path), "--provider", "preview", "--otio", str(out))
    assert result.code == 0, result.err
    moved = tmp_path / "elsewhere"
    shutil.move(tmp_path / "edit", moved)  # the editor's machine: the timeline and its clips, nothing else
    shutil.rmtree(path.parent / ".storyboard")
    timeline = otio.adapters.read_from_file(str(moved / "film.otio"))
    clips = [c for c in timeline.tracks[0] if isinstance(c, otio.schema.Clip)]
    assert [c.name for c in clips] == ["a", "b (take 2)"]
    urls = [c.media_reference.target_url for c in clips]
    assert urls == ["film-clips/01-a.mp4", "film-clips/02-b-take2.mp4"]
    assert all((moved / url).is_file() and (moved / url).stat().st_size > 1000 for url in urls)
    assert ".storyboard" not in (moved / "film.otio").read_text()
    assert not any(re.search(r"[0-9a-f]{16}", url) for url in urls)  # the job key stays in the metadata only
