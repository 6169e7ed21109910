"""The plan's cards and deliverables as people read them: $0 rows, one line per film."""

from __future__ import annotations

from ..plan.prices import dollars
from ..plan.types import Plan

CARD_NAMES = {"title": "title card", "credits": "end card"}


def card_rows(plan: Plan) -> list[list[str]]:
    """One row per title or end card: drawn locally at the cut, $0, in every film."""
    return [[CARD_NAMES[cs.card.kind], "drawn locally", f"{cs.duration:g} s", "-", "-", dollars(0), cs.key[:12]]
            for cs in plan.cut.shots if cs.card is not None]


def deliverable_lines(plan: Plan) -> list[str]:
    """The master, then each deliverable: its ratio, how it is made, where it goes and what it costs."""
    if not plan.deliverables:
        return []
    master = next((d for d in plan.deliverables if d.method == "master"), None)
    lines = [f"Films: {master.name if master else 'master'}"
             + (f" ({master.aspect_ratio})" if master else "") + f" → {plan.cut.output}"]
    for d in plan.deliverables:
        if d.method == "master":
            continue
        how = ("cropped from the master's clips" if d.method == "reframe"
               else f"{len(d.jobs)} job{'s' if len(d.jobs) != 1 else ''} rendered again at {d.aspect_ratio}")
        unpriced = sum(1 for j in d.jobs if j.cost is None)  # an unknown cost is never shown as $0
        cost = dollars(d.cost) if not unpriced else (
            "unpriced" if unpriced == len(d.jobs) else f"{dollars(d.cost)} and {unpriced} unpriced")
        lines.append(f"  {d.name} ({d.aspect_ratio}, {d.method}) → {d.output}: {how}, {cost}")
    return lines


def print_deliverables(con, plan: Plan) -> None:
    for line in deliverable_lines(plan):
        con.print(line, markup=False)


def deliverable_option(p) -> None:
    p.add_argument("--deliverable", metavar="NAME",
                   help="make only this film: `master` (cut.output) or a name under `deliverables:`")
