"""Plan-to-plan differences, Terraform-style, with what re-rendering costs.

A shot whose job key changed must be re-rendered (and paid for); a shot whose
key is the same but whose place in the cut changed (its transition, its
sound, its position) is "re-cut only, $0.000". Pure: two plans in, a ``PlanDiff``
out; ``diffout`` prints it three ways.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..plan.deliverables import film_jobs
from ..plan.graph import dependency_label, is_dependency
from ..plan.types import CutShot, Job, Plan
from ..plan.prices import dollars
from . import finishing_diff
from .words import in_context, outer_spaces, word_diff

ADDED, REMOVED, CHANGED, RECUT, UNCHANGED = "added", "removed", "changed", "re-cut only", "unchanged"


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any
    note: str = ""  # "bytes": the same file with other bytes; "plain": values shown as they are

    @property
    def prose(self) -> bool:
        """Text a person wrote (a prompt): shown word by word, never cut short."""
        if self.note or not (isinstance(self.before, str) and isinstance(self.after, str)):
            return False
        return "prompt" in self.field or max(len(self.before), len(self.after)) > _SHORT

    def spans(self) -> list[tuple[str, str]]:
        """The change as ``(style, text)`` pieces: style ``del``/``ins`` for words removed/added, else ``""``."""
        if not self.prose:
            return [("", self.text())]
        pieces = in_context(word_diff(self.before, self.after))
        return [("", f"{self.field}: ")] + [({"-": "del", "+": "ins"}.get(op, ""), text) for op, text in pieces]

    def text(self) -> str:
        if self.note == "upstream":
            return f"because {', '.join(s if s.startswith('element ') else f'`{s}`' for s in self.after)} changed"
        if self.note == "bytes":
            return f"{self.field}: {self.after} (bytes changed)"
        if self.note == "plain":
            return f"{self.field}: {self.before} → {self.after}"
        if self.prose:
            return "".join(_marked(style, text, "[-", "-]", "{+", "+}") for style, text in self.spans())
        return f"{self.field}: {_show(self.before)} → {_show(self.after)}"

    def markdown(self) -> str:
        """The change for a Markdown cell: removed words struck through, added words bold."""
        if not self.prose:
            return _cell(self.text())
        return "".join(_marked(style, _md_escape(text), "~~", "~~", "**", "**") for style, text in self.spans())


def _marked(style: str, text: str, del_open: str, del_close: str, ins_open: str, ins_close: str) -> str:
    """Words between markers, their outer spaces outside (Markdown needs it)."""
    if style not in ("del", "ins"):
        return text
    lead, words, trail = outer_spaces(text)
    opening, closing = (del_open, del_close) if style == "del" else (ins_open, ins_close)
    return f"{lead}{opening}{words}{closing}{trail}" if words.strip() else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_~\[\]<>|])", r"\\\1", text.replace("\n", " "))


@dataclass
class ShotDiff:
    shot: str
    status: str
    old_key: str | None = None
    new_key: str | None = None
    changes: list[Change] = field(default_factory=list)
    cost: Decimal = Decimal(0)  # what the change costs: re-rendering it, at list price
    old_cost: Decimal = Decimal(0)
    new_cost: Decimal = Decimal(0)
    paid: bool = False  # its new job is in the lock already: the change is paid for, nothing is owed
    unpriced: bool = False  # its new job has no price (fal's O3 Pro refs): `cost` is not known, never $0

    @property
    def owed(self) -> Decimal:
        """What is still to pay for it: the change's cost, unless the lock holds its new clip."""
        return Decimal(0) if self.paid or self.status not in (ADDED, CHANGED) else self.cost

    @property
    def reason(self) -> str:
        what = "element" if self.shot.startswith("element:") else "shot"
        if self.status == ADDED:
            return f"new {what}"
        if self.status == REMOVED:
            return f"{what} removed"
        return "; ".join(c.text() for c in self.changes) or "no change"

    def reason_markdown(self) -> str:
        if self.status in (ADDED, REMOVED) or not self.changes:
            return _cell(self.reason)
        return "; ".join(c.markdown() for c in self.changes)


@dataclass(frozen=True)
class PaidTake:
    """A clip the lock gained between the two sides: money spent, on the film or exploring."""

    shot: str
    take: int
    cost: Decimal | None
    in_film: bool

    @property
    def label(self) -> str:
        return self.shot if self.shot.startswith("element:") else f"{self.shot}#{self.take}"


@dataclass
class PlanDiff:
    shots: list[ShotDiff]
    film: list[Change]
    old_total: Decimal
    new_total: Decimal
    title: str = ""  # the film's title (the new side's, else the old side's)
    length: tuple[float, float] | None = None  # the film's length before and after, when it changed
    paid: list[PaidTake] = field(default_factory=list)  # takes added to the lock
    new_unpriced: int = 0  # the new side's jobs whose cost is unknown (its total leaves them out)

    @property
    def paid_cost(self) -> Decimal:
        return sum((t.cost for t in self.paid if t.cost is not None), Decimal(0))

    def paid_text(self) -> str:
        if not self.paid:
            return ""
        made = sum(1 for t in self.paid if t.shot.startswith("element:"))
        n = len(self.paid) - made
        what = " and ".join(([f"{n} take{'s' if n != 1 else ''}"] if n else [])
                            + ([f"{made} element{'s' if made != 1 else ''}"] if made else []))
        return (f"Paid for since the old side: {what} added to the lock, "
                f"{money(self.paid_cost)} (spent, not owed).")

    def length_text(self) -> str:
        return f"Film length: {self.length[0]:g} s → {self.length[1]:g} s." if self.length else ""

    def count(self, status: str) -> int:
        return sum(1 for s in self.shots if s.status == status)

    @property
    def rerender_cost(self) -> Decimal:
        return sum((s.cost for s in self.shots), Decimal(0))

    @property
    def owed(self) -> Decimal:
        """What is still to pay: the changes whose new clip the lock does not hold."""
        return sum((s.owed for s in self.shots), Decimal(0))

    @property
    def unpriced(self) -> int:
        """How many changes have a cost nobody knows: the sums above leave them out."""
        return sum(1 for s in self.shots if s.unpriced and s.status in (ADDED, CHANGED) and not s.paid)

    @property
    def needs_render(self) -> bool:
        return any(s.status in (ADDED, CHANGED) and not s.paid for s in self.shots)

    @property
    def recut(self) -> int:
        return self.count(RECUT) + (1 if self.film else 0)

    def summary(self) -> str:
        text = (f"Plan: {self.count(ADDED)} to add, {self.count(CHANGED)} to change, {self.count(REMOVED)} to remove. "
                f"Re-render cost {money(self.rerender_cost)}{self._more()}; to pay now {money(self.owed)}{self._more()}; "
                f"film total {money(self.old_total)} → {money(self.new_total)}"
                + (f" (+ {self.new_unpriced} unpriced)." if self.new_unpriced else "."))
        if self.recut:
            text += f" {self.recut} re-cut only."
        if self.paid:
            text += " " + self.paid_text()
        return text


    def _more(self) -> str:
        return f" (+ {self.unpriced} unpriced)" if self.unpriced else ""


def money(amount: Decimal | None) -> str:
    """Dollars as everything else prints them (``plan.prices.dollars``): $1.680, $0.000."""
    return dollars(amount)


_SHORT = 70  # a longer value would be cut short: shown word by word instead


def _show(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= _SHORT else value[:_SHORT - 3] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, default=str)


def _media_name(job: Job, value: Any) -> Any:
    """A request value with local media named by path (and digest) instead of digest alone."""
    if isinstance(value, list):
        return [_media_name(job, v) for v in value]
    if is_dependency(value):
        return dependency_label(value)
    if _is_element(value):
        return f"element {value['element']}"
    if isinstance(value, dict) and isinstance(value.get("inline"), str):  # an element given inline (fal)
        files = [value.get("frontal_image"), *(value.get("refer_images") or [])]
        return f"element {value['inline']} ({', '.join(str(_media_name(job, f)) for f in files)})"
    if isinstance(value, str) and value.startswith("sha256:"):
        return f"{job.media.get(value, '?')} ({value[7:19]})"
    return value


def host_change(old: tuple[str, str], new: tuple[str, str]) -> list[Change]:
    """The host a job goes to (its provider and API origin, ``Plan.host``: part of every key), when it changed."""
    if old == new:
        return []
    return [Change("host", f"{old[0]} ({old[1]})", f"{new[0]} ({new[1]})", "plain")]


def request_changes(old: Job, new: Job) -> list[Change]:
    changes = []
    if old.model != new.model:
        changes.append(Change("model", old.model, new.model))
    upstream: list[str] = []
    for name in sorted(set(old.request) | set(new.request)):
        before, after = old.request.get(name), new.request.get(name)
        if before == after:
            continue
        if _without_keys(before) == _without_keys(after):  # the same shot's output, and that shot changed
            upstream += [s for s in _changed_upstream(before, after) if s not in upstream]
            continue
        changes.append(Change(name, _media_name(old, before), _media_name(new, after)))
    changes = [_bytes_note(c) for c in changes]
    if upstream:
        changes.append(Change("upstream", [], upstream, "upstream"))
    return changes


def _without_keys(value: Any) -> Any:
    if isinstance(value, list):
        return [_without_keys(v) for v in value]
    if is_dependency(value) or _is_element(value):
        return {k: v for k, v in value.items() if k != "key"}
    return value


def _is_element(value: Any) -> bool:
    """A declared element in a shot's ``element_list``: ``{"element": KEY, "key": …}``."""
    return isinstance(value, dict) and isinstance(value.get("element"), str)


def _changed_upstream(before: Any, after: Any) -> list[str]:
    pairs = list(zip(before, after)) if isinstance(before, list) and isinstance(after, list) else [(before, after)]
    out = [a["shot"] for b, a in pairs if is_dependency(a) and is_dependency(b) and b.get("key") != a.get("key")]
    return out + [f"element `{a['element']}`" for b, a in pairs  # "because element `mara` changed"
                  if _is_element(a) and _is_element(b) and b.get("key") != a.get("key")]


def _bytes_note(change: Change) -> Change:
    """Same path, other digest: say so in words."""
    def path(v):
        return v.split(" (", 1)[0] if isinstance(v, str) else v

    before, after = change.before, change.after
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        same = all(path(b) == path(a) for b, a in zip(before, after))
        if same:
            changed = [path(a) for b, a in zip(before, after) if b != a]
            return Change(change.field, ", ".join(changed), ", ".join(changed), "bytes")
    if isinstance(before, str) and isinstance(after, str) and path(before) == path(after) and before != after:
        return Change(change.field, path(before), path(after), "bytes")
    return change


def _transition(cs: CutShot) -> str:
    t = cs.transition
    return "cut" if t.type == "cut" else f"{t.type} {t.duration:g} s"


def cut_changes(old: CutShot, new: CutShot, old_pos: int, new_pos: int) -> list[Change]:
    changes = []
    if _transition(old) != _transition(new):
        changes.append(Change("transition", _transition(old), _transition(new)))
    if old.mute != new.mute:
        changes.append(Change("mute", old.mute, new.mute))
    if old_pos != new_pos:
        changes.append(Change("position", old_pos + 1, new_pos + 1))
    return changes


def film_changes(old: Plan, new: Plan) -> list[Change]:
    """The film's own fields, setting by setting (``cut.music.volume: 0.3 → 0.5``), and its length."""
    changes = []
    if old.title != new.title:
        changes.append(Change("title", old.title, new.title))
    before = old.cut.model_dump(mode="json", exclude={"shots", "duration"})
    after = new.cut.model_dump(mode="json", exclude={"shots", "duration"})
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        if isinstance(b, dict) and isinstance(a, dict):
            changes += _section_changes(f"cut.{key}", b, a)
        else:  # a whole section added or removed (music): name it by its file
            changes.append(Change(f"cut.{key}", _named(b), _named(a)))
    changes += _section_changes("cut.cards", finishing_diff.cards(old), finishing_diff.cards(new))
    return changes + _section_changes("deliverables", finishing_diff.deliverables(old), finishing_diff.deliverables(new))


def _named(value: Any) -> Any:
    return value.get("file", value) if isinstance(value, dict) else value


def _section_changes(prefix: str, before: dict, after: dict) -> list[Change]:
    b, a = _flat(before, prefix), _flat(after, prefix)
    changes = [Change(name, b.get(name), a.get(name)) for name in sorted(set(b) | set(a))
               if b.get(name) != a.get(name) and not name.endswith(".digest")]
    digest, file = f"{prefix}.digest", f"{prefix}.file"
    if b.get(digest) and a.get(digest) and b[digest] != a[digest] and b.get(file) == a.get(file):
        changes.append(Change(file, b.get(file), a.get(file), "bytes"))
    return changes


def _flat(data: dict, prefix: str) -> dict[str, Any]:
    """Nested settings as dotted names; a section that is absent is one ``(none)`` value."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, name))
        else:
            out[name] = value
    return out


def element_diffs(old: Plan, new: Plan) -> list[ShotDiff]:
    """The declared elements, before the shots, like shots: ``element:KEY`` added, changed (what in it), removed."""
    olds = {e.label: e for e in old.elements}
    out = []
    for e in new.elements:
        before, cost = olds.get(e.label), e.cost or Decimal(0)
        if before is None:
            out.append(ShotDiff(e.label, ADDED, None, e.key, [], cost, Decimal(0), cost))
        elif before.key != e.key:
            changes = request_changes(before, e) or [Change("element", "(provider or origin)", "(changed)")]
            out.append(ShotDiff(e.label, CHANGED, before.key, e.key, changes, cost, before.cost or Decimal(0), cost))
    news = {e.label for e in new.elements}
    out += [ShotDiff(e.label, REMOVED, e.key, None, [], Decimal(0), e.cost or Decimal(0), Decimal(0))
            for e in old.elements if e.label not in news]
    return out


def diff_plans(old: Plan, new: Plan, paid: frozenset[str] = frozenset(),
               added: list[PaidTake] | None = None) -> PlanDiff:
    """``paid``: the job keys the new side's lock has paid for (a change of
    take to one of them is re-cut only); ``added``: the takes its lock gained."""
    old_list, new_list = film_jobs(old), film_jobs(new)  # a rendered deliverable's jobs are SHOT@NAME
    old_jobs = {j.shot: j for j in old_list}
    new_jobs = {j.shot: j for j in new_list}
    old_cut = {c.shot: (i, c) for i, c in enumerate(old.cut.shots)}
    new_cut = {c.shot: (i, c) for i, c in enumerate(new.cut.shots)}
    # Positions among the shots both sides have, so adding one does not "move" the rest.
    common = [s for s in (c.shot for c in new.cut.shots) if s in old_cut]
    old_order = {s: i for i, s in enumerate(sorted(common, key=lambda s: old_cut[s][0]))}
    new_order = {s: i for i, s in enumerate(common)}
    shots = element_diffs(old, new)
    for job in new_list:
        before = old_jobs.get(job.shot)
        cost = job.cost or Decimal(0)
        if before is None:
            shots.append(ShotDiff(job.shot, ADDED, None, job.key, [], cost, Decimal(0), cost, job.key in paid,
                                  job.cost is None))
            continue
        d = ShotDiff(job.shot, UNCHANGED, before.key, job.key, old_cost=before.cost or Decimal(0), new_cost=cost)
        if before.key != job.key:
            d.status, d.cost = CHANGED, cost
            d.changes = host_change(old.host(before), new.host(job)) + request_changes(before, job)
            if before.take != job.take:
                d.changes.append(Change("take", before.take, job.take, "plain"))
                if len(d.changes) == 1 and job.key in paid:  # a take already paid for: choosing it costs nothing
                    d.status, d.cost = RECUT, Decimal(0)
            if not d.changes:
                d.changes = [Change("job", "(provider or origin)", "(changed)")]
            d.paid = job.key in paid
        if job.shot in old_cut and job.shot in new_cut:
            recut = cut_changes(old_cut[job.shot][1], new_cut[job.shot][1], old_order[job.shot], new_order[job.shot])
            d.changes += recut
            if recut and d.status == UNCHANGED:
                d.status = RECUT
        d.unpriced = job.cost is None and d.status in (ADDED, CHANGED)
        shots.append(d)
    for job in old_list:
        if job.shot not in new_jobs:
            shots.append(ShotDiff(job.shot, REMOVED, job.key, None, [], Decimal(0), job.cost or Decimal(0), Decimal(0)))
    length = (old.cut.duration, new.cut.duration) if old.cut.duration != new.cut.duration else None
    return PlanDiff(shots, film_changes(old, new), old.total_cost, new.total_cost, new.title or old.title or "", length,
                    list(added or []), len(new.unpriced))
