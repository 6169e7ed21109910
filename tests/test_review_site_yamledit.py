"""``take: N`` written into a storyboard's text: only the lines that change change."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from storyboard.errors import StoryboardError
from storyboard.review.yamledit import set_takes

TEXT = """version: 1   # a comment
x-base: &base {duration: 5}
shots:
  - id: a            # the opening
    <<: *base
    prompt: 'quoted: yes'

  - {id: "b", prompt: flow}
  - id: c
    take: 2   # chosen on Monday
    prompt: >
      folded
  - id: d
    take: &t 4
    prompt: p
  - id: e
    take: *t
    prompt: q
"""


def test_each_form_of_shot_gets_its_take_and_every_other_byte_stays():
    out = set_takes(TEXT, {"a": 3, "b": 2, "c": 5, "e": 7}, "s.yaml")
    expected = (TEXT.replace("  - id: a            # the opening\n", "  - id: a            # the opening\n    take: 3\n")
                .replace('{id: "b", prompt: flow}', '{id: "b", take: 2, prompt: flow}')
                .replace("take: 2   # chosen on Monday", "take: 5   # chosen on Monday")
                .replace("take: *t", "take: 7"))  # the alias is replaced, never the anchored value d has
    assert out == expected
    shots = {s["id"]: s.get("take") for s in yaml.safe_load(out)["shots"]}
    assert shots == {"a": 3, "b": 2, "c": 5, "d": 4, "e": 7}


def test_take_one_is_not_written_where_there_is_none_and_crlf_is_kept():
    crlf = "version: 1\r\nshots:\r\n  - id: a\r\n    prompt: p\r\n"
    assert set_takes(crlf, {"a": 1}, "s.yaml") == crlf
    assert set_takes(crlf, {"a": 2}, "s.yaml") == crlf.replace("  - id: a\r\n", "  - id: a\r\n    take: 2\r\n")


def test_an_unknown_shot_is_named():
    with pytest.raises(StoryboardError, match="s.yaml: no shot `zz`"):
        set_takes(TEXT, {"zz": 2}, "s.yaml")


@settings(max_examples=60, deadline=2000)
@given(takes=st.dictionaries(st.sampled_from("abcde"), st.integers(1, 100)))
def test_any_choice_changes_just_those_takes(takes):
    if takes.get("d", 4) != 4:  # d's take is anchored, and e uses it: refused, never both changed
        with pytest.raises(StoryboardError, match=r"s.yaml:14: `d`'s take is anchored \(&t\)"):
            set_takes(TEXT, takes, "s.yaml")
        return
    out = set_takes(TEXT, takes, "s.yaml")
    before = {s["id"]: s.get("take") for s in yaml.safe_load(TEXT)["shots"]}
    after = {s["id"]: s.get("take") for s in yaml.safe_load(out)["shots"]}
    for shot, take in before.items():
        want = takes.get(shot, take)
        assert (after[shot] or 1) == (want or 1), (shot, takes)
    changed = [line for line in out.splitlines() if line not in TEXT.splitlines()]
    assert all("take" in line for line in changed)
