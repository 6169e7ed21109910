"""Prompts are sandboxed Jinja templates with strict undefined."""

from __future__ import annotations

import pytest

from storyboard.format.template import CharacterRef, TemplateProblem, Templates, names_used

T = Templates({"era": "1920s", "n": 3}, {"keeper": CharacterRef("keeper", "Old Tom", "grey beard")})


def test_characters_render_their_names_and_descriptions():
    assert T.render("{{ keeper }}, {{ keeper.description }}, {{ era }}") == "Old Tom, grey beard, 1920s"
    assert T.render("{% for i in range(n) %}*{% endfor %}") == "***"
    assert T.render("plain {text} stays") == "plain {text} stays"


@pytest.mark.parametrize(
    "source, words",
    [
        ("{{ ''.__class__.__mro__ }}", "Python internals"),
        ("{{ keeper.__init__.__globals__ }}", "Python internals"),
        ("{{ cycler.__init__.__globals__.os }}", "Python internals"),
        ("{{ nobody }}", "`{{ nobody }}` is not defined"),
        ("{{ keeper.age }}", "a character has no `age`"),
        ("{{ era | nosuchfilter }}", "template syntax error"),
        ("{% if %}", "template syntax error"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
    ],
)
def test_bad_templates_are_problems_not_crashes(source, words):
    with pytest.raises(TemplateProblem) as info:
        T.render(source)
    assert words in str(info.value)


def test_names_used():
    assert names_used("{{ keeper }} in {{ era }}") == {"keeper", "era"}
    assert names_used("no template") == frozenset()


@pytest.mark.parametrize(
    "source",
    [
        "{{ keeper }} in the {{era}}",
        "{{keeper.name}}: {{ keeper.description }}, x{{ n }}",
        "}} stray braces {",
        "{{ keeper.key }}",
    ],
)
def test_simple_substitution_renders_as_jinja_does(source):
    from storyboard.format.template import _ENV, _simple_parts

    assert _simple_parts(source) is not None
    assert T.render(source) == _ENV.from_string(source).render(T.context)


def test_simple_substitution_falls_back_to_jinja_for_anything_else():
    t = Templates({"flag": True, "items": ["a", "b"], "d": {"k": "v"}}, {})
    assert t.render("{{ flag }} {{ items }} {{ d.k }}") == "True ['a', 'b'] v"
