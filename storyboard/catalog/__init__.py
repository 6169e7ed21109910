"""The models a provider offers, as data: which request parameters each takes,
their defaults and limits. Loaded from the YAML files beside this module."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Every request parameter the storyboard format knows how to fill. The
# catalog may only name these; a model takes a subset.
PARAMETERS = (
    "prompt", "image", "end_image", "video", "images", "keep_original_sound",
    "sound", "aspect_ratio", "duration", "shot_type", "multi_prompt", "element_list",
)


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Data):
    min: int
    max: int


class ParamSpec(_Data):
    """What one model accepts for one parameter."""

    required: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    min: int | None = None
    max: int | None = None
    max_with_video: int | None = None
    only_with: str | None = None
    not_with: str | None = None
    length: Range | None = None
    max_items: int | None = None
    max_chars: int | None = None


class ElementLimits(_Data):
    """What a model that makes elements takes (``kind: element``)."""

    name_chars: int
    description_chars: int
    views: Range  # other views of the character, besides the frontal image
    videos: Range
    image_min_side: int
    image_max_aspect: float


class ModelSpec(_Data):
    id: str
    label: str
    kind: Literal["video", "element"] = "video"
    duration_from: Literal["duration", "video"] = "duration"
    seed: str | None = None  # the request parameter a take number maps to, if the model takes a seed
    fps: int | None = Field(default=None, gt=0)  # the frame rate of the clips it returns: frames are keyed at it
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    endpoint: str | None = None  # the host's own name for the model, where it differs from the id (fal)
    video_endpoint: str | None = None  # where a job with a reference video goes instead (fal)
    element: ElementLimits | None = None  # kind: element

    @model_validator(mode="after")
    def _known_params(self) -> "ModelSpec":
        unknown = set(self.params) - set(PARAMETERS)
        if unknown:
            raise ValueError(f"{self.id}: unknown parameters {sorted(unknown)}")
        return self

    def takes(self, param: str) -> bool:
        return param in self.params


class Limits(_Data):
    """What the provider takes in one upload, in bytes."""

    image_bytes: int | None = None
    video_bytes: int | None = None


class Catalog(_Data):
    provider: str
    default_model: str
    limits: Limits = Field(default_factory=Limits)
    models: dict[str, ModelSpec]
    app: str | None = None  # fal: the app whose queue holds every endpoint's requests
    element_ids: bool = True  # false: the host takes no Kling element ids (fal)
    max_elements: int | None = None  # the most inline elements a request takes
    inline_element: ElementLimits | None = None  # an inline element's limits, on a host with no element model (fal)
    fields: dict[str, str] = Field(default_factory=dict)  # a parameter's name on the host's wire, where it differs

    def get(self, model_id: str) -> ModelSpec | None:
        return self.models.get(model_id)

    def endpoint(self, model_id: str, request: dict) -> str:
        """Where a job of ``model_id`` with ``request`` is submitted: the model id itself on
        WaveSpeed; on fal the model's endpoint, or its reference-video endpoint when the job has a video."""
        spec = self.models.get(model_id)
        if spec is None:
            return model_id
        if spec.video_endpoint and request.get("video") is not None:
            return spec.video_endpoint
        return spec.endpoint or model_id

    def by_endpoint(self, endpoint: str) -> ModelSpec | None:
        """The model whose jobs go to ``endpoint`` (its id, endpoint or video endpoint)."""
        for spec in self.models.values():
            if endpoint in (spec.id, spec.endpoint, spec.video_endpoint):
                return spec
        return None
    @property
    def element_model(self) -> ModelSpec | None:
        """The model that makes Kling elements, if the provider has one."""
        return next((m for m in self.models.values() if m.kind == "element" and m.element), None)

    def values(self, param: str, attr: str) -> list:
        """Every value of ``attr`` that any model gives ``param`` (for the JSON Schema)."""
        out: list = []
        for spec in self.models.values():
            value = getattr(spec.params.get(param), attr, None) if param in spec.params else None
            if value is not None and value not in out:
                out.append(value)
        return out


def read_data(name: str) -> Any:
    return yaml.safe_load(resources.files(__name__).joinpath(name).read_text("utf-8"))


HOSTS = ("wavespeed", "fal")  # the paid hosts the catalog knows, each with its models and its built-in prices


@lru_cache(maxsize=None)
def load_catalog(provider: str = "wavespeed") -> Catalog:
    """The catalog of ``provider`` (the preview provider renders WaveSpeed's models)."""
    raw = read_data("fal.yaml" if provider == "fal" else "wavespeed.yaml")
    for model_id, spec in raw["models"].items():
        spec["id"] = model_id
    return Catalog.model_validate(raw)
