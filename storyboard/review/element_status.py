"""Kling elements in ``status``: each declared element a shot sends, like a shot.

``created`` (an element with this key is in a lock of the folder: its id is
shown), ``in flight`` (journalled here, not collected yet), ``new`` or
``changed`` (to make, at a cost). An element belongs to the account and API
origin that made it: one made at another origin is no use to this one, and
the reason says so. No API key and no request to the provider. (``status``
wraps these rows; the states are its words.)
"""

from __future__ import annotations

from decimal import Decimal

from ..plan.types import Plan
from ..render.element_lock import ElementEntry
from ..render.journal import Journal
from ..render.lock import Lock

CREATED = "created"
DRAWN = "drawn"  # as a title card is: made locally, for nothing


def element_rows(plan: Plan, lock: Lock, paid: dict[str, ElementEntry], journal: Journal) -> list[tuple]:
    """(label, state, cost, key, reason) for each element job of the plan, named ``element:KEY``."""
    rows = []
    for job in plan.elements:
        entry, reason, cost = paid.get(job.key), "", job.cost
        if plan.provider == "preview":  # never made: the preview draws its frontal image on the shots' cards
            state, cost, reason = DRAWN, Decimal(0), "drawn on the preview's cards"
        elif entry is not None:
            state, cost, reason = CREATED, Decimal(0), f"element {entry.element_id}"
        elif journal.get(job.key) is not None:
            state, cost = "in flight", Decimal(0)
        else:
            old = lock.elements.get(job.character)
            state = "new" if old is None else "changed"
            if old is not None and old.origin != plan.origin:
                reason = (f"an element belongs to the API that made it: made at {old.origin}, this render goes to "
                          f"{plan.origin} (WAVESPEED_BASE_URL) and makes its own")
        rows.append((job.label, state, cost, job.key, reason))
    return rows


def element_reason(request: dict, paid: dict[str, ElementEntry]) -> str:
    """Why a changed shot changed when the storyboard's own words did not: an element it sends was remade."""
    changed = [item["element"] for item in request.get("element_list") or []
               if isinstance(item, dict) and "element" in item and item.get("key") not in paid]
    return f"because {', '.join(f'element `{c}`' for c in changed)} changed" if changed else ""
