"""What the command modules share: exit codes, option groups, argument types,
compiling a project for a command, and printing its warnings."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_BUDGET, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERNAL", "EXIT_BUDGET", "EXIT_INTERRUPTED", "dollars",
           "provider_options", "remote_option", "remote_arg", "command", "add_path", "PATH_HELP", "HelpFormatter", "positive", "non_negative", "money", "compile_for", "print_warnings", "write_atomic"]


def dollars(amount) -> str:
    """Money as the plan shows it (imported late: ``--help`` should not load the format)."""
    from ..plan.prices import dollars as show

    return show(amount)


PATH_HELP = "a storyboard file or project folder (default: the nearest folder, here or above, with storyboard.yaml)"


class HelpFormatter(argparse.HelpFormatter):
    """Every option shows its default, unless its help already names one or it has none worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (default in (None, False, [], argparse.SUPPRESS) or "default" in text
                or isinstance(action, argparse._HelpAction)):
            return text
        shown = " ".join(default) if isinstance(default, list) else default
        return f"{text} (default: {shown})"


def command(sub, name: str, summary: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose --help starts with what it does."""
    description = summary[0].upper() + summary[1:] + "."
    return sub.add_parser(name, help=summary, description=description, formatter_class=HelpFormatter, **kwargs)


def add_path(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default=".", metavar="PATH", help=PATH_HELP)


def remote_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--remote", metavar="URL",
                   help="the team's clips: s3://bucket/prefix, gs://…, az://… or a folder (default: "
                        "$STORYBOARD_REMOTE, else the storyboard's `remote:`, else none)")


def remote_arg(args) -> str | None:
    """``--remote`` as given; a folder path made absolute (it is relative to where the command runs)."""
    url = getattr(args, "remote", None)
    if url and "://" not in url:
        return str(Path(url).resolve())
    return url


def provider_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", default=None, choices=["wavespeed", "fal", "preview"],
                   help="where the jobs go; part of every job key (default: the storyboard's `provider:`, "
                   "else wavespeed)")
    p.add_argument("--prices", metavar="FILE", help="a price list (YAML) to cost the plan with (default: the storyboard's "
                   "`prices:`, else the built-in WaveSpeed list)")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")


def takes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--takes", action="append", default=[], metavar="SHOT=N",
                   help="takes 1..N of SHOT (or `all`) too, each a paid job of its own (repeatable)")


def takes_wanted(args) -> dict[str, int] | None:
    from ..plan.takes import parse_takes

    return parse_takes(args.takes) if getattr(args, "takes", None) else None


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # argparse would say "invalid non_negative value"
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def positive(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def port(text: str) -> int:
    """A TCP port: 0 (any free one) to 65535."""
    value = _whole(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: give 0 (any free port) to 65535")
    return value


def money(text: str):
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text.lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount of dollars: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not an amount of dollars: {text!r}")
    return value


def compile_for(args, path: str):
    """The project at ``path`` compiled with the command's provider, prices and strictness."""
    from ..plan.project import compile_project

    return compile_project(
        path,
        provider=args.provider,
        base_url=os.environ.get("WAVESPEED_BASE_URL") or None,  # another host's address: from the environment
        prices=args.prices,
        strict=args.strict,
        takes=takes_wanted(args),
    )


def print_warnings(compiled, args=None) -> None:
    """The compile's warnings on stderr, coloured as the command's ``--color`` says (a terminal, by default)."""
    from . import colour

    colour.write([colour.diagnostic(w) for w in compiled.warnings], args, sys.stderr)


def write_atomic(path: Path, text: str) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
