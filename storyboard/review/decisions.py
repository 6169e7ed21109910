"""``storyboard apply-review``: a reviewer's decisions (exported by the review
site) written back into the repository.

A decisions file names the storyboard and the git revision it was made on,
and per shot the take chosen, that take's job key as the reviewer saw it, a
verdict (``approved`` or ``retake``) and a note. Each decision whose key
is still what that take of the shot makes is applied: ``take: N`` written
into the storyboard (nothing else in it changes), the verdict and note kept
in the review file beside it (``approvals``). A decision on a shot that has
changed since (another prompt, input, upstream shot) is refused with the
reason; the rest apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..catalog import load_catalog
from ..errors import StoryboardError
from ..plan.project import Compiled
from ..plan.takes import HARD_LIMIT, take_of
from .approvals import Note, ReviewFile, ShotReview, read_review, review_path, write_review
from .yamledit import set_takes

_TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
MAX_BYTES = 4 << 20


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shot: str = Field(min_length=1, max_length=200, pattern=_TEXT)
    take: int = Field(ge=1, le=HARD_LIMIT)
    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="The take's job key when it was reviewed.")
    verdict: Literal["approved", "retake"] | None = None
    note: str = Field(default="", max_length=10_000, pattern=_TEXT)


class Decisions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    storyboard: str = Field(min_length=1, max_length=500, pattern=_TEXT)
    revision: str = Field(default="", max_length=200, pattern=_TEXT)
    decisions: list[Decision]


@dataclass
class Outcome:
    applied: list[str] = field(default_factory=list)  # what each applied decision did, as a line of text
    refused: list[str] = field(default_factory=list)  # each refused decision and why
    changed: bool = False  # the storyboard's text changed


def read_decisions(path: Path) -> Decisions:
    """A decisions file, checked; a problem names the file and the entry."""
    try:
        raw = path.read_bytes()[:MAX_BYTES + 1]
    except OSError as exc:
        raise StoryboardError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_BYTES:
        raise StoryboardError(f"{path}: too large for a decisions file")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        raise StoryboardError(f"{path}: not a decisions file (not readable YAML)") from None
    try:
        decisions = Decisions.model_validate(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        entry = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        raise StoryboardError(f"{path}: {entry or 'the file'}: {err['msg']}") from None
    seen = [d.shot for d in decisions.decisions]
    twice = next((s for s in seen if seen.count(s) > 1), None)
    if twice:
        raise StoryboardError(f"{path}: shot `{twice}` has two decisions; keep one")
    return decisions


def apply_decisions(compiled: Compiled, decisions: Decisions, source: str) -> Outcome:
    """Apply what still holds (see the module's docstring); ``source`` names the decisions file in messages."""
    if Path(decisions.storyboard).name != compiled.path.name:
        raise StoryboardError(f"{source}: the decisions are for {decisions.storyboard}, not {compiled.path.name}")
    plan = compiled.plan
    catalog = load_catalog(plan.provider)
    jobs = {job.shot: job for job in plan.jobs}
    rev = decisions.revision[:12] or "the reviewed revision"
    outcome, takes, reviewed = Outcome(), {}, {}
    for d in decisions.decisions:
        job = jobs.get(d.shot)
        if job is None:
            outcome.refused.append(f"{d.shot}: no such shot in {compiled.path.name} now")
            continue
        variant = job if job.take == d.take else take_of(job, d.take, plan.provider, plan.origin, catalog)
        if variant.key != d.key:
            outcome.refused.append(f"{d.shot}: changed since {rev} (take {d.take} would now be another request "
                                   "than the one reviewed); review it again")
            continue
        if d.take != job.take:
            takes[d.shot] = d.take
        reviewed[d.shot] = (d, variant.key)
        outcome.applied.append(_line(d, job.take))
    if takes:
        text = compiled.path.read_bytes().decode("utf-8")
        new = set_takes(text, takes, compiled.path.name)
        _write(compiled.path, new)
        outcome.changed = new != text
    if reviewed:
        _record(review_path(compiled.path), reviewed, decisions.revision)
    return outcome


def _line(d: Decision, was: int) -> str:
    parts = [f"take {d.take}" + (f" (was {was})" if d.take != was else "")]
    if d.verdict:
        parts.append(d.verdict)
    if d.note:
        parts.append("a note")
    return f"{d.shot}: {', '.join(parts)}"


def _record(path: Path, reviewed: dict[str, tuple[Decision, str]], revision: str) -> None:
    review: ReviewFile = read_review(path)
    for shot, (d, key) in reviewed.items():
        before = review.shots.get(shot)
        notes = list(before.notes) if before else []
        if d.note or d.verdict:
            notes.append(Note(revision=revision, take=d.take, verdict=d.verdict or "", text=d.note))
        verdict = d.verdict or (before.verdict if before and before.key == key else "")
        review.shots[shot] = ShotReview(verdict=verdict, take=d.take, key=key, revision=revision, notes=notes)
    write_review(path, review)


def _write(path: Path, text: str) -> None:
    """Written aside and renamed; the file keeps its mode."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-storyboard-")
    with os.fdopen(fd, "wb") as out:
        out.write(text.encode("utf-8"))
    os.chmod(tmp, path.stat().st_mode & 0o7777)
    os.replace(tmp, path)
