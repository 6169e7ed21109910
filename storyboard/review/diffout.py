"""A ``PlanDiff`` printed three ways: text (with styles a terminal colours),
Markdown for a pull request, JSON for tools. Money as ``dollars`` prints it,
and in JSON as fixed-precision strings."""

from __future__ import annotations

import json
from decimal import Decimal

from ..plan.prices import fixed, fixed_or_none
from .diff import ADDED, CHANGED, RECUT, REMOVED, UNCHANGED, Change, PlanDiff, _cell, _marked, money
from .words import word_diff

_SIGN = {ADDED: "+", REMOVED: "-", CHANGED: "~", RECUT: "~"}


Line = list[tuple[str, str]]  # (style, text) pieces; styles: add, remove, change, del, ins, "" (plain)


def _what(name: str) -> str:
    """``shot opening``, or ``element mara`` for a Kling element (named ``element:mara`` in the plan)."""
    return f"element {name.split(':', 1)[1]}" if name.startswith("element:") else f"shot {name}"


def as_lines(d: PlanDiff) -> list[Line]:
    """The text diff as styled pieces, for a terminal to colour (``+`` green, ``-`` red, ``~`` yellow)."""
    lines: list[Line] = []
    for s in d.shots:
        if s.status == UNCHANGED:
            continue
        what = _what(s.shot)
        if s.status == ADDED:
            lines.append([("add", f"+ {what}: " + _owed(s, "to render", "rendered"))])
        elif s.status == REMOVED:
            lines.append([("remove", f"- {what}: removed")])
        elif s.status == CHANGED:
            lines.append([("change", f"~ {what}: " + _owed(s, "to re-render", "re-rendered"))])
        else:
            lines.append([("change", f"~ {what}: re-cut only, {money(Decimal(0))}")])
        lines += [_change_line(c) for c in s.changes]
    if d.film:
        lines.append([("change", f"~ film: re-cut only, {money(Decimal(0))}")])
        lines += [_change_line(c) for c in d.film]
    lines += [[("add", f"+ {'' if t.shot.startswith('element:') else 'take '}{t.label}: paid {money(t.cost)}, {'in the film' if t.in_film else 'not in the film'}")]
              for t in d.paid]
    if not lines:
        lines.append([("", "No changes.")])
    if d.length:
        lines.append([("", d.length_text())])
    return lines + [[], [("", d.summary())]]


def _owed(s, verb: str, done: str) -> str:
    """``to re-render, $0.560 to pay``, or, when the lock holds the new clip, ``re-rendered, paid
    $0.560 already: nothing to pay``: the change's cost is never mistaken for money owed."""
    if s.paid:
        return f"{done}, paid {'an unknown amount' if s.unpriced else money(s.cost)} already: nothing to pay"
    return f"{verb}, {'unpriced: an unknown amount' if s.unpriced else money(s.cost)} to pay"


def _price(s) -> str:
    return "unpriced" if s.unpriced else money(s.cost)


def _change_line(c: Change) -> Line:
    if not c.prose:
        return [("change", "    ~ "), ("", c.text())]
    return [("change", "    ~ ")] + [(style, _marked(style, text.replace("\n", " "), "[-", "-]", "{+", "+}"))
                                     for style, text in c.spans()]


def as_text(d: PlanDiff) -> str:
    return "".join("".join(text for _, text in line) + "\n" for line in as_lines(d))


def as_markdown(d: PlanDiff, path: str = "") -> str:
    name = d.title or "Storyboard plan"
    head = f"### {name}" + (f" (`{path}`)" if path else "") + "\n\n"
    rows = ["| | shot | change | reason | cost | to pay |", "|---|---|---|---|---|---|"]
    zero = money(Decimal(0))
    for s in d.shots:
        if s.status == UNCHANGED:
            continue
        change = {ADDED: "add", REMOVED: "remove", CHANGED: "re-render", RECUT: "re-cut only"}[s.status]
        cost = (_price(s) if s.status in (ADDED, CHANGED) else zero)
        cost += " (paid already)" if s.paid and s.status in (ADDED, CHANGED) else ""
        rows.append(f"| {_SIGN[s.status]} | `{_cell(s.shot)}` | {change} | {s.reason_markdown()} | {cost} "
                    f"| {'unknown' if s.unpriced and not s.paid else money(s.owed)} |")
    if d.film:
        rows.append(f"| ~ | *(film)* | re-cut only | {'; '.join(c.markdown() for c in d.film)} | {zero} | {zero} |")
    for t in d.paid:
        where = "in the film" if t.in_film else "not in the film"
        rows.append(f"| + | `{_cell(t.label)}` | {'element made' if t.shot.startswith('element:') else 'take paid for'} | added to the lock, {where} | {money(t.cost)} spent "
                    f"| {zero} |")
    table = "\n".join(rows) + "\n\n" if len(rows) > 2 else "No changes to the film.\n\n"
    length = f"{d.length_text()}\n\n" if d.length else ""
    return head + table + length + f"**{d.summary()}**\n"


def _change_json(c: Change) -> dict:
    if c.note == "upstream":
        return {"field": "upstream", "because": list(c.after), "text": c.text()}
    if c.note == "bytes":
        return {"field": c.field, "before": c.before, "after": f"{c.after} (bytes changed)", "bytes_changed": True}
    data = {"field": c.field, "before": c.before, "after": c.after}
    if c.prose:  # the whole old and new text above; the words that changed here
        data["words"] = [{"op": op, "text": text} for op, text in word_diff(c.before, c.after)]
    return data


def as_json(d: PlanDiff) -> str:
    data = {
        "summary": {"add": d.count(ADDED), "change": d.count(CHANGED), "remove": d.count(REMOVED),
                    "recut_only": d.recut, "rerender_cost": fixed(d.rerender_cost), "to_pay": fixed(d.owed),
                    "unpriced": d.unpriced,
                    "old_total": fixed(d.old_total), "new_total": fixed(d.new_total),
                    "paid_takes": len(d.paid), "paid_cost": fixed(d.paid_cost), "text": d.summary()},
        "shots": [
            {"shot": s.shot, "status": s.status, "old_key": s.old_key, "new_key": s.new_key,
             "changes": [_change_json(c) for c in s.changes],
             "cost": None if s.unpriced else fixed(s.cost), "paid": s.paid,
             "to_pay": None if s.unpriced and not s.paid else fixed(s.owed),
             "cost_delta": None if s.unpriced else fixed(s.new_cost - s.old_cost)}
            for s in d.shots
        ],
        "film": [_change_json(c) for c in d.film],
        "length": {"before": d.length[0], "after": d.length[1]} if d.length else None,
        "paid": [{"shot": t.shot, "take": t.take, "cost": fixed_or_none(t.cost),
                  "in_film": t.in_film} for t in d.paid],
    }
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
