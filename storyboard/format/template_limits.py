"""Bounds on what a prompt template may do, so that no storyboard can hang
``validate`` or exhaust memory, and nothing in a template depends on chance.

- Jinja's ``random`` filter and ``lipsum`` are removed: their output changes
  from run to run, and a prompt is part of a job key.
- The environment is the immutable sandbox: ``lst.append(4)`` is refused.
- Every string, list or dict a template builds (by ``*``, ``+``, ``%``, ``**``,
  a filter or a method call) holds at most ``MAX_ITEMS`` characters or items;
  the size is checked before the work where it can be known (``'a' * 10**8``
  is refused without being built), and after it otherwise.
- A number passed to a filter or a call is at most ``MAX_ITEMS``
  (``range(10**6)``, ``'x'.center(10**8)``).
- All loops of one render take at most ``MAX_ITERATIONS`` steps together, so
  nested loops cannot multiply.
- The rendered prompt is at most ``MAX_OUTPUT`` characters; the model's own
  limit (from the catalog) is checked by the rules.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, Iterator

from jinja2 import Undefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_ITEMS = 100_000
MAX_ITERATIONS = 100_000
MAX_OUTPUT = 100_000
MAX_POWER_BITS = 4096

REMOVED_GLOBALS = frozenset({"lipsum"})
REMOVED_FILTERS = frozenset({"random"})
NOT_AVAILABLE = REMOVED_GLOBALS | REMOVED_FILTERS

_BUDGET: ContextVar[list[int] | None] = ContextVar("template_budget", default=None)
_LOOP_FILTER = "__storyboard_loop_budget"
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
# a printf width or precision (`%0100000000d`) or a format spec (`{:>100000000}`) of six digits or more
_WIDTH = re.compile(r"%[-+ #0]*(?:\d{6,}|\d*\.\d{6,})|\{[^{}]*:[^{}]*?\d{6,}[^{}]*\}")


class TemplateLimit(Exception):
    """A template went past one of the bounds; the message says which."""


@contextmanager
def budget() -> Iterator[None]:
    """One render's loop budget."""
    token = _BUDGET.set([MAX_ITERATIONS])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict)) else 0


def _check_size(value: Any) -> Any:
    if _size(value) > MAX_ITEMS:
        raise TemplateLimit(f"the template builds a value of {_size(value):,} characters or items "
                            f"(at most {MAX_ITEMS:,})")
    return value


def _check_number(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ITEMS:
        raise TemplateLimit(f"the number {_short(value)} is too large for a template (at most {MAX_ITEMS:,})")
    if isinstance(value, str) and ("%" in value or "{" in value) and (m := _WIDTH.search(value)):
        raise TemplateLimit(f"the format `{m.group()[:16]}` asks for too wide a field (at most {MAX_ITEMS:,})")


def _short(value: int) -> str:
    """A number as a message shows it: whole when short, else by its count of digits."""
    digits = len(str(abs(value))) if value.bit_length() < 4000 else int(value.bit_length() * 0.30103) + 1
    return f"{value:,}" if digits <= 20 else f"with {digits:,} digits"


def _check_arguments(args: tuple, kwargs: dict) -> None:
    for value in (*args, *kwargs.values()):
        _check_number(value)


def _loop_budget(iterable: Any) -> Iterator[Any]:
    left = _BUDGET.get()
    for item in iterable:
        if left is not None:
            left[0] -= 1
            if left[0] < 0:
                raise TemplateLimit(f"the template's loops ran more than {MAX_ITERATIONS:,} steps")
        yield item


def _bounded_filter(name: str, func):
    skip = 1 if getattr(func, "jinja_pass_arg", None) else 0  # a context, eval context or environment first

    @wraps(func)
    def run(*args, **kwargs):
        plain = args[skip:]
        _check_arguments(tuple(plain[1:]), kwargs)
        if plain:
            _estimate(name, plain[0], list(plain[1:]), kwargs)
        return _check_size(func(*args, **kwargs))

    return run


def _estimate(name: str, value: Any, args: list, kwargs: dict) -> None:
    """Refuse, before the work, what would build too large a value."""
    if name == "format" and isinstance(value, str):
        _check_number(value)
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        count = value.count(str(args[0])) if args[0] else len(value) + 1
        _check_size_estimate(len(value) + count * len(str(args[1])))
    elif name == "join" and isinstance(value, (list, tuple, str, dict)):
        sep = args[0] if args else kwargs.get("d", "")
        _check_size_estimate(len(value) * len(str(sep)) + sum(_size(v) for v in value))
    elif name == "sum" and isinstance(value, (list, tuple)):
        _check_size_estimate(sum(_size(v) for v in value))


def _check_size_estimate(size: int) -> None:
    if size > MAX_ITEMS:
        raise TemplateLimit(f"the template would build a value of {size:,} characters or items (at most {MAX_ITEMS:,})")


class PromptEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with chance removed and every operation bounded."""

    intercepted_binops = frozenset({"*", "+", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_finalize, **options)
        for name in REMOVED_GLOBALS:
            self.globals.pop(name, None)
        for name in REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP_FILTER] = _loop_budget

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if _size(seq) and isinstance(times, int):
                    _check_size_estimate(_size(seq) * max(times, 0))
        elif operator == "+":
            _check_size_estimate(_size(left) + _size(right))
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
                if right * math.log2(abs(left)) > MAX_POWER_BITS:
                    raise TemplateLimit(f"{left} ** {right} is too large a number for a template")
        elif operator == "%" and isinstance(left, str):
            _check_number(left)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's signature)
        _check_arguments(args, kwargs)
        name, owner = getattr(__obj, "__name__", ""), getattr(__obj, "__self__", None)
        if isinstance(owner, str) and name == "replace":
            _estimate(name, owner, list(args), kwargs)
        elif isinstance(owner, str) and name == "join" and args:
            _estimate(name, args[0], [owner], {})
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any):
        """``'…'.format(…)``: refuse a huge field width before formatting."""
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            _check_number(owner)
        return super().wrap_str_format(value)


def _finalize(value: Any) -> Any:
    """What ``{{ … }}`` prints must not depend on where an object sits in memory."""
    if isinstance(value, Undefined):
        return value  # printing it raises the usual "not defined" error
    if callable(value) and not isinstance(value, type):
        raise TemplateLimit("the template prints a function or an object, not a value; did you forget `()`?")
    text = str(value) if not isinstance(value, str) else value
    if _ADDRESS.search(text):
        raise TemplateLimit("the template prints a Python object whose text changes from run to run")
    return value


def guard_loops(ast: nodes.Template) -> nodes.Template:
    """Route every ``for`` loop's iterable through the render's loop budget."""
    for loop in ast.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
    return ast
