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
