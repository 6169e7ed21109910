"""`plan --compare`: each shot's cost on each host, totals that are the sums
of the shots shown, the cheapest marked, what each host cannot render."""

from __future__ import annotations

import json
from decimal import Decimal

from conftest import MP4_4S, PNG_1, PNG_2

FILES = {"refs/mara.png": PNG_1, "refs/tower.png": PNG_2, "refs/waves.mp4": MP4_4S}
FILM = """version: 1
defaults:
  model: kwaivgi/kling-video-o3-std/reference-to-video
characters:
  keeper:
    images: [refs/mara.png]
    element_id: "307212335131305"
shots:
  - id: quiet
    prompt: A quiet harbour
    duration: 5
  - id: loud
    prompt: A loud harbour
    duration: 4
    sound: true
  - id: waves
    prompt: Waves
    video: refs/waves.mp4
    duration: 3
  - id: keeper
    model: kwaivgi/kling-video-o3-pro/reference-to-video
    prompt: The keeper
    characters: [keeper]
    duration: 3
  - id: big
    model: fal-ai/kling-video/o3/4k/reference-to-video
    prompt: The tower in 4K
    duration: 3
"""


def test_compare_json_totals_are_the_sums_of_the_shots_on_each_host(project, cli, monkeypatch):
    monkeypatch.delenv("WAVESPEED_BASE_URL", raising=False)
    monkeypatch.delenv("FAL_BASE_URL", raising=False)
    path = project(FILM, FILES)
    out = cli("plan", str(path), "--compare", "--json")
    assert out.code == 0, out.err
    data = json.loads(out.out)
    hosts = {h["provider"]: h for h in data["hosts"]}
    assert set(hosts) == {"wavespeed", "fal"} and data["chosen"] == "wavespeed"
    shots = {s["shot"]: s for s in data["shots"]}
    for name, host in hosts.items():
        costs = [Decimal(s["costs"][name]) for s in data["shots"] if s["costs"][name] is not None]
        assert Decimal(host["total"]) == sum(costs)
    # the published prices: WaveSpeed std $0.084/s (x1.2 sound, x1.5 video); fal std $0.084/s, $0.112/s with sound
    assert shots["quiet"]["costs"] == {"wavespeed": "0.420", "fal": "0.420"}
    assert sorted(shots["quiet"]["cheapest"]) == ["fal", "wavespeed"]
    assert shots["loud"]["costs"] == {"wavespeed": "0.403", "fal": "0.448"} and shots["loud"]["cheapest"] == ["wavespeed"]
    # fal's video-to-video/reference has no known price: unpriced, never guessed
    assert shots["waves"]["costs"] == {"wavespeed": "0.378", "fal": None} and "waves" in hosts["fal"]["unpriced"]
    # an element id made on WaveSpeed: fal cannot render the shot, and says where and why
    assert shots["keeper"]["costs"]["fal"] is None and "keeper" in hosts["fal"]["cannot"]
    [problem] = shots["keeper"]["cannot"]["fal"]
    assert (problem["line"], problem["path"]) == (7, "characters.keeper.element_id")
    assert "fal takes no Kling element ids" in problem["message"]
    # the 4K model is fal's only
    assert shots["big"]["costs"] == {"wavespeed": None, "fal": "1.260"} and "big" in hosts["wavespeed"]["cannot"]
    assert "unknown model" in shots["big"]["cannot"]["wavespeed"][0]["message"]
    assert hosts["wavespeed"]["total"] == "1.537" and hosts["fal"]["total"] == "2.128"
    assert data["cheapest"] == []  # neither host renders the whole film at a known price
    assert hosts["fal"]["price_list"]["name"] == "fal-current" and hosts["fal"]["origin"] == "https://queue.fal.run"


def test_compare_text_marks_the_cheapest_and_lists_what_each_host_cannot_render(project, cli):
    path = project(FILM, FILES)
    out = cli("plan", str(path), "--compare")
    assert out.code == 0, out.err
    rows = {line.split()[0]: line for line in out.out.splitlines() if line.strip()}
    assert rows["shot"].split() == ["shot", "WaveSpeed", "(chosen)", "fal"]
    assert rows["loud"].split() == ["loud", "$0.403", "*", "$0.448"]
    assert rows["waves"].split() == ["waves", "$0.378", "*", "unpriced"]
    assert rows["big"].split() == ["big", "cannot", "render", "$1.260", "*"]
    assert "$1.537 (+ 1 cannot render)" in rows["total"] and "$2.128 (+ 1 unpriced, 1 cannot render)" in rows["total"]
    assert "fal cannot render `keeper`: " in out.out and "storyboard.yaml:7:17: characters.keeper.element_id" in out.out
    assert "fal: fal-current as of" in out.out


def test_a_film_every_host_renders_gets_the_cheapest_total_marked(project, cli):
    path = project("version: 1\nprovider: fal\ndefaults:\n  model: kwaivgi/kling-video-o3-std/reference-to-video\n"
                   "shots:\n  - id: a\n    prompt: A harbour\n    sound: true\n")
    data = json.loads(cli("plan", str(path), "--compare", "--json").out)
    assert data["chosen"] == "fal" and data["cheapest"] == ["wavespeed"]  # $0.504 on WaveSpeed, $0.560 on fal
    assert [h["total"] for h in data["hosts"]] == ["0.504", "0.560"]


def test_a_problem_on_every_host_is_the_storyboards_own_and_fails_as_usual(project, cli):
    path = project("version: 1\nshots:\n  - id: a\n    prompt: A harbour\n    duration: 99\n")
    out = cli("plan", str(path), "--compare")
    assert out.code == 1 and "storyboard.yaml:5:15: shots[0].duration: 99 is more than the model allows" in out.err
    assert "Traceback" not in out.err


def test_compare_saves_no_plan(project, cli):
    path = project("version: 1\nshots:\n  - id: a\n    prompt: A harbour\n")
    out = cli("plan", str(path), "--compare", "--out", str(path.parent / "plan.json"))
    assert out.code == 2 and "--compare" in out.err and not (path.parent / "plan.json").exists()
