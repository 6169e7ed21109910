"""Files to validated models, with every problem placed at ``file:line:col``.

``read_document`` reads and parses a YAML file safely (see ``yamlsrc``);
``validate`` checks plain data against a pydantic model and words each
pydantic error for a person, at the position of the offending key or value.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import StoryboardError
from .files import FileTooLarge, NotRegularFile, read_bounded
from .source import Reporter, SourceMap
from .yamlsrc import parse_yaml

MAX_FILE_BYTES = 16 * 1024 * 1024
M = TypeVar("M", bound=BaseModel)


@dataclass
class Document:
    """A parsed YAML file: its data, where each value came from, and what is wrong."""

    path: Path
    data: Any
    reporter: Reporter

    @property
    def source(self) -> SourceMap:
        return self.reporter.source


def read_document(path: Path, display: str, *, what: str = "storyboard") -> Document:
    """Read and parse ``path``; ``display`` is how messages name the file."""
    reporter = Reporter(display)
    try:
        raw = read_bounded(path, MAX_FILE_BYTES)
    except FileTooLarge:
        size = path.stat().st_size
        reporter.at(1, 1, f"the file is {size / 2**20:.1f} MiB; a {what} may be at most {MAX_FILE_BYTES // 2**20} MiB")
        return Document(path, None, reporter)
    except NotRegularFile as exc:
        raise StoryboardError(f"{display}: is {exc.kind}, not a {what} file") from None
    except IsADirectoryError:
        raise StoryboardError(f"{display}: is a folder, not a {what} file") from None
    except FileNotFoundError:
        raise StoryboardError(f"{display}: no such file") from None
    except OSError as exc:
        raise StoryboardError(f"{display}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        reporter.at(line, column, f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x})")
        return Document(path, None, reporter)
    if "\x00" in text:
        reporter.at(1, 1, "the file is binary, not YAML text")
        return Document(path, None, reporter)
    data, _ = parse_yaml(text, reporter)
    if data is None and not reporter.has_errors:
        reporter.at(1, 1, f"the file is empty: a {what} needs at least `version: 1` and `shots`"
                    if what == "storyboard" else f"the file is empty: expected a {what}")
    elif data is not None and not isinstance(data, dict):
        # Only the user's own storyboard is quoted: a file named as a price list
        # may be anything (a `.env`), and its content must not reach the screen.
        reporter.error((), f"a {what} is a mapping of keys, not {describe(data, quote=what == 'storyboard')}")
        data = None
    return Document(path, data, reporter)


def validate(model: type[M], data: Any, reporter: Reporter, prefix: tuple = ()) -> M | None:
    """``model`` built from ``data``, or None with every error reported."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            report_pydantic_error(model, error, reporter, prefix)
        return None


def report_pydantic_error(model: type[BaseModel], error: dict, reporter: Reporter, prefix: tuple = ()) -> None:
    # Union members are tagged `<…>` (see the format's models): a tag is not a key the user wrote.
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("<")))
    if prefix + loc in reporter.flagged:
        return
    kind = error["type"]
    value = error.get("input")
    if loc and loc[-1] == "[key]":  # a dict key failed its own validator
        loc = loc[:-2] + (loc[-2],)
        reporter.error(prefix + loc, _strip(error["msg"]), key=True)
        return
    if kind == "missing":
        reporter.error(prefix + loc[:-1], f"missing required key `{loc[-1]}`")
        return
    if kind == "extra_forbidden":
        reporter.error(prefix + loc, "unknown key" + _did_you_mean(str(loc[-1]), fields_at(model, loc[:-1])), key=True)
        return
    reporter.error(prefix + loc, _message(kind, value, error))


def _message(kind: str, value: Any, error: dict) -> str:
    ctx = error.get("ctx") or {}
    got = describe(value)
    if kind in ("string_type",):
        hint = " (put it in quotes)" if isinstance(value, (int, float, bool)) else ""
        return f"must be text, got {got}{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return f"must be a whole number, got {got}"
    if kind in ("float_type", "float_parsing", "finite_number", "decimal_type", "decimal_parsing"):
        return f"must be a number, got {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {got}"
    if kind.startswith("date"):
        return f"must be a date (YYYY-MM-DD), got {got}"
    if kind == "list_type":
        return f"must be a list, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of keys, got {got}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, got {got}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {got}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {got}"
    if kind == "greater_than":
        return f"must be more than {_number(ctx.get('gt'))}, got {got}"
    if kind == "less_than":
        return f"must be less than {_number(ctx.get('lt'))}, got {got}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters, got {len(value) if isinstance(value, str) else got}"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "too_short":
        if ctx.get("actual_length") == 0:
            return "must not be empty"
        return f"must have at least {ctx.get('min_length')} items"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return _strip(error["msg"])
    return error["msg"]


def _number(value: Any) -> Any:
    """``0.0`` as people write it: ``0``."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _strip(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def describe(value: Any, *, quote: bool = True) -> str:
    """A value as a person would name it in a message (without its text
    unless ``quote``)."""
    if not quote and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return "text" if isinstance(value, str) else "a number"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'"{shown}"'
    if isinstance(value, int) and len(str(abs(value))) > 20:
        return f"a number of {len(str(abs(value))):,} digits"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean `{close[0]}`?"
    if choices:
        return "; expected one of: " + ", ".join(f"`{c}`" for c in choices)
    return ""


def fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names of the model found at ``loc`` inside ``model``."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            if field is None:
                return []
            annotation = field.annotation
        else:  # list[X] / dict[K, X]: step over the index or key
            args = typing.get_args(annotation)
            annotation = args[-1] if args else None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` → ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        else:
            return annotation


def project_relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes, for plans and messages."""
    return Path(os.path.relpath(path, root)).as_posix()
