"""The emulator's fault rules: what to do wrong, where, how often.

A rule is ``{"on": "submit"|"poll"|"download"|"upload", "kind": ...,
"times": N, "match": "text in the prompt"}`` with kinds 429, 500, 503,
``drop`` (close the connection without answering; on submit, after the task
was created), ``truncate`` (downloads), ``fail``, ``slow``, ``stall`` and
``short`` (submit: the task fails, takes ``seconds`` longer, exists while
its answer comes ``seconds`` late, or makes a clip ``seconds`` short). ``times`` -1 means every time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    on: str
    kind: str
    times: int = 1  # -1: every time
    match: str | None = None
    seconds: float = 5.0
    retry_after: float | None = None

    @classmethod
    def parse(cls, text: str) -> "Fault":
        """``on:kind[:times[:match]]``, e.g. ``submit:429:2`` or ``submit:fail:1:storm``."""
        parts = text.split(":", 3)
        if len(parts) < 2:
            raise ValueError(f"a fault is on:kind[:times[:match]], not {text!r}")
        times = int(parts[2]) if len(parts) > 2 and parts[2] else 1
        return cls(parts[0], parts[1], times, parts[3] if len(parts) > 3 else None)


@dataclass
class FaultRules:
    """The rules in force; each answer that uses one counts it down."""

    rules: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *faults: Fault) -> int:
        with self.lock:
            self.rules += faults
            return len(self.rules)

    def take(self, on: str, prompt: str = "") -> Fault | None:
        with self.lock:
            for fault in self.rules:
                if fault.on == on and fault.times != 0 and (fault.match is None or fault.match in prompt):
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None
