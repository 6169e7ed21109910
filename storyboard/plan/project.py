"""A story project on disk to a plan: read, validate, digest media, compile.

This is the one place that gathers everything ``compile`` needs from the
filesystem, so ``compile`` itself stays pure. Every problem in the storyboard
is collected and raised at once, sorted by position.
"""

from __future__ import annotations

import difflib
import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Mapping

from ..catalog import load_catalog
from .compile import Target, compile_plan
from ..errors import Diagnostic, InvalidStoryboard, StoryboardError, UsageError
from ..format.files import lock_path, regular_file_kind
from ..format.load import Document, read_document, validate
from ..format.media import STATE_DIR, MediaIndex
from ..format.model import Storyboard
from .takes import with_takes
from .types import BASE_URL_VARIABLES, PROVIDERS, Plan, base_url_from, provider_origin
from .prices import BUILTIN, PriceList, builtin_prices, load_price_list
from ..format.references import resolve_media
from ..format.source import Reporter

STORYBOARD_FILE = "storyboard.yaml"


@dataclass
class Compiled:
    """A compiled project: its plan, model and the warnings met on the way."""

    path: Path
    root: Path
    storyboard: Storyboard
    plan: Plan
    warnings: list[Diagnostic] = field(default_factory=list)


def find_storyboard(arg: str = ".") -> tuple[Path, str]:
    """The storyboard file for a command-line argument: a file, or a folder in
    or above which ``storyboard.yaml`` lies (looked for upward as git looks for
    ``.git``, stopping at the top of a git repository). Returns the path and
    how messages name it."""
    path = Path(arg)
    if not path.is_dir():
        if not path.exists():
            near = _near_miss(path.parent, path.name)
            if near:
                raise StoryboardError(f"{arg}: no such file; did you mean `{near}`?")
        return path, arg
    for folder in [path, *path.resolve().parents]:
        candidate = folder / STORYBOARD_FILE
        if candidate.is_file():
            shown = str(Path(arg) / STORYBOARD_FILE) if folder == path else os.path.relpath(candidate)
            return candidate, shown
        if (folder / ".git").exists():
            break
    searched = path.resolve()
    near = _near_miss(path, STORYBOARD_FILE)
    hint = (f"; did you mean `{Path(arg) / near}`? (a project's storyboard is named {STORYBOARD_FILE})" if near
            else "; start a project here with `storyboard init`")
    raise StoryboardError(f"no {STORYBOARD_FILE} in {searched} or any folder above it up to "
                          f"{folder.resolve() if folder != path else searched}{hint}")


def _near_miss(folder: Path, name: str) -> str | None:
    try:
        names = [p.name for p in folder.iterdir() if p.is_file()]
    except OSError:
        return None
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return close[0] if close else None


@dataclass(frozen=True)
class Salvage:
    """What had to be left out of a storyboard that did not fully validate."""

    shots: frozenset[int] = frozenset()
    characters: frozenset[str] = frozenset()


def load_storyboard(doc: Document) -> tuple[Storyboard | None, Salvage]:
    """Validate the document's structure, salvaging what can be checked further.

    When some shots or characters are malformed, the rest are still validated
    so that one run reports as much as it can. Returns the storyboard (or
    None) and what had to be left out.
    """
    if doc.data is None:
        return None, Salvage()
    # Top-level `x-…` keys are the user's own (anchors to merge from, notes),
    # as in docker-compose files; they are not part of the format.
    doc.data = {k: v for k, v in doc.data.items() if not k.startswith("x-")}
    probe = Reporter(doc.reporter.file, doc.reporter.source)
    probe.flagged = doc.reporter.flagged
    sb = validate(Storyboard, doc.data, probe)
    doc.reporter.diagnostics += probe.diagnostics
    if sb is not None:
        return sb, Salvage()
    bad = _broken_items(probe, doc)
    if bad is None:
        return None, Salvage()
    data = dict(doc.data)
    # A malformed shot is replaced by a placeholder (skipped by compile) so
    # that every other shot keeps its index, and so its positions.
    data["shots"] = [{"id": f"skipped-{i}"} if i in bad.shots else s for i, s in enumerate(data["shots"])]
    data["characters"] = {k: v for k, v in (data.get("characters") or {}).items() if k not in bad.characters}
    for section, key in bad.settings:
        data[section] = {k: v for k, v in data[section].items() if k != key}
    sb = validate(Storyboard, data, Reporter(doc.reporter.file))
    if sb is None:
        return None, Salvage()
    return sb, Salvage(bad.shots, bad.characters)


@dataclass(frozen=True)
class _Broken:
    shots: frozenset[int]
    characters: frozenset[str]
    settings: frozenset[tuple[str, str]]


def _broken_items(probe: Reporter, doc: Document) -> _Broken | None:
    """What the errors are in: shots, characters, or keys of a section such as
    ``defaults`` or ``cut``. None when some error cannot be set aside."""
    shots, characters, settings = set(), set(), set()
    data = doc.data
    for d in probe.diagnostics:
        parts = _split(d.path)
        head = parts[0] if parts else None
        container = data.get(head) if head else None
        if head == "shots" and isinstance(container, list) and len(parts) > 1 and isinstance(parts[1], int):
            shots.add(parts[1])
        elif head == "characters" and isinstance(container, dict) and len(parts) > 1:
            characters.add(parts[1])
        elif head in ("defaults", "cut", "vars") and isinstance(container, dict) and len(parts) > 1:
            settings.add((head, parts[1]))
        else:
            return None
    return _Broken(frozenset(shots), frozenset(characters), frozenset(settings))


def _split(path: str) -> list:
    """``shots[2].duration`` → ``["shots", 2, "duration"]``."""
    out: list = []
    for piece in path.replace("[", ".[").split("."):
        if piece.startswith("[") and piece.endswith("]") and piece[1:-1].isdigit():
            out.append(int(piece[1:-1]))
        elif piece:
            out.append(piece)
    return out


def resolve_prices(sb: Storyboard, root: Path, prices_arg: str | None, reporter: Reporter,
                   provider: str = "wavespeed") -> tuple[PriceList, str]:
    """The price list named by ``--prices`` (wins) or by the storyboard, or the host's built-in one."""
    if prices_arg:
        return load_price_list(Path(prices_arg), prices_arg), _relative_name(Path(prices_arg), root)
    if sb.prices:
        path = root / sb.prices
        problem = price_list_problem(path, root, sb.prices)
        if problem:
            reporter.error(("prices",), problem)
            return builtin_prices(provider), BUILTIN
        return load_price_list(path, str(path)), sb.prices
    return builtin_prices(provider), BUILTIN


def price_list_problem(path: Path, root: Path, name: str) -> str | None:
    """Why a price list the project names cannot be read, or None. It must lie
    inside the project (links resolved), as media must: a storyboard or a saved
    plan from someone else must not make storyboard read a file elsewhere."""
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):
        inside = False
    if not inside:
        return f"the price list `{name}` is outside the project; keep price lists inside the project folder"
    try:
        kind = regular_file_kind(path)
    except (FileNotFoundError, NotADirectoryError):
        return f"price list not found: `{name}`"
    except OSError as exc:
        return f"cannot read the price list `{name}`: {exc.strerror or exc}"
    return f"the price list `{name}` is {kind}, not a file" if kind else None


def _relative_name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


@contextmanager
def _gc_paused():
    """Pause the cycle collector while building many small acyclic objects.

    Loading and compiling allocate hundreds of thousands of objects that all
    stay alive; each allocation burst triggers collections that re-scan
    them all, so time grew faster than the storyboard (measured: 5,000 shots
    1.45 s with the collector, 0.60 s without). Refcounting still frees
    everything; the collector runs again afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compile_project(
    arg: str,
    *,
    provider: str | None = None,
    base_url: str | None = None,
    prices: str | None = None,
    strict: bool = False,
    display: str | None = None,
    takes: dict[str, int] | None = None,
    env: Mapping[str, str] | None = None,
) -> Compiled:
    """Compile the storyboard at ``arg``; raise every problem at once.

    ``provider`` (a command's ``--provider``) wins over the storyboard's
    ``provider:``, else WaveSpeed. ``base_url`` is WaveSpeed's address
    (WAVESPEED_BASE_URL); another host's comes from ``env`` (default: the
    environment), e.g. FAL_BASE_URL. ``display`` is how messages name the file
    (default: as given); ``takes`` asks for takes 1..N of shots
    (``parse_takes``) beside the film's jobs."""
    with _gc_paused():
        compiled = _compile_project(arg, provider, base_url, prices, strict, display, env)
    if takes:
        compiled.plan = with_takes(compiled.plan, takes, load_catalog(compiled.plan.provider))
    return compiled


def _origin(provider: str, base_url: str | None, env: Mapping[str, str] | None) -> str:
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider `{provider}`; choose one of: {', '.join(PROVIDERS)}")
    if provider != "wavespeed" or base_url is None:
        base_url = base_url_from(os.environ if env is None else env, provider)
    try:
        return provider_origin(provider, base_url)
    except ValueError as exc:
        raise StoryboardError(f"{BASE_URL_VARIABLES.get(provider, 'base URL')}: {exc}") from None


def _other_hosts(sb: Storyboard, provider: str, base_url: str | None, env) -> dict[str, Target]:
    """The hosts the storyboard's shots name besides the film's, at their addresses, with their built-in prices."""
    named = {shot.provider for shot in sb.shots if shot.provider and shot.provider != provider}
    if provider == "preview":
        return {}
    return {host: Target(host, _origin(host, base_url, env), builtin_prices(host), BUILTIN) for host in sorted(named)}


def _compile_project(arg: str, provider: str | None, base_url: str | None, prices: str | None, strict: bool,
                     display: str | None, env: Mapping[str, str] | None = None) -> Compiled:
    if provider is not None:
        _origin(provider, base_url, env)  # a wrong --provider or address is said before the storyboard is read
    path, shown = find_storyboard(arg)
    doc = read_document(path, display or shown)
    sb, salvage = load_storyboard(doc)
    reporter = doc.reporter
    if sb is None:
        raise InvalidStoryboard(reporter.diagnostics)
    provider = provider or sb.provider or "wavespeed"
    origin = _origin(provider, base_url, env)
    root = path.resolve().parent
    index = MediaIndex(root)
    media = resolve_media(sb, root, index, reporter)
    price_list, price_source = resolve_prices(sb, root, prices, reporter, provider)
    plan = compile_plan(
        sb,
        storyboard_file=path.name,
        media=media,
        catalog=load_catalog(provider),
        target=Target(provider, origin, price_list, price_source, _other_hosts(sb, provider, base_url, env)),
        reporter=reporter,
        skip_shots=salvage.shots,
        broken_characters=salvage.characters,
    )
    check_output(sb.cut.output, root, project_inputs(path, root, media, price_source), reporter)
    index.save()
    reporter.raise_if_errors(strict=strict)
    return Compiled(path, root, sb, plan, reporter.warnings)


def project_inputs(path: Path, root: Path, media: dict, price_source: str) -> set[Path]:
    """Every file the project reads, resolved: a film must never be written over one."""
    files = {path.resolve(), lock_path(path).resolve()}
    files |= {(root / ref).resolve() for ref in media}
    if price_source != BUILTIN:
        files.add((root / price_source).resolve())
    return files


def check_output(output: str, root: Path, inputs: set[Path], reporter: Reporter) -> None:
    """``cut.output`` must stay inside the project once links are resolved, out
    of ``.storyboard/`` (the cache, the journal), and off every input file."""
    where = ("cut", "output")
    if PurePosixPath(output).is_absolute() or ".." in PurePosixPath(output).parts or "\\" in output or "\0" in output:
        return  # compile has reported it
    try:
        real = (root / output).resolve()
    except (OSError, RuntimeError):
        reporter.error(where, f"`{output}` cannot be resolved (a symlink loop?)")
        return
    real_root = root.resolve()
    if not real.is_relative_to(real_root):
        reporter.error(where, f"`{output}` leads outside the project folder through a symlink; write the film inside it")
    elif real.is_relative_to(real_root / STATE_DIR):
        reporter.error(where, f"`{output}` is inside `{STATE_DIR}/`, where the clip cache and the journal live; "
                              "write the film elsewhere, e.g. renders/film.mp4")
    elif real in inputs:
        reporter.error(where, f"`{output}` is one of the project's own files (the storyboard, the lock, a price list "
                              "or referenced media); the film would overwrite it")
    elif real.is_dir():
        reporter.error(where, f"`{output}` is a folder; name the film's file, e.g. {output.rstrip('/')}/film.mp4")
