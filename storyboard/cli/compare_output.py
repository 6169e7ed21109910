"""``plan --compare`` as people read it (a table) and as JSON."""

from __future__ import annotations

import json

from ..errors import printable
from ..plan.compare import Comparison, HostCosts
from ..plan.prices import dollars, fixed, fixed_or_none


def comparison_json(c: Comparison) -> str:
    """``{"storyboard", "chosen", "hosts": [...], "shots": [...], "cheapest": [...]}``; money as strings."""
    hosts = [{"provider": h.provider, "origin": h.origin, "total": fixed(h.total), "complete": h.complete,
              "unpriced": h.unpriced, "cannot": sorted(h.cannot),
              "price_list": h.price_list.model_dump(mode="json")} for h in c.hosts]
    shots = [{"shot": shot, "costs": {h.provider: fixed_or_none(h.cost(shot)) for h in c.hosts},
              "cheapest": c.cheapest(shot),
              "cannot": {h.provider: [_problem(d) for d in h.cannot[shot]] for h in c.hosts if shot in h.cannot}}
             for shot in c.shots]
    data = {"storyboard": c.file, "chosen": c.chosen, "hosts": hosts, "shots": shots,
            "cheapest": c.cheapest_total()}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _problem(d) -> dict:
    return {"file": d.file, "line": d.line, "column": d.column, "path": d.path, "message": d.message}


def comparison_text(c: Comparison) -> str:
    """A table: a row per shot and a total, a column per host, ``*`` on the cheapest; then what each cannot do."""
    header = ["shot"] + [h.name + (" (chosen)" if h.provider == c.chosen else "") for h in c.hosts]
    rows = [header]
    for shot in c.shots:
        cheapest = c.cheapest(shot)
        rows.append([printable(shot, lines=False)] + [_cell(h, shot, cheapest) for h in c.hosts])
    total = c.cheapest_total()
    rows.append(["total"] + [_total(h, total) for h in c.hosts])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.append("* the cheapest. " + "; ".join(
        f"{h.name}: {h.price_list.name} as of {h.price_list.as_of} ({h.price_list.source})" for h in c.hosts))
    for h in c.hosts:
        for shot in c.shots:
            for d in h.cannot.get(shot, []):
                lines.append(f"{h.name} cannot render `{printable(shot, lines=False)}`: {d.format()}")
    return "\n".join(lines) + "\n"


def _cell(h: HostCosts, shot: str, cheapest: list[str]) -> str:
    if shot in h.cannot:
        return "cannot render"
    return dollars(h.cost(shot)) + (" *" if h.provider in cheapest else "")


def _total(h: HostCosts, cheapest: list[str]) -> str:
    text = dollars(h.total) + (" *" if h.provider in cheapest else "")
    missing = [f"{len(h.unpriced)} unpriced"] if h.unpriced else []
    missing += [f"{len(h.cannot)} cannot render"] if h.cannot else []
    return text + (f" (+ {', '.join(missing)})" if missing else "")
