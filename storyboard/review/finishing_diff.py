"""What `diff` compares of cards and deliverables: each as nested settings, by kind or by name."""

from __future__ import annotations

from typing import Any

from ..plan.types import Plan


def cards(plan: Plan) -> dict[str, Any]:
    """Each card by kind: what it is made of and its length."""
    return {cs.card.kind: {**cs.card.model_dump(mode="json", exclude={"image_digest"}), "seconds": cs.duration}
            for cs in plan.cut.shots if cs.card is not None}


def deliverables(plan: Plan) -> dict[str, Any]:
    """Each deliverable by name: its ratio, output, method, size, focus and cost."""
    return {d.name: {"aspect_ratio": d.aspect_ratio, "output": d.output, "method": d.method,
                     "resolution": d.resolution, "focus": d.focus or None, "cost": str(d.cost)}
            for d in plan.deliverables}
