"""`diff` shows a prompt change word by word, in context (issue 25, item 7)."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from storyboard.review.words import ELLIPSIS, in_context, word_diff

LONG = ("A lighthouse keeper climbs the spiral stairs at dusk, carrying a lantern through the rain, "
        "and looks out to sea as the beam turns")


def sides(tmp_path, old_prompt: str, new_prompt: str):
    out = []
    for name, prompt in (("old", old_prompt), ("new", new_prompt)):
        (tmp_path / name).mkdir()
        path = tmp_path / name / "storyboard.yaml"
        path.write_text("version: 1\nshots:\n  - id: a\n    prompt: " + json.dumps(prompt) + "\n")
        out.append(str(path))
    return out


def test_a_change_near_the_end_of_a_long_prompt_shows_the_changed_words(tmp_path, cli):
    old, new = sides(tmp_path, LONG, LONG.replace("the beam turns", "the beam slowly turns"))
    text = cli("diff", old, new).out
    assert "~ prompt: …" in text and "the beam {+slowly+} turns" in text
    assert "A lighthouse keeper" not in text  # far from the change: elided, not cut at 67 characters
    md = cli("diff", old, new, "--format", "markdown").out
    assert "the beam **slowly** turns" in md
    data = json.loads(cli("diff", old, new, "--format", "json").out)
    change = data["shots"][0]["changes"][0]
    assert change["before"] == LONG and change["after"] == LONG.replace("beam turns", "beam slowly turns")
    assert {"op": "+", "text": "slowly "} in change["words"]


def test_removed_words_are_struck_in_markdown_and_markup_in_a_prompt_is_escaped(tmp_path, cli):
    old, new = sides(tmp_path, LONG, LONG.replace("through the rain", "through the *storm* | hail"))
    text = cli("diff", old, new).out
    assert "through the [-rain,-]{+*storm* | hail,+} and looks" in text
    md = cli("diff", old, new, "--format", "markdown").out
    assert "through the ~~rain,~~**\\*storm\\* \\| hail,** and looks" in md


def test_a_prompt_over_lines_stays_on_one_diff_line(tmp_path, cli):
    old, new = sides(tmp_path, "Waves at night.\nThe lamp turns.", "Waves at night.\nThe lamp stops.")
    lines = cli("diff", old, new).out.splitlines()
    assert lines[1] == "    ~ prompt: Waves at night. The lamp [-turns.-]{+stops.+}"


words = st.lists(st.sampled_from(["sea", "rain", "lamp", "the", "keeper", "storm,", "a"]), max_size=30)


@settings(max_examples=200, deadline=2000)
@given(words, words)
def test_the_pieces_rebuild_both_sides_and_context_keeps_every_change(a, b):
    old, new = " ".join(a), " ".join(b)
    pieces = word_diff(old, new)
    assert "".join(t for op, t in pieces if op != "+") == old
    assert "".join(t for op, t in pieces if op != "-") == new
    shown = in_context(pieces, words=2)
    assert [p for p in shown if p[0] != "="] == [p for p in pieces if p[0] != "="]
    for (op, text), (_, full) in zip(shown, pieces):
        assert op != "=" or text == full or (ELLIPSIS in text and len(text) <= len(full) + 1)
