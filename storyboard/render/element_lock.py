"""The lock's record of Kling elements: what was paid for and the id it made.

An element id belongs to the account and the API origin that made it, so an
entry keeps its origin (and its key covers it: a render against another
origin makes its own element). The id is kept as a string of digits exactly
as the provider sent it; it never passes through a float. Entries are typed
on the way in like every lock entry: a value that cannot be used is an error
naming the file and the entry.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import TASK_ID_PATTERN

ELEMENT_ID_PATTERN = r"^[0-9]{1,40}$"
_TEXT = r"^[^\x00-\x1f\x7f]*$"


class ElementEntry(BaseModel):
    """One element paid for: its key, task, id, cost, origin and when it was made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="The element's job key.")
    model: str = Field(pattern=_TEXT, max_length=200, description="The model that made it.")
    origin: str = Field(pattern=_TEXT, max_length=2000, description="The API origin (and so the account) it "
                        "belongs to.")
    task_id: str = Field(pattern=TASK_ID_PATTERN, description="The provider's task id.")
    element_id: str = Field(pattern=ELEMENT_ID_PATTERN, description="The element id, digits as the provider sent "
                            "them.")
    name: str = Field(default="", pattern=_TEXT, max_length=200, description="The element's name.")
    cost: Decimal | None = Field(ge=0, le=1_000_000, allow_inf_nan=False, description="What it cost, USD, exact.")
    completed_at: str | None = Field(default=None, max_length=64, description="When it was made (ISO 8601, UTC).")

    def completed(self) -> dt.datetime | None:
        """When it was made, in UTC (as ``LockEntry.completed``: `lock prune --older-than` reads it)."""
        try:
            when = dt.datetime.fromisoformat(self.completed_at) if self.completed_at else None
        except ValueError:
            return None
        return when if when is None or when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


class RetiredElement(ElementEntry):
    """An element no longer sent as it was (its character's files or name changed, or it went)."""

    character: str = Field(min_length=1, max_length=200, pattern=_TEXT, description="The character it was made "
                           "for.")


def element_id_of(value: object) -> str | None:
    """An element id from a provider's JSON: an integer (Python's json reads it exactly, never as a float) or a
    string of digits; None for anything else (a float may already have lost digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 40:
        return value
    return None
