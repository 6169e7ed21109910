"""``plan --compare``: what each shot of a storyboard costs on each host the
catalog knows, and what each host cannot render.

The storyboard is compiled once per host, each with its own catalog, origin
and price list (the host the storyboard or ``--provider`` chooses keeps the
chosen price list; the others use their built-in ones). A problem that every
host reports is the storyboard's own and is raised as usual; a problem only
some hosts report is what those hosts cannot render, kept with its position.
Totals are the sums of the per-shot costs shown; a shot a host cannot render
or cannot price adds nothing to that host's total and is listed instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

from ..catalog import HOSTS, load_catalog
from ..errors import Diagnostic, InvalidStoryboard
from ..format.load import read_document
from ..format.media import MediaIndex
from ..format.references import resolve_media
from ..format.source import Reporter
from .compile import Target, compile_plan
from .hosts import host_name
from .inline import is_inline
from .prices import BUILTIN, builtin_prices, exact
from .project import _split, find_storyboard, load_storyboard, resolve_prices
from .types import PriceListRef, base_url_from, provider_origin


@dataclass
class HostCosts:
    """One host's side of the comparison."""

    provider: str
    origin: str
    price_list: PriceListRef
    costs: dict[str, Decimal | None] = field(default_factory=dict)  # shot → cost; None: unpriced
    cannot: dict[str, list[Diagnostic]] = field(default_factory=dict)  # shot → why this host cannot render it

    @property
    def name(self) -> str:
        return host_name(self.provider)

    @property
    def total(self) -> Decimal:
        return exact(sum((c for s, c in self.costs.items() if c is not None and s not in self.cannot), Decimal(0)))

    @property
    def unpriced(self) -> list[str]:
        return [s for s, c in self.costs.items() if c is None and s not in self.cannot]

    @property
    def complete(self) -> bool:
        """Every shot renders here at a known price: its total is the film's cost here."""
        return not self.cannot and not self.unpriced

    def cost(self, shot: str) -> Decimal | None:
        return None if shot in self.cannot else self.costs.get(shot)


@dataclass
class Comparison:
    file: str
    chosen: str  # the host the storyboard (or --provider) renders on
    shots: list[str]
    hosts: list[HostCosts]

    def cheapest(self, shot: str) -> list[str]:
        """The hosts that render ``shot`` at the lowest known price (ties: all of them)."""
        priced = {h.provider: h.cost(shot) for h in self.hosts if h.cost(shot) is not None}
        low = min(priced.values(), default=None)
        return [p for p, c in priced.items() if c == low] if low is not None else []

    def cheapest_total(self) -> list[str]:
        """The hosts whose total is lowest among those that render every shot at a known price."""
        totals = {h.provider: h.total for h in self.hosts if h.complete}
        low = min(totals.values(), default=None)
        return [p for p, t in totals.items() if t == low] if low is not None else []


def compare_hosts(arg: str, *, provider: str | None = None, prices: str | None = None, base_url: str | None = None,
                  env: Mapping[str, str] | None = None, display: str | None = None) -> Comparison:
    """Compile the storyboard at ``arg`` for every host; raise the problems every host has."""
    env = os.environ if env is None else env
    path, shown = find_storyboard(arg)
    doc = read_document(path, display or shown)
    sb, salvage = load_storyboard(doc)
    if sb is None or doc.reporter.has_errors:
        raise InvalidStoryboard(doc.reporter.diagnostics)
    root = path.resolve().parent
    index = MediaIndex(root)
    media = resolve_media(sb, root, index, doc.reporter)
    doc.reporter.raise_if_errors()
    chosen = provider if provider in HOSTS else sb.provider or "wavespeed"
    # Each column is the whole film on one host: a shot's own `provider:` does not hold here.
    sb = sb.model_copy(update={"shots": [s.model_copy(update={"provider": None}) for s in sb.shots]})
    sides, found = [], []
    for host in HOSTS:
        reporter = Reporter(doc.reporter.file, doc.reporter.source)
        if host == chosen:
            price_list, source = resolve_prices(sb, root, prices, reporter, host)
        else:
            price_list, source = builtin_prices(host), BUILTIN
        url = base_url if host == "wavespeed" and base_url else base_url_from(env, host)
        target = Target(host, provider_origin(host, url), price_list, source)
        plan = compile_plan(sb, storyboard_file=path.name, media=media, catalog=load_catalog(host), target=target,
                            reporter=reporter, skip_shots=salvage.shots, broken_characters=salvage.characters)
        again = {job.shot: job.cost for d in plan.deliverables for job in d.jobs}  # a rendered deliverable's
        side = HostCosts(host, target.origin, plan.price_list, {**element_costs(plan),
                                                                **{job.shot: job.cost for job in plan.jobs}, **again})
        sides.append(side)
        found.append([d for d in reporter.diagnostics if d.severity == "error"])
    index.save()
    _split_problems(sb, sides, found)
    elements = [f"element:{key}" for key in sb.characters if any(f"element:{key}" in side.costs for side in sides)]
    films = list(dict.fromkeys(s for side in sides for s in side.costs if "@" in s))  # SHOT@NAME, after the master
    return Comparison(doc.reporter.file, chosen, elements + [shot.id for shot in sb.shots] + films, sides)


def element_costs(plan) -> dict[str, Decimal | None]:
    """Each declared element's row: its job's cost where it is one (WaveSpeed), nothing where the shots
    send it inline (fal: no element job, the shots' prices are all)."""
    costs: dict[str, Decimal | None] = {e.label: e.cost for e in plan.elements}
    for job in plan.jobs:
        for item in job.request.get("element_list") or []:
            if is_inline(item):
                costs.setdefault(f"element:{item['inline']}", Decimal(0))
    return costs


def _split_problems(sb, sides: list[HostCosts], found: list[list[Diagnostic]]) -> None:
    """Problems on every host are raised; the rest are what a host cannot render, by shot."""
    common = set.intersection(*(set(errors) for errors in found)) if found else set()
    if common:
        raise InvalidStoryboard(sorted(common, key=lambda d: (d.line, d.column, d.message)))
    for side, errors in zip(sides, found):
        for d in errors:
            for shot in _shots_of(sb, d):  # and the shot's jobs in the rendered deliverables (SHOT@NAME)
                for row in [shot] + [s for s in side.costs if s.startswith(f"{shot}@")]:
                    side.cannot.setdefault(row, []).append(d)


def _shots_of(sb, d: Diagnostic) -> list[str]:
    """The shots a problem is in: its shot, or every shot with the character it is in, or every shot."""
    parts = _split(d.path)
    if len(parts) > 1 and parts[0] == "shots" and isinstance(parts[1], int) and parts[1] < len(sb.shots):
        return [sb.shots[parts[1]].id]
    if len(parts) > 1 and parts[0] == "characters":
        element = [f"element:{parts[1]}"] if len(parts) > 2 and parts[2] == "element" else []
        return element + [s.id for s in sb.shots if parts[1] in s.characters]
    return [s.id for s in sb.shots]
