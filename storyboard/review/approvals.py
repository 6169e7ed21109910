"""Review notes and approvals, kept in the repository beside the storyboard.

``teaser.yaml`` keeps its review in ``teaser.review.yaml`` (``storyboard.yaml``
in ``storyboard.review.yaml``), written by ``storyboard apply-review`` and
committed with the film. Per shot: the last verdict (``approved`` or
``retake``), the take and the job key it was given on, the git revision of
the review, and every note so far, oldest first. An approval holds for that
job key only: a shot whose chosen take's key changed since (its prompt, its
inputs, an upstream shot, another take) is no longer approved.

The file is untrusted like the lock: read through typed models, a problem is
an error naming the file and the entry."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import StoryboardError
from ..plan.project import Compiled

APPROVED, RETAKE, OUTDATED = "approved", "retake", "changed since approval"
_TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
HEADER = ("# Review decisions on {name}, written by `storyboard apply-review` (see the README).\n"
          "# Per shot: the last verdict, the take and job key it was given on (a shot whose key\n"
          "# changes is no longer approved), the git revision reviewed, and the notes so far.\n")


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    revision: str = Field(default="", max_length=200, pattern=_TEXT)
    take: int = Field(ge=1, le=1_000_000)
    verdict: Literal["approved", "retake", ""] = ""
    text: str = Field(default="", max_length=10_000, pattern=_TEXT)


class ShotReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["approved", "retake", ""] = ""
    take: int = Field(ge=1, le=1_000_000)
    key: str = Field(pattern=r"^[0-9a-f]{64}$")
    revision: str = Field(default="", max_length=200, pattern=_TEXT)
    notes: list[Note] = Field(default_factory=list)


class ReviewFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    shots: dict[str, ShotReview] = Field(default_factory=dict)


@dataclass(frozen=True)
class Approval:
    """A shot's review state now: ``approved``, ``retake``, ``changed since approval``, or ``""`` (notes only)."""

    state: str
    take: int
    revision: str
    notes: tuple[Note, ...]

    def as_dict(self) -> dict:
        return {"state": self.state, "take": self.take, "revision": self.revision,
                "notes": [n.model_dump() for n in self.notes]}


def review_path(storyboard: Path) -> Path:
    return storyboard.with_name(f"{storyboard.stem}.review.yaml")


def read_review(path: Path) -> ReviewFile:
    """The review file at ``path``; an empty one when there is none."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return ReviewFile()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoryboardError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or 'not UTF-8 text'})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise StoryboardError(f"{path}{where}: not valid YAML") from None
    try:
        return ReviewFile.model_validate(data or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        entry = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise StoryboardError(f"{path}: {entry}: {err['msg']}") from None


def write_review(path: Path, review: ReviewFile) -> None:
    """Written aside and renamed, so a reader never sees half a file."""
    body = yaml.safe_dump(review.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-review-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(HEADER.format(name=path.name.removesuffix(".review.yaml") + ".yaml") + body)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def approvals(compiled: Compiled) -> dict[str, Approval]:
    """Each reviewed shot's state against the film as it is now (see the module's docstring)."""
    review = read_review(review_path(compiled.path))
    jobs = {job.shot: job for job in compiled.plan.jobs}
    out = {}
    for shot, entry in review.shots.items():
        job = jobs.get(shot)
        state = entry.verdict
        if state == APPROVED and (job is None or job.key != entry.key):
            state = OUTDATED
        out[shot] = Approval(state, entry.take, entry.revision, tuple(entry.notes))
    return out
