"""A shot's inputs that are other shots' outputs, made into files.

Before a dependent job is rendered, each ``{"shot": …, "frame": …, "key": …}``
in its request becomes a file: the frame taken from the upstream shot's
cached clip (a PNG, the same bytes every time), or the clip trimmed to its
planned length. The file is kept in ``.storyboard/inputs/`` by its digest and
named in the job's media like any local image, so it is uploaded (once) and
sent the same way. Its digest goes into the lock beside the job."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..cut.clips import unreadable
from ..cut.frames import extract_frame, trim_clip
from ..cut.probe import probe
from ..format.media import STATE_DIR
from ..plan.frames import resolve_frame
from ..plan.graph import SLOTS, dependency_label, is_dependency
from ..plan.types import Job, Plan
from ..store.cache import ClipCache, file_sha256

INPUTS = "inputs"


class InputMissing(Exception):
    """The upstream shot's clip is not in the cache."""


def upstream_keys(job: Job) -> list[tuple[str, str]]:
    """(shot, key) of every job this one takes an output of, once each."""
    out: list[tuple[str, str]] = []
    for slot in SLOTS:
        value = job.request.get(slot)
        for item in value if isinstance(value, list) else [value]:
            if is_dependency(item) and item.get("key") and (item["shot"], item["key"]) not in out:
                out.append((item["shot"], item["key"]))
    return out


def materialize(job: Job, plan: Plan, cache: ClipCache, root: Path) -> tuple[Job, dict[str, str]]:
    """``job`` with each shot input replaced by a file's digest (its path in ``media``), and
    ``{"image a:last": "sha256:…"}`` for the lock."""
    if not job.depends_on:
        return job, {}
    planned = {j.key: j.duration for j in plan.all_jobs}
    takes = {j.key: j.take for j in plan.all_jobs}
    media = dict(job.media)
    inputs: dict[str, str] = {}

    def make(slot: str, item: dict) -> str:
        clip = cache.get(item["key"])
        if clip is None:
            raise InputMissing(f"the clip of shot `{item['shot']}` is not in the cache")
        problem = unreadable(clip.path)
        if problem:  # named by its shot, not by where the cache keeps it
            raise InputMissing(f"shot `{item['shot']}` (take {takes.get(item['key'], 1)}), whose output it takes: "
                               f"its clip is not a readable video ({problem})")
        length = planned.get(item["key"]) or clip.record.duration
        digest, path = _file(clip.path, item.get("frame"), length, root)
        media[digest] = str(path)
        inputs[f"{slot} {dependency_label(item)}"] = digest
        return digest

    request = {}
    for name, value in job.request.items():
        if name in SLOTS and isinstance(value, list):
            request[name] = [make(name, v) if is_dependency(v) else v for v in value]
        elif name in SLOTS and is_dependency(value):
            request[name] = make(name, value)
        else:
            request[name] = value
    return job.model_copy(update={"request": request, "media": media}), inputs


def input_name(job: Job, digest: str, inputs: dict[str, str]) -> str:
    """How progress names a file the job uploads: as the storyboard wrote it (``refs/ada.png``), or for
    another shot's output, by that shot (``net:last frame``, ``net:clip``), never a path under ``.storyboard/``."""
    for label, made in inputs.items():  # ``image net:last`` → digest (``materialize``)
        if made == digest:
            name = label.split(" ", 1)[-1]
            return name if name.endswith(":clip") else f"{name} frame"
    return job.media.get(digest, "")


def _file(clip: Path, frame, planned: float, root: Path) -> tuple[str, Path]:
    folder = root / STATE_DIR / INPUTS
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".mp4" if frame is None else ".png"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".make-", suffix=suffix)
    os.close(fd)
    try:
        if frame is None:
            trim_clip(clip, planned, Path(tmp))
        else:
            # The frame the key names, counted at the rate the clip came back at.
            extract_frame(clip, resolve_frame(frame, planned, probe(clip).fps), Path(tmp))
        digest = file_sha256(Path(tmp))
        dest = folder / f"{digest}{suffix}"
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return "sha256:" + digest, dest
