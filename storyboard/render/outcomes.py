"""What a render is asked for (``Options``) and what it reports (an ``Outcome``
per job, gathered in a ``Report``): the executor's inputs and outputs, shared
with ``run.py`` and the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..plan.types import Job
from ..store.cache import CachedClip


@dataclass
class Options:
    concurrency: int = 3
    rate: int = 5
    max_cost: Decimal | None = None
    keep_going: bool = False
    command: str = "storyboard render PATH"  # how the user runs this render again (for hints)
    budget_name: str = "--max-cost"  # where max_cost was set: the flag, or the storyboard's `max_cost:`


@dataclass
class Outcome:
    job: Job
    state: str  # cached | done | failed | skipped
    clip: CachedClip | None = None
    message: str = ""
    paid: Decimal = Decimal(0)  # spent in this run
    resumed: bool = False
    inputs: dict[str, str] = field(default_factory=dict)  # shot inputs made into files: what → digest


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    elements: list = field(default_factory=list)  # render/elements.py's ElementOutcome, one per element sent

    @property
    def spent(self) -> Decimal:
        return sum((o.paid for o in [*self.elements, *self.outcomes]), Decimal(0))

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.state == "failed"]
