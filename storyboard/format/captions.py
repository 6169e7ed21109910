"""Dialogue and captions in the storyboard: what is said, and what is shown as text.

A shot, or a segment of a multi-prompt shot, may carry ``dialogue:`` lines (a
speaker — a character key or free text — and the line, with optional start and
end seconds within the shot or segment) and a ``caption:``. Neither reaches a
request by itself: a prompt that names ``{{ dialogue }}`` or ``{{ caption }}``
renders them, and only then are they part of the job key (the prompt is).

``cut.captions`` says how the cut shows them: ``soft`` (default: a subtitle
track in the MP4, and ``.srt``/``.vtt`` files beside the film), ``burn`` (drawn
into the picture, with a style), or ``off``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

TEXT_LIMIT = 2000  # characters in one line or caption: a subtitle, not a script


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _shorthand(value: Any) -> Any:
    """``- keeper: The lamp is out.`` is ``{speaker: keeper, line: The lamp is out.}``."""
    if isinstance(value, dict) and len(value) == 1:
        (key, text), = value.items()
        if key not in ("speaker", "line", "start", "end") and isinstance(text, str):
            return {"speaker": str(key), "line": text}
    return value


class DialogueLine(_Model):
    """One line of dialogue: who says it and what, and optionally when."""

    speaker: str = Field(min_length=1, max_length=200,
                         description="A character key (its name is used) or any text, e.g. `Narrator`.")
    line: str = Field(min_length=1, max_length=TEXT_LIMIT, description="What is said.")
    start: float | None = Field(default=None, ge=0, description="Seconds into the shot (or segment) it starts; "
                                "without start and end, the lines share the time evenly.")
    end: float | None = Field(default=None, gt=0, description="Seconds into the shot (or segment) it ends.")


class _OrShorthand:
    """In the JSON Schema, a line may also be written `KEY: LINE` (editors must not flag it)."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        return {"anyOf": [handler(core_schema), {
            "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": {"type": "string"},
            "description": "`SPEAKER: LINE`: a character key (or any text) and what it says."}]}


Dialogue = list[Annotated[DialogueLine, BeforeValidator(_shorthand), _OrShorthand()]]
Caption = Annotated[str, Field(min_length=1, max_length=TEXT_LIMIT)]

DIALOGUE_DESCRIPTION = ("Lines said in the shot: `{speaker: KEY or text, line: TEXT, start: S, end: S}` or "
                        "`- KEY: TEXT`. They become captions; prompts use them only through `{{ dialogue }}`.")
CAPTION_DESCRIPTION = ("On-screen text for the shot's time (a caption changes no job, unless a prompt names "
                       "`{{ caption }}`).")


def _yaml_off(value: Any) -> Any:
    # YAML 1.1 reads a bare `off` as false (and `on` as true)
    return {False: "off", True: "soft"}.get(value, value) if isinstance(value, bool) else value


class CaptionStyle(_Model):
    """How captions are shown: a soft track, or burned into the picture with a style."""

    mode: Annotated[Literal["soft", "burn", "off"], BeforeValidator(_yaml_off)] = Field(
        default="soft", description="`soft`: a subtitle track in the MP4 and .srt/.vtt files (no re-encode); "
        "`burn`: drawn into the picture (the picture is encoded once more); `off`: neither.")
    size: float = Field(default=0.05, ge=0.01, le=0.2, description="Text height, as a fraction of the frame height.")
    position: Literal["bottom", "top", "middle"] = Field(default="bottom", description="Where burned captions sit.")
    margin: float = Field(default=0.06, ge=0, le=0.4,
                          description="Distance from the frame's edge, as a fraction of the frame height.")
    outline: float = Field(default=0.12, ge=0, le=0.5, description="Outline thickness, as a fraction of the text size.")
    speakers: bool = Field(default=False, description="Start each dialogue caption with the speaker's name.")


def _mode_only(value: Any) -> str:
    return "<mode>" if isinstance(value, (str, bool)) else "<style>"


CaptionsSetting = Annotated[
    Union[Annotated[Literal["soft", "burn", "off"], Tag("<mode>")], Annotated[CaptionStyle, Tag("<style>")]],
    Discriminator(_mode_only),
    BeforeValidator(_yaml_off),
    Field(description="How the cut shows dialogue and captions: `soft` (default), `burn`, `off`, "
          "or a style `{mode: burn, size: 0.05, position: bottom, margin: 0.06, outline: 0.12, speakers: false}`."),
]


def caption_style(setting: str | CaptionStyle | None) -> CaptionStyle:
    if setting is None:
        return CaptionStyle()
    return CaptionStyle(mode=setting) if isinstance(setting, str) else setting


# -- in templates --

class LineRef:
    """A dialogue line inside a template: ``{{ line.speaker }}``, ``{{ line.line }}``; prints as
    ``Speaker says: "line"``."""

    __slots__ = ("speaker", "line", "start", "end")

    def __init__(self, speaker: Any, line: str, start: float | None, end: float | None):
        self.speaker, self.line, self.start, self.end = speaker, line, start, end

    def __str__(self) -> str:
        return f'{self.speaker} says: "{self.line}"'


class DialogueRef(tuple):
    """A shot's (or segment's) dialogue in a template: iterate its lines, or print them all."""

    __slots__ = ()

    def __str__(self) -> str:
        return " ".join(str(line) for line in self)


def template_values(dialogue: list[DialogueLine], caption: str | None, characters: dict[str, Any]) -> dict[str, Any]:
    """``dialogue`` and ``caption`` as a prompt sees them; a speaker that is a character's key is
    that character (its name prints)."""
    lines = DialogueRef(LineRef(characters.get(d.speaker, d.speaker), d.line, d.start, d.end) for d in dialogue)
    return {"dialogue": lines, "caption": caption or ""}
