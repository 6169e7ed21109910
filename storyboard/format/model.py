"""The storyboard format, version 1, as pydantic models.

These models check structure and types only (unknown keys, wrong types,
missing keys). Limits that belong to a video model — durations, aspect
ratios, image counts — live in the catalog and are checked by ``rules``;
the JSON Schema still shows them, read from the catalog, so editors can
complete and check a storyboard.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

from ..catalog import load_catalog
from .element_model import Element
from .finishing import Credits, DeliverableList, Focus, TitleCard
from .captions import CAPTION_DESCRIPTION, DIALOGUE_DESCRIPTION, Caption, CaptionsSetting, Dialogue
from .warnings import known_code

# Takes: `--takes all=N` stops at MAX_TAKES, and a take past it (`--takes SHOT=N` or `take: N`) is rendered
# only with `render --yes` (a typo must not multiply the bill); no take of a shot is past TAKE_LIMIT, however it is asked for.
# One set of limits, for the format, the plan and the command line (plan/takes.py).
MAX_TAKES = 20
TAKE_LIMIT = 100
SHOT_ID_LIMIT = 200

_CATALOG = load_catalog()
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHOT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _element_id(value: Any) -> Any:
    # Kling element ids are long numbers; YAML reads them unquoted as ints.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _remote(value: str) -> str:
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in ("", "file", "s3", "gs", "az", "abfs", "abfss", "azure") or not value.strip():
        raise ValueError(f"`{value}` is not a remote: use s3://bucket/prefix, gs://…, az://… or a folder path")
    return value


def _shot_id(value: str) -> str:
    if not _SHOT_ID.match(value):
        raise ValueError(
            f"`{value}` is not a usable shot id: use letters, digits, `-`, `_` or `.`, starting with a letter or digit"
        )
    if len(value) > SHOT_ID_LIMIT:  # the lock keeps shot ids too, and reads back only what the format allows
        raise ValueError(f"a shot id is at most {SHOT_ID_LIMIT} characters; this one has {len(value)}")
    return value


def identifier(value: str) -> str:
    if not _IDENT.match(value):
        raise ValueError(
            f"`{value}` cannot be used in a prompt template: use letters, digits and `_`, not starting with a digit"
        )
    return value


ElementId = Annotated[
    str,
    BeforeValidator(_element_id),
    Field(min_length=1, description="A Kling element id, made with Kling Elements (e.g. \"307212335131305\")."),
]
MediaRef = Annotated[
    str,
    Field(min_length=1, description="A file inside the project, relative to the storyboard, or an https:// URL."),
]
Seconds = Annotated[float, Field(ge=0, description="Seconds.")]


class _Ref(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    shot: Annotated[str, AfterValidator(_shot_id)] = Field(description="The id of the shot whose output this is.")


def _tagged(text_tag: str, other_tag: str, other: tuple[type, ...] = (dict,)):
    """Pick a union's member by the value's type, so an error names one member (tags are dropped from paths)."""
    def pick(value: Any) -> str:
        return other_tag if isinstance(value, other) and not isinstance(value, bool) else text_tag
    return Discriminator(pick)


FrameAt = Annotated[
    Union[Annotated[Literal["first", "last"], Tag("<name>")], Annotated[float, Field(ge=0), Tag("<seconds>")]],
    _tagged("<name>", "<seconds>", (int, float)),
]


class ShotFrame(_Ref):
    """A frame of another shot's clip (its chosen take), as an image input."""

    frame: FrameAt = Field(
        description="`first`, `last` (the last frame of the shot's planned length) or a time in seconds within it.",
    )

    @property
    def label(self) -> str:
        return f"{self.shot}:{self.frame if isinstance(self.frame, str) else f'{self.frame:g}'}"


class ShotClip(_Ref):
    """Another shot's clip (its chosen take), trimmed to its planned length, as a video input."""

    @property
    def label(self) -> str:
        return f"{self.shot}:clip"


ImageRef = Annotated[
    Union[Annotated[MediaRef, Tag("<file>")], Annotated[ShotFrame, Tag("<shot>")]],
    _tagged("<file>", "<shot>"),
    Field(description="A file inside the project, an https:// URL, or `{shot: ID, frame: first|last|SECONDS}`."),
]
VideoRef = Annotated[
    Union[Annotated[MediaRef, Tag("<file>")], Annotated[ShotClip, Tag("<shot>")]],
    _tagged("<file>", "<shot>"),
    Field(description="A file inside the project, an https:// URL, or `{shot: ID}`: that shot's clip."),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Segment(_Model):
    """One part of a multi-prompt shot."""

    prompt: str = Field(description="What happens in this segment (a template, like the shot's prompt).")
    duration: int = Field(ge=1, description="Whole seconds, at least 1. The segments add up to the shot's duration.")
    dialogue: Dialogue = Field(default_factory=list, description=DIALOGUE_DESCRIPTION + " Times are within the segment.")
    caption: Caption | None = Field(default=None, description=CAPTION_DESCRIPTION)


class Transition(_Model):
    """How the cut goes from the previous shot into this one."""

    type: Literal["cut", "crossfade", "fade"] = Field(
        description="`cut` (hard cut), `crossfade` (dissolve) or `fade` (through black, darkest at the midpoint).",
    )
    duration: Seconds | None = Field(
        default=None,
        description="Seconds the two shots overlap; 0.5 for crossfade and fade when not given, 0 for a cut.",
    )


def _choices(param: str) -> dict:
    return {"enum": [c for choices in _CATALOG.values(param, "choices") for c in choices]}


class ShotSettings(_Model):
    """The settings a shot can inherit from `defaults`."""

    model: str | None = Field(
        default=None,
        description=f"The video model (catalog id). Default: `{_CATALOG.default_model}`.",
        json_schema_extra={"examples": [m for m, s in _CATALOG.models.items() if s.kind == "video"]},
    )
    aspect_ratio: str | None = Field(
        default=None,
        description="Output aspect ratio: 16:9 (default), 9:16 or 1:1. Quote it in YAML.",
        json_schema_extra=_choices("aspect_ratio"),
    )
    duration: int | None = Field(
        default=None,
        description="Length of the generated clip in whole seconds (3 to 15; default 5).",
        json_schema_extra={
            "minimum": min(_CATALOG.values("duration", "min")),
            "maximum": max(_CATALOG.values("duration", "max")),
        },
    )
    sound: bool | None = Field(
        default=None, description="Generate sound for the clip (only without a reference video). Default false."
    )
    keep_original_sound: bool | None = Field(
        default=None, description="Keep the reference video's own sound (only with a reference video). Default true."
    )
    shot_type: str | None = Field(
        default=None,
        description="`intelligent` (default: the model decides the framing) or `customize`.",
        json_schema_extra=_choices("shot_type"),
    )


class Shot(ShotSettings):
    """One generated clip: one paid job."""

    id: Annotated[str, AfterValidator(_shot_id)] = Field(
        description="A unique name for the shot; it names the shot in plans, diffs and the lock."
    )
    provider: Literal["wavespeed", "fal"] | None = Field(
        default=None,
        description="This shot's host, when it is not the film's (`provider:` at the top): its job goes there and "
        "is keyed there. `--provider preview` renders every shot as a card.",
    )
    prompt: str | None = Field(
        default=None,
        description="What the clip shows. A Jinja template: `{{ keeper }}` is a character's name, "
        "`{{ keeper.description }}` its description, `{{ era }}` a var.",
    )
    characters: list[str] = Field(
        default_factory=list,
        description="Characters in the shot: their reference images and element ids join the job.",
    )
    ignore_warnings: list[Annotated[str, AfterValidator(known_code)]] = Field(
        default_factory=list,
        description="Warning codes (`W003`) acknowledged for this shot: those warnings are not shown. Each warning ends "
        "with its code.",
    )
    images: list[ImageRef] = Field(
        default_factory=list,
        description="Reference images (with the characters' ones: at most 7, or 4 with a reference video); "
        "an item may be a frame of another shot, `{shot: ID, frame: first|last|SECONDS}`.",
    )
    video: VideoRef | None = Field(
        default=None, description="A reference video for motion (reference-to-video) or the clip to edit "
        "(video-edit); `{shot: ID}` is another shot's clip.",
    )
    image: ImageRef | None = Field(
        default=None, description="The first frame (image-to-video); `{shot: ID, frame: last}` continues a shot.")
    end_image: ImageRef | None = Field(
        default=None, description="The last frame (image-to-video); may be a frame of another shot.")
    multi_prompt: list[Segment] | None = Field(
        default=None, description="Prompt segments; their durations add up to the shot's duration."
    )
    element_list: list[ElementId] = Field(
        default_factory=list, description="Kling element ids to keep consistent (characters' ids join these)."
    )
    transition: Transition | None = Field(
        default=None, description="The transition into this shot from the one before (overrides `cut.transition`)."
    )
    mute: bool = Field(default=False, description="Leave this clip's own sound out of the cut.")
    take: int = Field(
        default=1, ge=1, le=TAKE_LIMIT, strict=True,
        description="The take the film uses: the same request rendered again is take 2, 3… "
        "(`storyboard render --takes SHOT=N`, then `storyboard takes`). Default 1.",
    )
    focus: Focus | None = Field(
        default=None, description="Where the shot's subject is, 0 to 1: x, or [x, y] (default the centre); a "
        "reframed deliverable keeps it in its frame.")
    dialogue: Dialogue = Field(default_factory=list, description=DIALOGUE_DESCRIPTION)
    caption: Caption | None = Field(default=None, description=CAPTION_DESCRIPTION)


class Character(_Model):
    """Someone (or something) that appears in several shots and must look the same."""

    name: str | None = Field(
        default=None,
        description="How the character is written in prompts: `{{ key }}` renders this. Default: the key.",
    )
    description: str = Field(default="", description="What the character looks like: `{{ key.description }}`.")
    images: list[MediaRef] = Field(
        default_factory=list, description="Reference images; they join every shot the character is in."
    )
    element_id: ElementId | None = Field(
        default=None, description="A Kling element id; it joins the `element_list` of every shot the character is in."
    )
    element: Element | None = Field(
        default=None, description="A Kling element made from these files, once; its id joins the `element_list` of "
        "every shot the character is in (instead of a hand-made `element_id`).")


class Music(_Model):
    """A music bed under the whole film."""

    file: MediaRef = Field(description="An audio file inside the project.")
    volume: float = Field(default=1.0, ge=0, le=4, description="Gain, 1.0 = as recorded.")
    duck: float = Field(
        default=0.5, ge=0, le=1, description="Extra gain under shots that have their own sound (1 = not lowered)."
    )
    fade_in: Seconds = Field(default=0, description="Seconds of fade in at the start.")
    fade_out: Seconds = Field(default=0, description="Seconds of fade out where the music ends.")
    loop: bool = Field(
        default=True,
        description="A bed shorter than the film repeats, crossfading at each loop point; false: it plays once.",
    )


def _resolution(value: str) -> str:
    m = re.fullmatch(r"(\d{2,5})x(\d{2,5})", value.strip())
    if not m:
        raise ValueError(f"`{value}` is not a resolution; write WIDTHxHEIGHT, e.g. 1280x720")
    if int(m.group(1)) % 2 or int(m.group(2)) % 2:
        raise ValueError(f"`{value}`: H.264 in yuv420p needs an even width and height")
    return f"{int(m.group(1))}x{int(m.group(2))}"


class Cut(_Model):
    """How the clips become the final film."""

    output: str = Field(default="renders/final.mp4", description="The film, relative to the storyboard.")
    resolution: Annotated[str, AfterValidator(_resolution)] | None = Field(
        default=None, description="The film's size, WIDTHxHEIGHT (e.g. 1280x720); default: the clips' own."
    )
    fps: float | None = Field(default=None, gt=0, le=120, description="Frames per second; default: the clips' own.")
    quality: int = Field(default=18, ge=0, le=51, description="x264 CRF: lower is better and larger; 18 is near-lossless.")
    loudness: float | None = Field(
        default=-16.0, ge=-70, le=-5,
        description="Integrated loudness target in LUFS (EBU R128); null leaves the level alone.",
    )
    transition: Transition | None = Field(default=None, description="The default transition between shots.")
    music: Music | None = Field(default=None, description="An optional music bed.")
    title: TitleCard | None = Field(default=None, description="A title card before the first shot (drawn, $0).")
    credits: Credits | None = Field(default=None, description="An end card after the last shot (drawn, $0).")
    captions: CaptionsSetting = "soft"


class Storyboard(_Model):
    """A storyboard: characters, shots and the cut, version 1."""

    # Top-level keys starting with `x-` are the user's own (e.g. anchors).
    model_config = ConfigDict(json_schema_extra={"patternProperties": {"^x-": {}}})

    version: Literal[1] = Field(description="The storyboard format version. Always 1.")
    title: str = Field(default="", description="The film's title (does not reach any job).")
    prices: str | None = Field(
        default=None, description="A price list (YAML) to cost the plan with, relative to the storyboard."
    )
    provider: Literal["wavespeed", "fal"] | None = Field(
        default=None,
        description="The host the film's jobs go to: `wavespeed` (default) or `fal`. The same storyboard renders on "
        "either; a job's key names its host. `--provider` overrides it.",
    )
    remote: Annotated[str, AfterValidator(_remote)] | None = Field(
        default=None,
        description="Where the team keeps the film's clips: s3://bucket/prefix, gs://…, az://… or a shared folder. "
        "Project configuration: it never changes a job key. --remote and STORYBOARD_REMOTE override it.",
    )
    max_cost: Decimal | None = Field(
        default=None, ge=0, le=1_000_000, description="The most, in USD, one `render` may spend: it refuses "
        "before any request above it. Project configuration: it never changes a job key. --max-cost overrides it.",
    )
    defaults: ShotSettings = Field(
        default_factory=ShotSettings, description="Settings every shot inherits unless it sets its own."
    )
    vars: dict[Annotated[str, AfterValidator(identifier)], Any] = Field(
        default_factory=dict, description="Template variables for prompts: `{{ name }}`."
    )
    characters: dict[Annotated[str, AfterValidator(identifier)], Character] = Field(
        default_factory=dict, description="Characters by key; the key is how prompts and shots name them."
    )
    shots: list[Shot] = Field(min_length=1, description="The shots, in the order of the film.")
    cut: Cut = Field(default_factory=Cut, description="How the clips are cut into the film.")
    deliverables: DeliverableList = Field(
        default_factory=list, description="The films to make besides `cut.output`: name, aspect ratio, output, "
        "method (`reframe`, $0, or `render`, paid).")
    ignore_warnings: list[Annotated[str, AfterValidator(known_code)]] = Field(
        default_factory=list,
        description="Warning codes (`W003`) acknowledged everywhere in this storyboard: those warnings are not "
        "shown. Each warning ends with its code.",
    )
