"""The finishing part of the format: title and end cards, deliverables, focus.

Cards are drawn locally at the cut (no provider, $0); deliverables are the
films made from one storyboard, each at its own aspect ratio. These are the
pydantic sub-models; ``model`` adds them as fields.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RATIO = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$")
MAX_CARD_SECONDS = 60.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _colour(value: str) -> str:
    if not _COLOUR.match(value):
        raise ValueError(f"`{value}` is not a colour; write #RRGGBB (e.g. #101820) or #RGB")
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value.lower()


def _ratio(value: str) -> str:
    m = _RATIO.match(str(value))
    if not m or not int(m.group(1)) or not int(m.group(2)):
        raise ValueError(f"`{value}` is not an aspect ratio; write WIDTH:HEIGHT, e.g. \"9:16\" (quoted in YAML)")
    return f"{int(m.group(1))}:{int(m.group(2))}"


def _deliverable_name(value: str) -> str:
    if not _NAME.match(value) or len(value) > 64:
        raise ValueError(f"`{value}` is not a usable deliverable name: use letters, digits, `-`, `_` or `.` "
                         "(at most 64), starting with a letter or digit")
    return value


def _size(value: str) -> str:
    m = re.fullmatch(r"(\d{2,5})x(\d{2,5})", value.strip())
    if not m or int(m.group(1)) % 2 or int(m.group(2)) % 2:
        raise ValueError(f"`{value}` is not a resolution; write WIDTHxHEIGHT with even numbers, e.g. 1080x1920")
    return f"{int(m.group(1))}x{int(m.group(2))}"


def _focus(value):
    # `focus: 0.2` is x alone (y stays the centre); `focus: [0.2, 0.4]` is x and y.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    return value


Colour = Annotated[str, AfterValidator(_colour)]
Ratio = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v), AfterValidator(_ratio)]
Unit = Annotated[float, Field(ge=0, le=1)]
Focus = Annotated[list[Unit], BeforeValidator(_focus), Field(min_length=1, max_length=2)]
CardSeconds = Annotated[float, Field(gt=0, le=MAX_CARD_SECONDS, description="Seconds on screen.")]


class TitleCard(_Model):
    """The title card the film opens with: drawn locally at the cut, no provider, $0."""

    text: str = Field(min_length=1, max_length=200, description="The title.")
    subtitle: str | None = Field(default=None, max_length=300, description="A line under the title.")
    seconds: CardSeconds = Field(default=3.0, description="Seconds on screen.")
    background: Colour = Field(default="#000000", description="The background colour, #RRGGBB.")
    image: str | None = Field(
        default=None, min_length=1,
        description="A background image inside the project (covers the frame, centred); the text is drawn over it.")
    color: Colour = Field(default="#f2efe6", description="The text colour, #RRGGBB.")


class Credits(_Model):
    """The end card: lines of credits, drawn locally at the cut, no provider, $0."""

    lines: list[Annotated[str, Field(max_length=300)]] = Field(min_length=1, max_length=500,
                                                               description="The lines, top to bottom.")
    seconds: CardSeconds = Field(default=5.0, description="Seconds on screen.")
    style: Literal["static", "rolling"] = Field(
        default="static", description="`static` (the lines centred, still) or `rolling` (they scroll up).")
    background: Colour = Field(default="#000000", description="The background colour, #RRGGBB.")
    color: Colour = Field(default="#f2efe6", description="The text colour, #RRGGBB.")


class Deliverable(_Model):
    """One film made from the storyboard, at its own aspect ratio."""

    name: Annotated[str, AfterValidator(_deliverable_name)] = Field(
        description="How commands name it (`--deliverable NAME`).")
    aspect_ratio: Ratio = Field(description="WIDTH:HEIGHT, e.g. \"9:16\" (quote it in YAML).")
    output: str = Field(description="The film, relative to the storyboard.")
    method: Literal["render", "reframe"] = Field(
        default="reframe",
        description="`reframe`: cropped from the master's clips around each shot's `focus`, $0; "
        "`render`: every shot rendered again at this aspect ratio (paid, priced in the plan).")
    resolution: Annotated[str, AfterValidator(_size)] | None = Field(
        default=None, description="WIDTHxHEIGHT of a reframed film; default: the master's short side at this ratio.")


DeliverableList = list[Deliverable]
