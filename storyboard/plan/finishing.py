"""The plan's finishing types: cards (drawn at the cut, $0) and deliverables.

A card is a place in the cut like a shot's, but its clip is drawn locally
from what the card is made of (``CardPlan``), so its key is the digest of
that: the same card is drawn once and kept. A deliverable is another film
from the same storyboard: its own cut, and for ``render`` its own jobs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CARD_FORMAT = 1
TITLE_SHOT, CREDITS_SHOT = "[title]", "[credits]"  # brackets: no shot id can be spelt so


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CardPlan(_Frozen):
    """What a card is made of: all of it, and nothing else, is in its key."""

    kind: Literal["title", "credits"]
    lines: list[str] = Field(description="The title and subtitle, or the credits' lines.")
    background: str = Field(description="The background colour, #rrggbb.")
    color: str = Field(description="The text colour, #rrggbb.")
    image: str | None = Field(default=None, description="A background image, relative to the project.")
    image_digest: str | None = Field(default=None, description="sha256 of the background image's bytes.")
    rolling: bool = Field(default=False, description="The lines scroll up (credits).")


def card_key(card: CardPlan, seconds: float) -> str:
    """The card's key: what it is made of (the image by its bytes, not its path) and its length."""
    body: dict[str, Any] = {"card": CARD_FORMAT, **card.model_dump(mode="json", exclude={"image"}), "seconds": seconds}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def ratio_of(text: str) -> tuple[int, int]:
    width, height = text.split(":")
    return int(width), int(height)


def without_unused(data: dict) -> dict:
    """A plan's JSON without `card: null` on every shot and `deliverables: []`: what it was before they existed."""
    for cut in [data.get("cut") or {}, *((d.get("cut") or {}) for d in data.get("deliverables") or [])]:
        for shot in cut.get("shots") or []:
            if shot.get("card", 0) is None:
                del shot["card"]
    if data.get("deliverables", 0) == []:
        del data["deliverables"]
    return data
