"""Prompts as Jinja2 templates, rendered in a sandbox with strict undefined.

A character's key renders its name (``{{ keeper }}`` → ``Old Tom``: Kling
wants element names written naturally); ``{{ keeper.description }}`` and the
storyboard's ``vars`` are there too. Nothing else is: a template cannot reach
Python internals, and a name that is not defined is an error, not "".

A prompt is part of a job key, so a template must be a pure function of the
storyboard: Jinja's ``random`` filter and ``lipsum`` are not there, printing
an object whose text names a memory address is refused, and the sandbox is
immutable (``lst.append`` cannot change a variable for later shots). A
template's work is bounded (``limits``): loop iterations, the size of every
string or list it builds, numbers passed to calls, and the prompt's length.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SecurityError

from .template_limits import MAX_OUTPUT, NOT_AVAILABLE, PromptEnvironment, TemplateLimit, budget, guard_loops

_ENV = PromptEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_MARKERS = ("{{", "{%", "{#")
_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem",
                       "add", "discard", "sort", "reverse", "difference_update", "intersection_update"})
# `{{ name }}` and `{{ name.attribute }}`: most prompts use nothing else, and
# substituting them directly is ~100x cheaper than compiling a Jinja template.
_SIMPLE = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))? *\}\}")
_PLAIN_VALUES = (str, int, float)


class TemplateProblem(Exception):
    """A prompt template that cannot be rendered; the message is for people."""


class CharacterRef:
    """What a character is inside a template: its name, with a description."""

    __slots__ = ("key", "name", "description")

    def __init__(self, key: str, name: str, description: str):
        self.key = key
        self.name = name
        self.description = description

    def __str__(self) -> str:
        return self.name

    def __html__(self) -> str:  # pragma: no cover - autoescape is off; here for safety
        return self.name


def is_template(source: str) -> bool:
    return any(marker in source for marker in _MARKERS)


@lru_cache(maxsize=4096)
def _parse(source: str):
    try:
        ast = _ENV.parse(source)
        names = frozenset(meta.find_undeclared_variables(ast))
        return _ENV.from_string(guard_loops(ast)), names
    except TemplateSyntaxError as exc:
        missing_filter = re.match(r"No filter named '(\w+)'", exc.message or "")
        if missing_filter and missing_filter.group(1) in NOT_AVAILABLE:
            raise TemplateProblem(_not_available(f"the `{missing_filter.group(1)}` filter")) from None
        where = f" (line {exc.lineno} of the prompt)" if "\n" in source.strip() else ""
        raise TemplateProblem(f"template syntax error: {exc.message}{where}") from None


def _not_available(what: str) -> str:
    return (f"{what} is not available in prompts: a prompt is part of the job key, so the same storyboard "
            "must always give the same prompt")


@lru_cache(maxsize=4096)
def _simple_parts(source: str) -> tuple | None:
    """(text, name, attribute, text, …) when ``source`` uses only simple
    substitutions, else None (the template needs Jinja)."""
    if "{%" in source or "{#" in source:
        return None
    parts = tuple(_SIMPLE.split(source))
    if any("{{" in text for text in parts[::3]):
        return None
    return parts


def names_used(source: str) -> frozenset[str]:
    """The top-level names a template reads (vars and characters)."""
    if not is_template(source):
        return frozenset()
    simple = _simple_parts(source)
    if simple is not None:
        return frozenset(simple[1::3])
    return _parse(source)[1]


class Templates:
    """Renders prompts against one storyboard's vars and characters."""

    def __init__(self, variables: Mapping[str, Any], characters: Mapping[str, CharacterRef]):
        self.context: dict[str, Any] = {**variables, **characters}

    def render(self, source: str, shot: Mapping[str, Any] | None = None) -> str:
        """``source`` rendered; ``shot`` adds the shot's own values (its ``dialogue`` and
        ``caption``), which a var or character of the same name hides, so no existing prompt changes."""
        if not is_template(source):
            return source
        context = {**shot, **self.context} if shot else self.context
        simple = _simple_parts(source)
        if simple is not None:
            rendered = self._substitute(simple, context)
            if rendered is not None:
                return rendered
        template, names = _parse(source)
        missing = sorted(n for n in names if n not in context and n not in _ENV.globals)
        if missing:
            if missing[0] in NOT_AVAILABLE:
                raise TemplateProblem(_not_available(f"`{missing[0]}`"))
            raise TemplateProblem(self._undefined(missing[0]))
        try:
            with budget():
                return _bounded_output(template.generate(context))
        except TemplateLimit as exc:
            raise TemplateProblem(f"template error: {exc}") from None
        except SecurityError as exc:
            mutation = re.search(r"attribute '(\w+)' of '(\w+)' object", str(exc))
            if mutation and mutation.group(1) in _MUTATORS:
                raise TemplateProblem(
                    f"a template cannot change a {mutation.group(2)} (`.{mutation.group(1)}`): the same value is "
                    "used by later shots, and each prompt must depend on the storyboard alone"
                ) from None
            raise TemplateProblem(
                f"the template tries to reach Python internals ({exc}); prompts may use only vars and characters"
            ) from None
        except UndefinedError as exc:
            raise TemplateProblem(f"template error: {_undefined_message(exc)}") from None
        except TemplateError as exc:
            raise TemplateProblem(f"template error: {exc.message or exc}") from None
        except RecursionError:
            raise TemplateProblem("template error: a macro calls itself without end") from None
        except Exception as exc:  # an expression that fails at render time, e.g. 1/0
            raise TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from None

    def _substitute(self, parts: tuple, context: Mapping[str, Any]) -> str | None:
        """Render simple substitutions exactly as Jinja would, or None to let
        Jinja do it (and word any error)."""
        out = [parts[0]]
        for i in range(1, len(parts), 3):
            name, attribute = parts[i], parts[i + 1]
            value = context.get(name)
            if attribute is None and isinstance(value, (*_PLAIN_VALUES, CharacterRef)) and not isinstance(value, bool):
                out.append(str(value))
            elif attribute in CharacterRef.__slots__ and isinstance(value, CharacterRef):
                out.append(getattr(value, attribute))
            else:
                return None
            out.append(parts[i + 2])
        return "".join(out)

    def _undefined(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self.context), n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else "; define it under `vars` or `characters`"
        return f"`{{{{ {name} }}}}` is not defined{hint}"


def _bounded_output(chunks) -> str:
    out, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise TemplateLimit(f"the prompt it renders is longer than {MAX_OUTPUT:,} characters")
        out.append(chunk)
    return "".join(out)


def _undefined_message(exc: UndefinedError) -> str:
    message = exc.message or "undefined"
    if "CharacterRef object" in message:
        attribute = message.rsplit("attribute", 1)[-1].strip(" '")
        return f"a character has no `{attribute}`; it has `name` and `description`"
    return message
