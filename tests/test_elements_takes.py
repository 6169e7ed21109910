"""`takes` shows the Kling elements the listed shots send, as issue 22 asks of
every review command: one element for every take of its shots, its id once made."""

from __future__ import annotations

import json

from test_elements_render import KEY, REFS, STORY, emu, render  # noqa: F401  (emu: the fixture)


def test_takes_lists_each_element_new_then_created_with_its_id(project, emu, cli, monkeypatch):
    path = project(STORY, REFS)
    monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    before = json.loads(cli("takes", str(path), "--json").out)["elements"]
    assert [(e["element"], e["state"], e["cost"], e["element_id"]) for e in before] == [
        ("mara", "new", "0.010", None), ("tom", "new", "0.010", None)]
    assert before[0]["shots"] == ["a", "c", "d"]
    render(path, emu, engine=None)
    lock = json.loads((path.parent / "storyboard.lock").read_text())
    ids = {key: entry["element_id"] for key, entry in lock["elements"].items()}
    after = cli("takes", str(path))
    assert after.code == 0, after.err
    assert f"element mara: created (id {ids['mara']}), $0.000; sent by every take of a, c, d" in after.out
    only_b = json.loads(cli("takes", str(path), "b", "--json").out)["elements"]
    assert [e["element"] for e in only_b] == ["tom"] and only_b[0]["element_id"] == ids["tom"]


def test_an_element_held_by_the_rate_limit_says_why_it_waits(project, emu):
    """Elements are submitted under the same rate limit as clips, and say so as clips do."""
    import io

    from storyboard.cli.progress import Progress
    from storyboard.render.executor import Options
    from storyboard.render.timing import FakeClock

    path = project(STORY, REFS)
    shown = io.StringIO()
    result = render(path, emu, engine=None, options=Options(concurrency=2, rate=1), clock=FakeClock(),
                    progress=lambda plan, estimate: Progress(plan, estimate, file=shown, force_terminal=False))
    assert not result.report.failed
    waiting = [line for line in shown.getvalue().splitlines() if line.startswith("element:") and "waiting" in line]
    assert waiting and all("waiting: rate limit 1/min, next submit in " in line for line in waiting), waiting
