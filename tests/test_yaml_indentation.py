"""YAML indentation mistakes said in plain words, at YAML's own position (issue 25, item 17)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from storyboard.format.indentation import indentation_problem

CASES = [
    ("version: 1\nshots:\n  - id: a\n    prompt: x\n   duration: 5\n",
     "5:4: YAML syntax error: line 5 is indented 3 spaces; the keys of this shot are at 4"),
    ("version: 1\nshots:\n  - id: a\n    prompt: x\n     duration: 5\n",
     "5:14: YAML syntax error: line 5 is indented 5 spaces; the keys of this shot are at 4"),
    ("version: 1\ntitle: x\n shots:\n  - id: a\n",
     "3:7: YAML syntax error: line 3 is indented 1 space; the top-level keys are at 0"),
    ("version: 1\ncut:\n  music:\n    file: a.mp3\n   volume: 0.3\nshots: [{id: a, prompt: x}]\n",
     "5:4: YAML syntax error: line 5 is indented 3 spaces; the keys of `music` are at 4"),
    ("version: 1\nshots:\n  - id: a\n    prompt: x\n    images:\n      - a.png\n     - b.png\n",
     "7:6: YAML syntax error: line 7 is indented 5 spaces; the items of `images` are at 6"),
    ("version: 1\nshots:\n  - id: a\n    prompt: x\n   - id: b\n     prompt: y\n",
     "5:4: YAML syntax error: line 5 is indented 3 spaces; the items of `shots` are at 2"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_an_indentation_mistake_is_said_in_plain_words(text, expected, project, cli):
    path = project(text)
    result = cli("validate", str(path))
    assert result.code == 1 and f"{path}:{expected}\n" in result.err


def test_other_syntax_errors_keep_yamls_words(project, cli):
    result = cli("validate", str(project("version: 1\nshots: [a, b\n")))
    assert "did not find expected ',' or ']'" in result.err and "indented" not in result.err
    tab = cli("validate", str(project("version: 1\nshots:\n\t- id: a\n", name="tab")))
    assert "a tab: YAML indents with spaces" in tab.err


@settings(max_examples=300, deadline=1000)
@given(st.lists(st.from_regex(r"( {0,6}(- )?[a-z]{1,3}:( [a-z]{1,3})?|#.*|)", fullmatch=True), max_size=12),
       st.integers(0, 14))
def test_it_never_fails_on_any_text(lines, at):
    answer = indentation_problem("\n".join(lines), at)
    assert answer is None or answer.startswith(f"line {at + 1} is indented ")
