"""What got in the way of a new user, each fixed as a user would expect."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from conftest import MP4_4S, PNG_1, PNG_2, ROOT, git
from storyboard.cli.main import build_parser
from storyboard.cli.progress import Progress
from storyboard.cut.probe import ffmpeg_exe
from storyboard.plan.project import compile_project
from storyboard.providers.emulator import Emulator
from storyboard.providers.preview import beat_at, render_card
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-papercuts-key"
ONE_SHOT = "version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n"


STORY = "films/lighthouse/storyboard.yaml"


# -- review in git and CI --

def test_a_new_film_is_all_added_and_a_deleted_one_all_removed(repo, cli):
    new = repo / "films" / "new"
    new.mkdir()
    (new / "storyboard.yaml").write_text(ONE_SHOT)
    added = cli("diff", "--base", "HEAD", "films/new/storyboard.yaml")
    assert added.code == 0, added.err
    assert "+ shot a: to render, $0.560" in added.out and "1 to add, 0 to change, 0 to remove" in added.out
    shutil.rmtree(repo / "films" / "lighthouse")
    removed = cli("diff", "--base", "HEAD", STORY, "--format", "json")
    assert removed.code == 0, removed.err
    data = json.loads(removed.out)
    assert data["summary"]["remove"] == 7 and data["summary"]["add"] == 0  # six shots and Mara's element


def test_the_ci_recipe_covers_added_and_deleted_films():
    text = (ROOT / "docs" / "ci.md").read_text()
    assert "git diff --name-only" in text and "storyboard diff --base" in text


def test_diff_names_music_settings_bytes_and_length(repo, cli):
    story = repo / STORY
    story.write_text(story.read_text().replace("volume: 0.35", "volume: 0.5").replace("    duration: 6\n", "    duration: 7\n"))
    (repo / "films/lighthouse/refs/mara.png").write_bytes(PNG_2)
    out = cli("diff", "--base", "HEAD", STORY).out
    assert "cut.music.volume: 0.35 → 0.5" in out
    assert "images: refs/mara.png (bytes changed)" in out
    assert "Film length: 35 s → 36 s." in out
    assert "{" not in out  # no JSON objects
    md = cli("diff", "--base", "HEAD", STORY, "--format", "markdown").out
    assert md.startswith(f"### The Lighthouse Keeper (`{STORY}`)")


@pytest.mark.parametrize("rev", ["nosuchrev", "HEAD~1"])
def test_a_missing_revision_is_named(repo, cli, rev):
    result = cli("diff", "--base", rev, STORY)
    assert result.code == 1 and f"revision `{rev}` not found in the git repository at {repo}" in result.err


def test_git_diff_through_textconv_shows_the_cut_and_reference_digests(repo, cli):
    git(repo, "config", "diff.storyboard.textconv", f"{sys.executable} -m storyboard textconv")
    (repo / "films/lighthouse/.gitattributes").write_text("storyboard.yaml diff=storyboard\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "diff driver")
    story = repo / STORY
    story.write_text(story.read_text().replace("volume: 0.35", "volume: 0.5"))
    (repo / "films/lighthouse/refs/mara.png").write_bytes(PNG_2)
    out = git(repo, "diff", "--", STORY)
    assert re.search(r"^-  music: refs/theme\.m4a @[0-9a-f]{10}, volume 0\.35", out, re.M)
    assert re.search(r"^\+  music: refs/theme\.m4a @[0-9a-f]{10}, volume 0\.5", out, re.M)
    minus = re.search(r"^-  images: refs/mara\.png @([0-9a-f]{10})$", out, re.M)
    plus = re.search(r"^\+  images: refs/mara\.png @([0-9a-f]{10})$", out, re.M)
    assert minus and plus and minus.group(1) != plus.group(1)  # the old side's digest came from git
    assert "['" not in out and "False" not in out and "True" not in out
    keeper = re.findall(r"^[-+]  images: refs/keeper-front\.png @([0-9a-f]{10})", out, re.M)
    assert len(keeper) == 2 and keeper[0] == keeper[1]  # same bytes, same digest on both sides: no noise


def test_the_readme_documents_a_textconv_line_for_the_virtual_environment():
    assert ".venv/bin/storyboard textconv" in (ROOT / "README.md").read_text()


def test_a_changed_api_address_is_named(project, cli, monkeypatch, tmp_path):
    path = project(ONE_SHOT)
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        assert cli("render", str(path), "--no-stitch").code == 0
        saved = tmp_path / "plan.json"
        assert cli("plan", str(path), "--out", str(saved)).code == 0
    monkeypatch.setenv("WAVESPEED_BASE_URL", "http://127.0.0.1:9")
    status = cli("status", str(path))
    assert "the API address differs" in status.out and "http://127.0.0.1:9" in status.out
    stale = cli("render", str(path), "--plan", str(saved))
    assert stale.code == 1 and "the API address (http://127.0.0.1:" in stale.err


# -- rendering --

def test_a_refused_connection_stops_once_before_anything(project, cli, monkeypatch):
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    monkeypatch.setenv("WAVESPEED_BASE_URL", "http://127.0.0.1:9")
    path = project(ONE_SHOT + "  - id: b\n    prompt: Gulls.\n    images: [refs/x.png]\n", files={"refs/x.png": PNG_1})
    started = time.monotonic()
    result = cli("render", str(path))
    assert time.monotonic() - started < 10
    assert result.code == 1 and result.err.count("cannot reach the WaveSpeed API at http://127.0.0.1:9") == 1
    assert "WAVESPEED_BASE_URL" in result.err and "upload kept failing" not in result.err


def test_a_wrong_key_stops_once_before_any_submit(project, cli, monkeypatch):
    with Emulator(task_seconds=0.2, api_key="the-right-key") as emu:
        monkeypatch.setenv("WAVESPEED_API_KEY", "a-wrong-key")
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        path = project(ONE_SHOT + "  - id: b\n    prompt: Gulls.\n")
        result = cli("render", str(path))
        assert result.code == 1 and result.err.count("HTTP 401") == 1 and "WAVESPEED_API_KEY" in result.err
        assert emu.stats()["total_submits"] == 0 and "upload" not in emu.stats()["requests"]


def test_the_live_display_shows_time_typical_time_money_and_a_bar(lighthouse):
    plan = compile_project(str(lighthouse)).plan
    now = [100.0]
    progress = Progress(plan, Decimal("4.7824"), file=io.StringIO(), force_terminal=True, now=lambda: now[0])
    progress("arrival", "submitting", "")
    progress("arrival", "submitted", "task-1")
    now[0] = 100 + 254
    progress("arrival", "processing", "typically 300 s")
    progress("storm", "cached", "")
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=80, force_terminal=False).print(progress._render())
    text = out.getvalue()
    assert "4:14" in text and "5:00" in text  # elapsed, typical
    assert "1/7 shots" in text and "spent $1.120 of $4.782 estimated" in text and "━" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_the_plan_table_fits_80_columns(lighthouse):
    result = subprocess.run([sys.executable, "-m", "storyboard", "plan", str(lighthouse)], capture_output=True,
                            text=True, env={**os.environ, "COLUMNS": "80", "TERM": "xterm"})
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert "…" not in result.stdout


def test_the_resubmit_hint_names_the_real_path(project, monkeypatch):
    from storyboard.providers.emulator import Fault

    path = project(ONE_SHOT)
    with Emulator(task_seconds=0.2) as emu:
        emu.add_fault(Fault("submit", "drop", times=1))
        env = {"WAVESPEED_API_KEY": KEY, "WAVESPEED_BASE_URL": emu.url}
        outcome = render_project(str(path), env=env, options=Options(rate=0), engine=None).report.outcomes[0]
    assert f"`storyboard render {path} --resubmit a`" in outcome.message


def test_plan_out_says_what_is_left_to_pay(lighthouse, cli, tmp_path):
    result = cli("plan", str(lighthouse), "--out", str(tmp_path / "p.json"))
    # 7 jobs: the Kling element Mara is made from, and six shots
    assert "p.json: 7 jobs, $4.792 for the film; $4.792 left to pay for 7 jobs not yet paid" in result.out


def test_ctrl_c_during_stitch_does_not_talk_about_tasks(cli, monkeypatch, lighthouse):
    import storyboard.cli.render_commands as commands

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "compile_for", interrupt)
    result = cli("stitch", str(lighthouse))
    assert result.code == 130 and "submitted tasks" not in result.err and "stitch" in result.err


def test_stitch_after_a_preview_render_advises_the_preview_cut(lighthouse, cli):
    assert cli("render", str(lighthouse), "--provider", "preview", "--no-stitch").code == 0
    result = cli("stitch", str(lighthouse))
    assert result.code == 1 and f"storyboard stitch {lighthouse} --provider preview" in result.err


# -- the film --

def tone_file(path: Path, seconds: float, freq: int = 440) -> Path:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=f={freq}:r=48000:d={seconds}",
                    "-c:a", "aac", "-b:a", "96k", str(path)], check=True)
    return path


def level(film: Path, start: float, seconds: float = 0.3) -> float:
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", str(start), "-t", str(seconds), "-i", str(film),
                          "-f", "s16le", "-ac", "1", "-ar", "8000", "-"], capture_output=True, check=True).stdout
    samples = np.frombuffer(pcm, np.int16).astype(float)
    return float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0


MUSIC_FILM = """\
version: 1
shots:
  - {{id: a, prompt: one, duration: 5}}
  - {{id: b, prompt: two, duration: 5}}
  - {{id: c, prompt: three, duration: 4}}
cut:
  output: renders/film.mp4
  music: {{file: refs/bed.m4a, volume: 0.5, fade_out: 1{extra}}}
"""


@pytest.mark.parametrize("engine", ["ffmpeg", "moviepy"])
def test_a_short_music_bed_loops_and_fades_out_at_the_end(project, cli, engine):
    path = project(MUSIC_FILM.format(extra=""))
    (path.parent / "refs").mkdir()
    tone_file(path.parent / "refs" / "bed.m4a", 6)
    assert cli("validate", str(path)).err == ""
    assert cli("render", str(path), "--provider", "preview", "--engine", engine).code == 0
    film = path.parent / "renders" / "film.mp4"
    assert level(film, 11.0) > 1000  # 5 s after the bed's own end: it looped
    assert level(film, 13.8, 0.15) < level(film, 12.0) / 3  # and fades out where the film ends


@pytest.mark.parametrize("engine", ["ffmpeg", "moviepy"])
def test_a_music_bed_that_plays_once_fades_out_where_it_stops(project, cli, engine):
    path = project(MUSIC_FILM.format(extra=", loop: false"))
    (path.parent / "refs").mkdir()
    tone_file(path.parent / "refs" / "bed.m4a", 6)
    warned = cli("validate", str(path))
    assert "warning: cut.music: the music (6" in warned.err and "does not loop" in warned.err
    assert cli("render", str(path), "--provider", "preview", "--engine", engine).code == 0
    film = path.parent / "renders" / "film.mp4"
    assert level(film, 4.0) > 1000
    assert level(film, 5.85, 0.1) < level(film, 4.5) / 3  # audibly faded before it stops at 6 s
    assert level(film, 9.0) < 50  # then silence


def test_the_animatic_shows_beats_in_their_own_seconds_and_keeps_a_videos_sound(project, tmp_path):
    path = project("version: 1\nshots:\n  - id: m\n    prompt: Two beats.\n    duration: 6\n    shot_type: customize\n"
                   "    multi_prompt:\n      - {prompt: The first beat, duration: 2}\n"
                   "      - {prompt: The second beat, duration: 4}\n"
                   "  - id: v\n    prompt: With its own sound.\n    video: refs/waves.mp4\n"
                   "  - id: i\n    model: kwaivgi/kling-video-o3-pro/image-to-video\n    prompt: From a frame.\n"
                   "    image: refs/first.png\n    end_image: refs/last.png\n",
                   files={"refs/waves.mp4": MP4_4S, "refs/first.png": PNG_1, "refs/last.png": PNG_2})
    plan = compile_project(str(path), provider="preview").plan
    m, v, i = plan.jobs
    assert [beat_at(m, t) for t in (0.5, 1.9, 2.1, 5.9)] == [0, 0, 1, 1]

    def frame(job, t):
        dest = tmp_path / f"{job.shot}.mp4"
        if not dest.exists():
            render_card(job, path.parent, dest)
        raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", str(t), "-i", str(dest), "-frames:v", "1",
                              "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
        return np.frombuffer(raw, np.uint8).astype(float).reshape(360, 640)[90:230]  # the prompt and the beats

    # the lit beat moves: within one beat the text stays, across beats it changes
    same, other = frame(m, 0.5), frame(m, 1.5)
    across, within = np.abs(frame(m, 3.0) - same).mean(), np.abs(other - same).mean()
    assert across > 0.05 and across > 10 * within, (across, within)
    # the reference video's own sound, not the preview tone
    render_card(v, path.parent, tmp_path / "v.mp4")

    def pcm(file: Path) -> np.ndarray:
        raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(file), "-t", "1", "-f", "s16le", "-ac", "1",
                              "-ar", "8000", "-"], capture_output=True, check=True).stdout
        return np.frombuffer(raw, np.int16).astype(float)

    source, card = pcm(path.parent / "refs/waves.mp4"), pcm(tmp_path / "v.mp4")
    assert len(source) and len(card)
    assert np.argmax(np.abs(np.fft.rfft(card))) == np.argmax(np.abs(np.fft.rfft(source)))
    from storyboard.providers.preview import _thumbs

    assert [label for _, label in _thumbs(i, path.parent)] == ["first frame", "last frame"]


@pytest.mark.parametrize("written, where", [("    shot_type: intelligent\n", "shots[0].shot_type"),
                                            ("", "shots[0].multi_prompt")])
def test_segments_with_intelligent_shot_type_warn(project, cli, written, where):
    path = project("version: 1\nshots:\n  - id: m\n    prompt: Two beats.\n    duration: 6\n" + written +
                   "    multi_prompt:\n      - {prompt: one, duration: 2}\n      - {prompt: two, duration: 4}\n")
    result = cli("validate", str(path))
    assert result.code == 0 and f"warning: {where}:" in result.err and "shot_type: customize" in result.err


# -- finding the project --

def test_commands_find_the_project_from_a_sub_folder(lighthouse, cli, monkeypatch):
    monkeypatch.chdir(lighthouse / "refs")
    result = cli("validate")
    assert result.code == 0 and "ok: 6 shots" in result.out
    assert cli("plan").code == 0 and cli("status").code == 0


def test_no_project_says_where_it_looked(tmp_path, cli, monkeypatch):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / ".git").mkdir()  # the top of a repository: the search stops here
    monkeypatch.chdir(folder)
    result = cli("plan")
    assert result.code == 1 and f"no storyboard.yaml in {folder}" in result.err and "storyboard init" in result.err
    (folder / "storyboard.yml").write_text(ONE_SHOT)
    result = cli("validate")
    assert result.code == 1 and "did you mean `storyboard.yml`?" in result.err


def test_a_left_out_shot_causes_no_warning_of_its_own(project, cli):
    path = project("version: 1\nshots:\n  - id: a\n    promt: x\n  - id: b\n    prompt: y\n"
                   "    transition: {type: crossfade, duration: 0.5}\n")
    result = cli("validate", str(path))
    assert result.code == 1 and "promt" in result.err and "no shot before it" not in result.err


# -- help --

def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for deeper in _subcommands(sub):
                    yield deeper


def test_every_command_says_what_it_does_and_every_option_has_help():
    for name, sub in _subcommands(build_parser()):
        assert sub.description and sub.description[0].isupper(), name
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{name} {action.dest}"
        text = sub.format_help()
        for action in sub._actions:
            if action.option_strings and action.default not in (None, False, [], argparse.SUPPRESS):
                assert "default" in (sub._get_formatter()._get_help_string(action) or ""), f"{name} {action.dest}"
        assert text.splitlines()[2].strip(), name  # the description right after the usage


def test_the_top_level_help_lists_exit_codes(cli):
    text = build_parser().format_help()
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130"):
        assert re.search(rf"^\s+{code}", text, re.M), code


def test_the_readme_lists_every_command_and_option():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Commands"):readme.index("## The format")]
    for name, sub in _subcommands(build_parser()):
        name = {"verify": "cache verify", "size": "cache size", "gc": "cache gc", "prune": "lock prune"}.get(name, name)
        assert f"`storyboard {name}" in table, name
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in table, f"{name} {option}"
