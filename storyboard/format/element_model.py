"""The format of a character's ``element:`` (a Kling element made from the
project's own files). Its checks against the catalog, its request and the
checks of the shots that send it are in ``elements``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

IMAGE_REFER, VIDEO_REFER = "image_refer", "video_refer"
_FILE = "A file inside the project, relative to the storyboard."


class Element(BaseModel):
    """A Kling element made from the storyboard's own files: created once, its id sent with every shot of the
    character."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frontal: str | None = Field(default=None, min_length=1, description="The frontal image of the character. "
                                + _FILE)
    views: list[str] = Field(default_factory=list, description="Other views of the character (images; Kling takes "
                             "1 to 3). " + _FILE)
    video: str | None = Field(default=None, min_length=1, description="A reference video of the character, "
                              "instead of images. " + _FILE)
    name: str | None = Field(default=None, description="The element's name, written in prompts (at most 20 "
                             "characters). Default: the character's `name`.")
    description: str | None = Field(default=None, description="What the element is (at most 100 characters). "
                                    "Default: the character's `description`.")

    @model_validator(mode="after")
    def _one_reference(self) -> "Element":
        if self.frontal is None and self.video is None:
            raise ValueError("an element needs `frontal:` (an image, with `views:`) or `video:`")
        if self.frontal is not None and self.video is not None:
            raise ValueError("an element is made from images (`frontal:`, `views:`) or from a `video:`, not both")
        if self.video is not None and self.views:
            raise ValueError("`views:` are other images of the character; an element made from a `video:` has none")
        return self
