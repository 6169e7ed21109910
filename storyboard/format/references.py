"""The files a storyboard points at: inside the project, present, and of the
right kind. Each one's digest comes from the (memoised) media index."""

from __future__ import annotations

import difflib
import os
from pathlib import Path, PurePosixPath
from typing import Iterator

from ..catalog import load_catalog
from .files import regular_file_kind
from .elements import element_media_refs
from .media import MediaIndex, MediaInfo
from .model import Storyboard
from .source import Reporter
from .warnings import warn

URL_SCHEMES = ("https://", "http://")

# What each slot expects: the media kinds it accepts, and a word for messages.
_IMAGE = (("image",), "an image")
_VIDEO = (("video",), "a video")
_AUDIO = (("audio", "video"), "an audio file")


def is_url(ref: str) -> bool:
    return ref.startswith(URL_SCHEMES)


def media_refs(sb: Storyboard) -> Iterator[tuple[tuple, str, tuple]]:
    """(key path, reference as written, expectation) for every file the storyboard names."""
    for key, character in sb.characters.items():
        for i, ref in enumerate(character.images):
            yield ("characters", key, "images", i), ref, _IMAGE
    yield from element_media_refs(sb)
    for n, shot in enumerate(sb.shots):
        for i, ref in enumerate(shot.images):
            if isinstance(ref, str):  # not another shot's frame: that is the plan's to resolve
                yield ("shots", n, "images", i), ref, _IMAGE
        for slot in ("image", "end_image"):
            if isinstance(getattr(shot, slot), str):
                yield ("shots", n, slot), getattr(shot, slot), _IMAGE
        if isinstance(shot.video, str):
            yield ("shots", n, "video"), shot.video, _VIDEO
    if sb.cut.music:
        yield ("cut", "music", "file"), sb.cut.music.file, _AUDIO
    if sb.cut.title and sb.cut.title.image:
        yield ("cut", "title", "image"), sb.cut.title.image, _IMAGE


def resolve_media(sb: Storyboard, root: Path, index: MediaIndex, reporter: Reporter) -> dict[str, MediaInfo]:
    """Info for every local file the storyboard names, by the reference as written."""
    found: dict[str, MediaInfo] = {}
    failed: dict[str, str] = {}
    warned: set[str] = set()
    real_root = root.resolve()
    for path, ref, (kinds, word) in media_refs(sb):
        if is_url(ref):
            continue
        if ref not in found and ref not in failed:
            problem = _check_file(ref, root, real_root)
            if problem:
                failed[ref] = problem
            else:
                real = (root / ref).resolve()
                found[ref] = index.info(real, real.relative_to(real_root).as_posix())
        if ref in failed:
            reporter.error(path, failed[ref])
        elif found[ref].kind not in kinds:
            info = found[ref]
            what = "a file of unknown type" if info.kind == "unknown" else f"{_article(info.kind)} {info.kind} ({info.format})"
            reporter.error(path, f"`{ref}` is {what}; {word} is expected here")
        elif ref not in warned and path[0] != "cut":
            warned.add(ref)
            _warn_size(found[ref], ref, path, reporter)
    return found


def _warn_size(info: MediaInfo, ref: str, path: tuple, reporter: Reporter) -> None:
    limits = load_catalog().limits
    limit = limits.image_bytes if info.kind == "image" else limits.video_bytes if info.kind == "video" else None
    if limit is not None and info.size > limit:
        warn(reporter, "W005", path, f"`{ref}` is {_size(info.size)}; the provider takes {info.kind}s of at most "
                                     f"{_size(limit)}, so the upload or the task will likely be refused")


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def outside_problem(ref: str, root: Path, real_root: Path) -> str | None:
    """Why ``ref`` may not be read at all (it leaves the project folder, or names no file a path can), or None.
    The walls every command keeps, ``validate`` and ``textconv`` alike."""
    if "\0" in ref:
        return "the path contains a NUL character, which no file name can hold"
    if "://" in ref:
        return f"`{ref}`: only https:// and http:// URLs can be sent to a provider"
    pure = PurePosixPath(ref)
    if pure.is_absolute() or Path(ref).is_absolute():
        return f"`{ref}` is an absolute path; name files relative to the storyboard, inside the project folder"
    try:
        real = (root / ref).resolve()
    except (OSError, RuntimeError, ValueError):
        return f"`{ref}` cannot be resolved (a symlink loop?)"
    if not real.is_relative_to(real_root):
        lexical = Path(os.path.normpath(real_root / ref))
        via = " through a symlink" if lexical.is_relative_to(real_root) else ""
        return f"`{ref}` points{via} outside the project folder; keep referenced files inside it"
    return None


def _check_file(ref: str, root: Path, real_root: Path) -> str | None:
    problem = outside_problem(ref, root, real_root)
    if problem:
        return problem
    real = (root / ref).resolve()
    try:
        kind = regular_file_kind(real)
    except (FileNotFoundError, NotADirectoryError):
        return f"file not found: `{ref}`" + _near(ref, root)
    except OSError as exc:
        return f"`{ref}` cannot be read: {exc.strerror or exc}"
    return f"`{ref}` is {kind}, not a file" if kind else None


def _near(ref: str, root: Path) -> str:
    folder = (root / ref).parent
    try:
        names = [p.name for p in folder.iterdir() if p.is_file()]
    except OSError:
        return ""
    close = difflib.get_close_matches(PurePosixPath(ref).name, names, n=1, cutoff=0.8)
    if not close:
        return ""
    return f"; did you mean `{(PurePosixPath(ref).parent / close[0]).as_posix()}`?"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
