"""How each state of an execution has fared as of one event, for colouring the graph.

A visit is one entry into a state in one frame (a Map iteration or Parallel branch is a frame
of its own, so iterations of one state are separate visits). Its outcome:
- running: entered, not exited, its last attempt has not failed;
- failed: its last attempt failed and it did not exit (or it is a Fail state);
- caught: its last attempt failed and it exited anyway (a Catch took it elsewhere);
- retried: an attempt failed, a later one succeeded;
- succeeded: exited with no failed attempt.
A state's outcome is the most telling, in that order of precedence, of its latest visit in each
frame: a loop or a redrive that enters a state again in the same frame supersedes the visit
before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from runtime import events as ev

JSON = Any
_PRECEDENCE: Final = ("failed", "running", "caught", "retried", "succeeded")
#: Events about a Map iteration, recorded in the Map's frame: the iteration's own states
#: carry its failure, and the Map may tolerate it.
_NOT_A_FAILURE_OF_THE_STATE: Final = frozenset({"MapIterationFailed"})


class Visit(msgspec.Struct, kw_only=True):
    name: str
    input: JSON = None
    output: JSON = None
    exited: bool = False
    failures: int = 0
    last_failed: bool = False
    fail_state: bool = False
    error: str | None = None
    cause: str | None = None

    @property
    def outcome(self) -> str:
        if self.fail_state or (self.last_failed and not self.exited):
            return "failed"
        if not self.exited:
            return "running"
        if self.last_failed:
            return "caught"
        return "retried" if self.failures else "succeeded"

    @property
    def retries(self) -> int:
        return self.failures - 1 if self.last_failed else self.failures


def state_outcomes(events: Sequence[ev.HistoryEvent], upto: int | None = None
                   ) -> dict[str, dict[str, JSON]]:
    """Per state name: `{"outcome", "visits", "retries", "input", "output", "error", "cause"}`
    over the events up to and including id `upto` (all of them when None). `events` is the
    recorded history, internal events included (they are skipped)."""
    open_visits: dict[str, Visit] = {}
    visits: list[tuple[str, Visit]] = []
    for event in events:
        if event.id == 0:
            continue
        _apply(event, open_visits, visits)
        if event.id == upto:
            break
    return _summarise(visits)


def _apply(event: ev.HistoryEvent, open_visits: dict[str, Visit],
           visits: list[tuple[str, Visit]]) -> None:
    details = event.details
    visit = open_visits.get(event.frame)
    if isinstance(details, ev.StateEnteredDetails):
        visit = Visit(name=details.name, input=details.input,
                      fail_state=event.type == "FailStateEntered")
        open_visits[event.frame] = visit
        visits.append((event.frame, visit))
    elif isinstance(details, ev.StateExitedDetails):
        if visit is not None:
            visit.exited, visit.output = True, details.output
            del open_visits[event.frame]
    elif event.type in ev.TERMINAL_TYPES:
        # Whatever was still in progress ends with the execution (a timeout or an abort
        # interrupts a waiting state that had not failed by itself).
        for unfinished in open_visits.values():
            if not unfinished.last_failed and event.type != "ExecutionSucceeded":
                unfinished.last_failed = True
                unfinished.error = getattr(details, "error", None)
                unfinished.cause = getattr(details, "cause", None)
        open_visits.clear()
    elif visit is not None and _is_failure(event):
        visit.failures += 1
        visit.last_failed = True
        visit.error = getattr(details, "error", None)
        visit.cause = getattr(details, "cause", None)
    elif visit is not None and visit.last_failed:
        visit.last_failed = False  # a retry has begun


def _is_failure(event: ev.HistoryEvent) -> bool:
    return event.type.endswith(("Failed", "TimedOut")) and \
        event.type not in _NOT_A_FAILURE_OF_THE_STATE


def _summarise(visits: list[tuple[str, Visit]]) -> dict[str, dict[str, JSON]]:
    states: dict[str, dict[str, JSON]] = {}
    latest: dict[tuple[str, str], Visit] = {}
    for frame, visit in visits:
        latest[frame, visit.name] = visit
        summary = states.setdefault(visit.name, {
            "outcome": "succeeded", "visits": 0, "retries": 0, "input": None,
            "output": None, "error": None, "cause": None})
        summary["visits"] += 1
        summary["retries"] += visit.retries
        summary["input"] = visit.input
        if visit.exited:
            summary["output"] = visit.output
        if visit.error is not None:
            summary["error"], summary["cause"] = visit.error, visit.cause
    for visit in latest.values():
        summary = states[visit.name]
        if _PRECEDENCE.index(visit.outcome) < _PRECEDENCE.index(summary["outcome"]):
            summary["outcome"] = visit.outcome
    return states
