"""Rules beyond areas: emergency squawks and a watch list, run inside the engine.

Each rule has the engine's `Rules` shape (skyfence.engine.engine): `batch` adds events from a
batch of state vectors, `admit` may mark or drop the events leaving the engine. `RuleSet` runs
several in order. Being inside the engine, they raise the same events in an audit, a watch
replay and the API.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from skyfence.engine.engine import Rules
from skyfence.engine.events import Event
from skyfence.rules.squawk import EmergencySquawks
from skyfence.schema import StateVectors


class RuleSet:
    def __init__(self, rules: list[Rules]) -> None:
        self.rules = rules

    def batch(self, sv: StateVectors, t_fix: npt.NDArray[np.float64]) -> list[Event]:
        return [event for rule in self.rules for event in rule.batch(sv, t_fix)]

    def admit(self, events: list[Event]) -> list[Event]:
        for rule in self.rules:
            events = rule.admit(events)
        return events


def squawk_rules(squawks: bool, forget_after_s: float) -> RuleSet | None:
    """The rules of an audit's engines that cannot be handed a built engine (a folder's worker
    processes, Spark's executors): built as `--squawks` builds them for files, so each path
    raises the same events."""
    return RuleSet([EmergencySquawks(forget_after_s=forget_after_s)]) if squawks else None
