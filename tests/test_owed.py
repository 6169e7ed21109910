"""What is left to pay, told apart from what a change costs and what was spent
(issue 25, items 4-6): ``plan`` marks each job and ends with the money to pay
now, ``diff`` says which sums are owed, ``status`` names takes and what the
film has cost so far. Against the emulator, over loopback."""

from __future__ import annotations

import json
import shutil

import pytest

from storyboard.providers.emulator import Emulator

from conftest import git

KEY = "sk-owed-key"
FILM = """version: 1
shots:
  - id: s1
    prompt: A lighthouse keeper climbs the stairs at dusk.
  - id: s2
    prompt: Waves break over the rocks.
"""


@pytest.fixture
def emulator(monkeypatch):
    with Emulator(task_seconds=0.2) as emu:
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
        yield emu


def marks(out: str) -> dict[str, str]:
    """The plan table's rows: first cell → its state cell."""
    found = {}
    for line in out.splitlines():
        cells = line.split()
        for mark in ("cached", "paid", "to pay"):
            if f"   {mark}   " in line and cells:
                found[cells[0]] = mark
    return found


def test_plan_marks_each_job_and_ends_with_the_money_to_pay_now(project, emulator, cli):
    path = project(FILM)
    before = cli("plan", str(path))
    assert before.code == 0, before.err
    assert marks(before.out) == {"s1": "to pay", "s2": "to pay"}
    assert before.out.rstrip().endswith("To pay now: $1.120 for 2 jobs.")

    assert cli("render", str(path), "--only", "s1", "--rate", "0", "--no-stitch").code == 0
    half = cli("plan", str(path), "--takes", "s1=2")
    assert marks(half.out) == {"s1": "cached", "s2": "to pay", "s1#2": "to pay"}
    assert "To pay now: $1.120 for 2 jobs." in half.out  # s2 and the take asked for

    shutil.rmtree(path.parent / ".storyboard" / "cache")  # paid, and the provider keeps it: render fetches it free
    gone = cli("plan", str(path))
    assert marks(gone.out) == {"s1": "paid", "s2": "to pay"} and "To pay now: $0.560 for 1 job." in gone.out

    assert cli("render", str(path), "--rate", "0", "--no-stitch").code == 0
    done = cli("plan", str(path))
    assert marks(done.out) == {"s1": "cached", "s2": "cached"}
    assert "No changes." in done.out and "nothing to pay now ($0.000)" in done.out and "To pay now" not in done.out


def test_diff_tells_a_paid_change_from_money_still_owed(tmp_path, emulator, cli, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    path = repo / "storyboard.yaml"
    path.write_text(FILM)
    for args in (("init", "-q", "-b", "main"), ("config", "user.email", "t@example.invalid"),
                 ("config", "user.name", "t"), ("add", "-A"), ("commit", "-qm", "film")):
        git(repo, *args)
    monkeypatch.chdir(repo)
    path.write_text(FILM.replace("climbs the stairs", "climbs the spiral stairs"))
    assert cli("render", str(path), "--rate", "0", "--no-stitch").code == 0  # the change is rendered: paid

    text = cli("diff", "--base", "HEAD", str(path), "--exit-code")
    assert text.code == 0, text.out + text.err  # nothing needs rendering: it is paid for
    assert "~ shot s1: re-rendered, paid $0.560 already: nothing to pay" in text.out
    assert "+ take s1#1: paid $0.560, in the film" in text.out
    assert "Re-render cost $0.560; to pay now $0.000;" in text.out
    data = json.loads(cli("diff", "--base", "HEAD", str(path), "--format", "json").out)
    s1 = next(s for s in data["shots"] if s["shot"] == "s1")
    assert s1["cost"] == "0.560" and s1["to_pay"] == "0.000" and s1["paid"] is True
    assert data["summary"]["to_pay"] == "0.000" and data["summary"]["rerender_cost"] == "0.560"
    md = cli("diff", "--base", "HEAD", str(path), "--format", "markdown").out
    assert "| cost | to pay |" in md and "| $0.560 (paid already) | $0.000 |" in md

    path.write_text(path.read_text().replace("Waves break", "Waves crash"))  # changed, not rendered
    owed = cli("diff", "--base", "HEAD", str(path), "--exit-code")
    assert owed.code == 1
    assert "~ shot s2: to re-render, $0.560 to pay" in owed.out and "to pay now $0.560;" in owed.out
    md = cli("diff", "--base", "HEAD", str(path), "--format", "markdown").out
    assert "| ~ | `s2` | re-render |" in md and md.count("| $0.560 | $0.560 |") == 1


def test_status_names_takes_as_render_does_and_what_the_film_cost_so_far(project, emulator, cli):
    path = project(FILM.replace("    prompt: A lighthouse", "    take: 3\n    prompt: A lighthouse"))
    assert cli("render", str(path), "--rate", "0", "--no-stitch", "--takes", "s1=3").code == 0
    status = cli("status", str(path))
    assert status.code == 0, status.err
    rows = status.out.splitlines()
    assert any(row.startswith("s1#3  here") for row in rows) and any(row.startswith("s2    here") for row in rows)
    assert "Other takes, paid and kept: s1, s1#2 ($1.120)" in status.out
    assert "Spent on this film so far: $2.240 for 4 paid clips in the lock." in status.out

    path.write_text(path.read_text().replace("Waves break", "Waves crash"))
    assert cli("render", str(path), "--rate", "0", "--no-stitch").code == 0  # s2's old clip is retired, still paid
    data = json.loads(cli("status", str(path), "--json").out)
    assert [(s["name"], s["take"]) for s in data["shots"]] == [("s1#3", 3), ("s2", 1)]
    assert data["spent"] == "2.800" and data["spent_clips"] == 5
