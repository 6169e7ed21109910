"""The plan: plain, frozen data, its canonical JSON and the job key.

A job key is the sha256 of the canonical JSON of: the key format version, the
provider, the API origin, the model, and the request with every local file
replaced by the sha256 of its bytes. Nothing else — no paths, no times, no
upload URLs — so the key is the same in every clone on every machine, and a
render against the local emulator never satisfies one against the real API.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .finishing import CardPlan, without_unused
from .captions import CaptionsPlan

KEY_FORMAT = 1
PLAN_FORMAT = 1
PREVIEW_ORIGIN = "preview:local"
DEFAULT_BASE_URL = "https://api.wavespeed.ai"
PROVIDERS = ("wavespeed", "fal", "preview")
# Each paid host's API address, and the variable that points storyboard elsewhere (an emulator, a proxy).
BASE_URLS = {"wavespeed": DEFAULT_BASE_URL, "fal": "https://queue.fal.run"}
BASE_URL_VARIABLES = {"wavespeed": "WAVESPEED_BASE_URL", "fal": "FAL_BASE_URL"}


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant white space, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def job_key(provider: str, origin: str, model: str, request: dict[str, Any], take: int = 1) -> str:
    """Take 1's key is the key from before takes existed; take N >= 2 hashes its number too."""
    body = {"format": KEY_FORMAT, "provider": provider, "origin": origin, "model": model, "request": request}
    if take != 1:
        body["take"] = take
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def origin_of(base_url: str) -> str:
    """``scheme://host[:port]`` of a base URL, lower-cased, default port left out."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}{port}"


def provider_origin(provider: str, base_url: str | None = None) -> str:
    if provider == "preview":
        return PREVIEW_ORIGIN
    return origin_of(base_url or BASE_URLS.get(provider, DEFAULT_BASE_URL))


def base_url_from(env, provider: str) -> str | None:
    """The API address ``env`` sets for ``provider`` (WAVESPEED_BASE_URL, FAL_BASE_URL), or None."""
    variable = BASE_URL_VARIABLES.get(provider)
    return (env.get(variable) or None) if variable else None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    """Where a shot is written: the storyboard file (relative to the project), line and column."""

    file: str
    line: int
    column: int


class Job(_Frozen):
    """One paid request: exactly what the provider will receive."""

    shot: str = Field(description="The shot's id.")
    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="The job key (sha256 hex).")
    model: str = Field(description="The model id the request goes to.")
    request: dict[str, Any] = Field(
        description="The request body. Local files appear as `sha256:<hex>` until they are uploaded."
    )
    media: dict[str, str] = Field(
        default_factory=dict, description="Each local file's digest → its path relative to the project."
    )
    duration: float = Field(description="The clip's planned length in seconds.")
    cost: Decimal | None = Field(description="The job's cost in USD as an exact decimal; null if unpriced.")
    source: Source
    take: int = Field(default=1, ge=1, description="Which take of the shot: the same request, rendered again.")
    depends_on: list[str] = Field(
        default_factory=list,
        description="The shots whose output this job takes as an input (a frame or the clip); it starts once "
        "their clips are made. The request names each one as `{\"shot\", \"frame\", \"key\"}`.",
    )
    provider: str | None = Field(default=None, description="This job's host when it is not the plan's (a shot's "
                                 "own `provider:`); absent: the plan's.")
    origin: str | None = Field(default=None, description="This job's API origin when it is not the plan's.")

    @property
    def label(self) -> str:
        """How messages name the job: the shot id, or ``shot#N`` for take N >= 2."""
        return self.shot if self.take == 1 else f"{self.shot}#{self.take}"


class ElementJob(_Frozen):
    """A Kling element to create once (a character's `element:`): an id that shots send in `element_list`."""

    character: str = Field(description="The character's key; shots name the element by it.")
    name: str = Field(description="The element's name, as prompts write it.")
    description: str = Field(description="The element's description.")
    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="The element's job key (sha256 hex).")
    model: str = Field(description="The model that makes it.")
    request: dict[str, Any] = Field(description="The request body; files appear as `sha256:<hex>`.")
    media: dict[str, str] = Field(default_factory=dict, description="Each file's digest → its path in the project.")
    frontal: str | None = Field(default=None, description="The frontal image, as the storyboard names it.")
    views: list[str] = Field(default_factory=list, description="The other views, as the storyboard names them.")
    video: str | None = Field(default=None, description="The reference video, instead of images.")
    cost: Decimal | None = Field(description="USD, exact; null if unpriced.")
    source: Source
    shots: list[str] = Field(default_factory=list, description="The shots that send it, in the film's order.")

    @property
    def label(self) -> str:
        """How messages and `--resubmit`/`--repay` name it: ``element:mara`` (no shot id has a colon)."""
        return f"element:{self.character}"


class TransitionPlan(_Frozen):
    type: Literal["cut", "crossfade", "fade"]
    duration: float


class CutShot(_Frozen):
    """One shot's place in the film."""

    shot: str
    key: str
    duration: float = Field(description="Planned length in seconds; the clip is trimmed to it.")
    transition: TransitionPlan = Field(description="The transition into this shot from the previous one.")
    audio: Literal["generated", "original", "none"] = Field(description="The sound the clip carries.")
    mute: bool = Field(default=False, description="The clip's sound is left out of the cut.")
    card: CardPlan | None = Field(default=None, description="A title or end card: drawn at the cut, $0.")


class MusicPlan(_Frozen):
    file: str
    digest: str
    volume: float
    duck: float = 0.5
    fade_in: float
    fade_out: float
    loop: bool = True


class FormatPlan(_Frozen):
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    quality: int = 18


class CutPlan(_Frozen):
    """The final cut: order, planned durations, transitions and audio."""

    output: str
    shots: list[CutShot]
    music: MusicPlan | None = None
    format: FormatPlan = Field(default_factory=FormatPlan)
    loudness: float | None = Field(default=-16.0, description="Integrated loudness target, LUFS; null: untouched.")
    duration: float = Field(description="The film's length: the shots' durations less the transitions' overlaps.")
    captions: CaptionsPlan | None = Field(default=None, description="Dialogue and captions, and how they are shown.")


class DeliverablePlan(_Frozen):
    """One film besides the master: where it goes, how it is made, what it costs."""

    name: str
    aspect_ratio: str
    output: str
    method: Literal["render", "reframe", "master"] = Field(
        description="`master`: the film `cut.output` itself, listed among the deliverables.")
    cost: Decimal = Field(description="What its own jobs cost, USD, exact (0 for reframe).")
    resolution: str | None = Field(default=None, description="A reframed film's size, when given.")
    focus: dict[str, list[float]] = Field(
        default_factory=dict, description="Reframe: each shot's focus [x, y], 0..1, where it is not the centre.")
    jobs: list[Job] = Field(default_factory=list, description="Render: its jobs at this aspect ratio.")
    cut: CutPlan = Field(description="Its cut: the master's, with its own jobs' keys for render.")


class PriceListRef(_Frozen):
    name: str
    as_of: str
    source: str = Field(description="`built-in`, or the price list file relative to the project.")


class _JobIndex:
    """A plan's jobs by shot id and by label, first one winning, as a scan would find them.

    It remembers the very lists it was built from (and their lengths): a copy of
    the plan with other lists (``model_copy(update=…)``, ``with_takes``) shares
    this object but is not indexed by it. (A plan's lists are never changed in
    place: it is frozen data.) It is a cache, not data: any two
    compare equal, so plans compare by their fields alone."""

    def __init__(self, jobs: list[Job] | None = None, takes: list[Job] | None = None):
        """Without lists: an index of nothing yet, that indexes no plan."""
        self.lists = (jobs, takes)
        self.sizes = (len(jobs or ()), len(takes or ()))
        self.by_shot: dict[str, Job] = {}
        self.by_label: dict[str, Job] = {}
        for job in jobs or ():
            self.by_shot.setdefault(job.shot, job)
        for job in [*(jobs or ()), *(takes or ())]:
            self.by_label.setdefault(job.label, job)

    def indexes(self, jobs: list[Job], takes: list[Job]) -> bool:
        return self.lists[0] is jobs and self.lists[1] is takes and self.sizes == (len(jobs), len(takes))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _JobIndex)

    __hash__ = None  # type: ignore[assignment]


class Plan(_Frozen):
    """A storyboard compiled: the jobs to pay for and how their clips are cut."""

    format: Literal[1] = PLAN_FORMAT
    storyboard: str = Field(description="The storyboard file, relative to the project folder.")
    title: str
    provider: str
    origin: str = Field(description="The API origin the jobs go to; part of every job key.")
    price_list: PriceListRef
    total_cost: Decimal = Field(description="The sum of all priced jobs, USD, exact.")
    unpriced: list[str] = Field(default_factory=list, description="Shots whose model the price list does not price.")
    jobs: list[Job] = Field(description="The film's jobs: each shot's chosen take, in the film's order.")
    takes: list[Job] = Field(
        default_factory=list, description="Other takes asked for (`--takes`): rendered, not cut into the film."
    )
    cut: CutPlan
    deliverables: list[DeliverablePlan] = Field(
        default_factory=list, description="The other films made from the storyboard (`deliverables:`).")
    elements: list[ElementJob] = Field(
        default_factory=list, description="Kling elements to create before the shots that send them.")

    def to_json(self) -> str:
        """Canonical JSON of the plan: byte-identical for the same storyboard."""
        data = without_unused(self.model_dump(mode="json"))  # a plan without cards or deliverables reads as before
        for job in data["jobs"] + data["takes"]:  # a job on the plan's host names none: one-host plans read as before
            for name in ("provider", "origin"):
                if job.get(name) is None:
                    job.pop(name, None)
        if not data["elements"]:  # a plan without elements reads as it did before they existed
            del data["elements"]
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    _index: _JobIndex = PrivateAttr(default_factory=_JobIndex)

    def job(self, shot: str) -> Job | None:
        """The film's job for ``shot`` (its chosen take), or the job labelled ``shot#N``."""
        index = self._lookup()
        found = index.by_shot.get(shot) or index.by_label.get(shot)
        if found is None and "@" in shot:  # a deliverable's job, SHOT@NAME
            found = next((j for d in self.deliverables for j in d.jobs if j.label == shot), None)
        return found

    def element(self, label: str) -> ElementJob | None:
        """The element job labelled ``element:KEY``."""
        return next((e for e in self.elements if e.label == label), None)

    def find(self, label: str) -> Job | None:
        return self._lookup().by_label.get(label)

    def _lookup(self) -> _JobIndex:
        """The index of these jobs, built on the first look-up: a table of 10,000 shots
        looks each one up, and a scan per look-up made it quadratic."""
        if not self._index.indexes(self.jobs, self.takes):
            self._index = _JobIndex(self.jobs, self.takes)  # a copy with other jobs (model_copy) builds its own
        return self._index

    def host(self, job: Job) -> tuple[str, str]:
        """Where ``job`` goes: its own host and origin (a shot's `provider:`), else the plan's."""
        return job.provider or self.provider, job.origin or self.origin

    @property
    def all_jobs(self) -> list[Job]:
        """Everything a render makes: the film's jobs, then the other takes, then the deliverables' jobs."""
        return self.jobs + self.takes + [job for d in self.deliverables for job in d.jobs]
