"""Every film of the storyboard: the master, then each deliverable.

``render`` deliverables are cut from their own clips, like the master;
``reframe`` ones from the master's clips, cropped (``reframe``). Cards are
drawn for each film's own frame.
"""

from __future__ import annotations

from pathlib import Path

from ..plan.deliverables import MASTER, chosen_film
from ..plan.types import DeliverablePlan, Plan
from ..store.cache import ClipCache
from .reframe import reframer
from .stitch import stitch


def deliverable_plan(plan: Plan, d: DeliverablePlan) -> Plan:
    """``plan`` as the cut of ``d`` sees it: its cut, its jobs as the film's."""
    return plan.model_copy(update={"cut": d.cut, "deliverables": []})


def stitch_film(plan: Plan, d: DeliverablePlan | None, root: Path, cache: ClipCache, *, storyboard: str,
                engine: str = "ffmpeg", output: Path | None = None, otio: Path | None = None) -> Path:
    """Cut one film: the master (``d`` None) or a deliverable."""
    if d is None:
        return stitch(plan, root, cache, storyboard=storyboard, engine=engine, output=output, otio=otio)
    hook = reframer(d, plan.cut, cache) if d.method == "reframe" else None
    return stitch(deliverable_plan(plan, d), root, cache, storyboard=storyboard, engine=engine, output=output,
                  otio=otio, reframe=hook)


def stitch_all(plan: Plan, root: Path, cache: ClipCache, *, storyboard: str, engine: str = "ffmpeg",
               only: str | None = None) -> list[tuple[str, Path]]:
    """Every film (or the one ``only`` names), each at its own output: (name, path)."""
    return [(MASTER if d is None else d.name,
             stitch_film(plan, d, root, cache, storyboard=storyboard, engine=engine)) for d in chosen_film(plan, only)]
