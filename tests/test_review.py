"""Review: status from the lock, diffs between git revisions, saved plans, init."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, PNG_2, git  # noqa: F401 (repo is a conftest fixture)
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-review-test"


STORY = "films/lighthouse/storyboard.yaml"


def edit(repo: Path, old: str, new: str) -> None:
    path = repo / STORY
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def test_no_change(repo, cli):
    result = cli("diff", "--base", "HEAD", STORY, "--exit-code")
    assert result.code == 0
    assert "No changes." in result.out
    assert "Plan: 0 to add, 0 to change, 0 to remove. Re-render cost $0.000; film total $4.782 → $4.782." in result.out


def test_prompt_change(repo, cli):
    edit(repo, "as the storm comes in.", "as the storm breaks.")
    text = cli("diff", "--base", "HEAD", STORY, "--exit-code")
    assert text.code == 1
    assert "~ shot storm: to re-render, $0.840" in text.out
    assert "~ prompt: …below the tower as the storm [-comes in.-]{+breaks.+}" in text.out
    assert "Plan: 0 to add, 1 to change, 0 to remove. Re-render cost $0.840; film total $4.782 → $4.782." in text.out
    md = cli("diff", "--base", "HEAD", STORY, "--format", "markdown")
    assert "| ~ | `storm` | re-render | prompt: " in md.out and "| $0.840 |" in md.out
    assert "**Plan: 0 to add, 1 to change, 0 to remove." in md.out
    data = json.loads(cli("diff", "--base", "HEAD", STORY, "--format", "json").out)
    storm = next(s for s in data["shots"] if s["shot"] == "storm")
    assert storm["status"] == "changed" and storm["old_key"] != storm["new_key"]
    assert [c["field"] for c in storm["changes"]] == ["prompt"] and storm["cost_delta"] == "0.000"
    assert {s["status"] for s in data["shots"] if s["shot"] != "storm"} == {"unchanged"}
    assert len(data["shots"]) == 6


def test_duration_change_between_two_revisions(repo, cli):
    edit(repo, "duration: 6\n", "duration: 8\n")
    commit(repo)
    result = cli("diff", f"HEAD~1:{STORY}", f"HEAD:{STORY}")
    assert "~ shot boat: to re-render, $1.075" in result.out
    assert "~ duration: 6 → 8" in result.out
    assert "film total $4.782 → $5.051." in result.out  # 4.7824 + 2 * 0.112 * 1.2 = 5.0512
    assert "multi_prompt" not in result.out


def test_reference_bytes_change(repo, cli):
    (repo / "films/lighthouse/refs/mara.png").write_bytes(PNG_2)
    result = cli("diff", "--base", "HEAD", STORY, "--format", "json")
    data = json.loads(result.out)
    changed = {s["shot"]: s for s in data["shots"] if s["status"] == "changed"}
    assert set(changed) == {"boat", "rescue", "dawn"}  # Mara is in both; dawn starts from rescue's last frame
    assert changed["boat"]["changes"][0]["after"] == "refs/mara.png (bytes changed)"
    assert changed["dawn"]["changes"] == [{"field": "upstream", "because": ["rescue"], "text": "because `rescue` changed"}]
    assert data["summary"]["text"].startswith("Plan: 0 to add, 3 to change, 0 to remove.")


def test_transition_change_is_recut_only(repo, cli):
    edit(repo, "transition: {type: fade, duration: 1}", "transition: {type: crossfade, duration: 0.5}")
    result = cli("diff", "--base", "HEAD", STORY, "--exit-code")
    assert result.code == 0
    assert "~ shot boat: re-cut only, $0.000" in result.out
    assert "~ transition: \"fade 1 s\" → \"crossfade 0.5 s\"" in result.out
    assert result.out.strip().endswith(
        "Plan: 0 to add, 0 to change, 0 to remove. Re-render cost $0.000; film total $4.782 → $4.782. 1 re-cut only.")


def test_add_and_remove_shots(repo, cli):
    path = repo / STORY
    text = path.read_text()
    credits_at = text.index("  - id: credits")
    cut_at = text.index("cut:\n")
    text = text[:credits_at] + text[cut_at:]  # credits removed
    text = text.replace("shots:\n", "shots:\n  - id: prologue\n    prompt: Fog over the sea.\n    duration: 5\n\n", 1)
    path.write_text(text)
    result = cli("diff", "--base", "HEAD", STORY, "--exit-code")
    assert result.code == 1
    assert "+ shot prologue: to render, $0.560" in result.out
    assert "- shot credits: removed" in result.out
    assert "Plan: 1 to add, 0 to change, 1 to remove. Re-render cost $0.560; film total $4.782 → $4.894." in result.out
    # the other shots did not "move": their order among themselves is unchanged
    assert "position" not in result.out


def test_a_move_in_the_order_is_recut_only(repo, cli):
    path = repo / STORY
    text = path.read_text()
    dawn = text[text.index("  - id: dawn"):text.index("  - id: credits")]
    text = text.replace(dawn, "")
    text = text.replace("  - id: storm", dawn + "  - id: storm")
    path.write_text(text)
    result = cli("diff", "--base", "HEAD", STORY)
    assert "~ shot dawn: re-cut only, $0.000" in result.out and "~ position: 5 → 2" in result.out


def test_invalid_side_is_reported_with_positions(repo, cli):
    edit(repo, "duration: 6\n", "duration: 60\n")
    result = cli("diff", "--base", "HEAD", STORY)
    assert result.code == 1
    assert f"{STORY}:50:15: shots[2].duration: 60 is more than the model allows (3 to 15 seconds)" in result.err
    commit(repo)
    result = cli("diff", f"HEAD:{STORY}", f"HEAD~1:{STORY}")
    assert result.code == 1 and f"HEAD:{STORY}:50:15: shots[2].duration" in result.err
    assert cli("diff", f"nosuchrev:{STORY}", STORY).code == 1


# -- saved plans --

STALE_EDITS = {
    "prompt": ("as the storm comes in.", "as the storm breaks."),
    "duration": ("duration: 6\n", "duration: 7\n"),
    "transition": ("transition: {type: fade, duration: 1}", "transition: {type: crossfade, duration: 1}"),
    "add": ("shots:\n", "shots:\n  - id: prologue\n    prompt: Fog.\n"),
}


@pytest.mark.parametrize("change", [*STALE_EDITS, "bytes", "remove", "prices"])
def test_a_stale_saved_plan_is_refused(repo, cli, change, monkeypatch):
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    monkeypatch.setenv("WAVESPEED_BASE_URL", "http://127.0.0.1:9")  # nothing may be sent
    assert cli("plan", STORY, "--out", "plan.json").code == 0
    if change in STALE_EDITS:
        edit(repo, *STALE_EDITS[change])
    elif change == "bytes":
        (repo / "films/lighthouse/refs/keeper-side.png").write_bytes(PNG_2)
    elif change == "remove":
        path = repo / STORY
        text = path.read_text()
        path.write_text(text[:text.index("  - id: credits")] + text[text.index("cut:\n"):])
    else:
        shutil.copy(EXAMPLES / "prices" / "wavespeed-2025-list.yaml", repo / "films/lighthouse/prices.yaml")
        edit(repo, "title:", "prices: prices.yaml\ntitle:")
    result = cli("render", STORY, "--plan", "plan.json")
    assert result.code == 1, result.err
    assert "the saved plan is stale" in result.err
    expected = {"prompt": "storm (changed)", "duration": "boat (changed)", "transition": "the cut of boat",
                "add": "prologue (added)", "bytes": "arrival (changed)", "remove": "credits (removed)",
                "prices": "the price list"}[change]
    assert expected in result.err


def test_a_fresh_saved_plan_renders_exactly_it(project, cli, monkeypatch, tmp_path):
    path = project("version: 1\nshots:\n  - {id: a, prompt: one}\n  - {id: b, prompt: two}\n")
    plan_file = tmp_path / "plan.json"
    assert cli("plan", str(path), "--provider", "preview", "--out", str(plan_file)).code == 0
    result = cli("render", str(path), "--plan", str(plan_file), "--no-stitch")  # the plan says preview
    assert result.code == 0, result.err
    assert "2 rendered" in result.out


# -- status --

def test_status_in_a_fresh_clone_from_the_lock_alone(repo, cli, monkeypatch, tmp_path):
    with Emulator(task_seconds=0.2) as emulator:
        env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
        render_project(STORY, env=env, options=Options(concurrency=6, rate=0), engine=None)
        assert (repo / "films/lighthouse/storyboard.lock").is_file()
        monkeypatch.setenv("WAVESPEED_BASE_URL", emulator.url)
        here = cli("status", STORY)
        assert here.out.count(" here ") == 6 and "0 shots to render, $0.000" in here.out  # the clips are here
        commit(repo, "rendered")
        clone = tmp_path / "clone"
        git(tmp_path, "clone", "-q", str(repo), str(clone))
        monkeypatch.chdir(clone)
        monkeypatch.delenv("WAVESPEED_API_KEY", raising=False)
        edit(clone, "as the storm comes in.", "as the storm breaks.")
        edit(clone, "  - id: credits", "  - id: epilogue")
        result = cli("status", STORY, "--json")
        assert result.code == 0, result.err
        data = json.loads(result.out)
        states = {s["shot"]: s["state"] for s in data["shots"]}
        # epilogue is credits renamed: the same job, already paid for; the provider keeps the paid clips a week
        assert states == {"arrival": "provider", "storm": "changed", "boat": "provider", "rescue": "provider",
                          "dawn": "provider", "epilogue": "provider"}
        assert all(s["where"].startswith("provider (until 20") for s in data["shots"] if s["state"] == "provider")
        assert data["cost"] == "0.840" and data["to_render"] == 1
        edit(clone, "Gulls circle", "Terns circle")
        text = cli("status", STORY)
        assert "epilogue  new" in text.out.replace("   ", "  ") or "epilogue  new" in text.out
        assert "To bring the film up to date: 2 shots to render, $1.288." in text.out


# -- init and git integration --

def test_init_makes_a_project_that_validates(tmp_path, cli):
    target = tmp_path / "film"
    result = cli("init", str(target))
    assert result.code == 0
    names = {p.relative_to(target).as_posix() for p in target.rglob("*")
             if p.is_file() and p.relative_to(target).parts[0] != ".git"}  # init made a repository too
    assert names == {"storyboard.yaml", "storyboard.schema.json", ".gitignore", ".gitattributes", "refs/.gitkeep"}
    assert (target / "storyboard.yaml").read_text().startswith("# yaml-language-server: $schema=storyboard.schema.json")
    assert ".storyboard/" in (target / ".gitignore").read_text()
    assert "diff=storyboard" in (target / ".gitattributes").read_text()
    assert cli("validate", str(target)).code == 0
    again = cli("init", str(target))
    assert again.code == 1 and "already exists" in again.err


def test_git_diff_shows_the_plan_through_textconv(tmp_path, cli):
    target = tmp_path / "film"
    cli("init", str(target))
    git(target, "init", "-q")
    git(target, "config", "user.email", "t@example.invalid")
    git(target, "config", "user.name", "t")
    git(target, "config", "diff.storyboard.textconv", f"{sys.executable} -m storyboard textconv")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "start")
    story = target / "storyboard.yaml"
    story.write_text(story.read_text().replace("  duration: 5\n", "  duration: 7\n", 1))
    out = git(target, "diff")
    assert "-shot opening: kwaivgi/kling-video-o3-pro/reference-to-video 5 s $0.560" in out
    assert "+shot opening: kwaivgi/kling-video-o3-pro/reference-to-video 7 s $0.784" in out


def test_pre_commit_hook_definition():
    import yaml

    from conftest import ROOT

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "storyboard-validate" and hooks[0]["entry"] == "storyboard validate"
