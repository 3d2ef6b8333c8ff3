"""Replaying a recorded history: rebuild its state, or re-run the reducers on its recorded
messages and check that they still decide the same events (determinism check).

Rules:
1. A history is a sequence of turns; every turn starts with a `MessageReceived` event holding
   the message that caused it, followed by the events `decide` produced for that message.
2. A replay feeds each recorded message to `decide` with the state left by the turns before it
   and compares the produced events with the recorded ones by value (msgspec equality), so a
   changed definition, a changed reducer or a non-deterministic evaluation shows up as the
   first event where the two part.
3. The state handed over after a divergence is the one after the last turn that matched in
   full: a turn is the unit the log appends atomically, so a partial turn is never a state the
   execution had.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from runtime import events as ev
from runtime.messages import Message
from runtime.program import Program
from runtime.reducers import decide
from runtime.state import ExecutionState, project

#: Longest rendering of one event's details in a divergence message.
_DETAILS_LIMIT: Final = 300


class Divergence(msgspec.Struct, frozen=True, kw_only=True):
    """The first event where a replay parts from the recorded history."""

    #: Position of the event in the replayed sequence (internal events counted).
    event_index: int
    #: AWS id of the differing event: the recorded one's, or the produced one's when the
    #: recorded event is internal or missing; 0 when both sides are internal events.
    event_id: int
    #: The recorded event (None: the history's turn ended where the replay produced more).
    expected: ev.HistoryEvent | None
    #: The re-decided event (None: the replay's turn ended where the history has more).
    produced: ev.HistoryEvent | None
    #: The recorded message of the turn that diverged.
    message: Message

    def describe(self) -> str:
        """One line: where the history diverges, and both sides."""
        subject = next(event for event in (self.expected, self.produced)
                       if event is not None and event.id == self.event_id)
        where = (f"event #{self.event_id} ({subject.type})" if self.event_id else
                 f"internal event at index {self.event_index} ({subject.type})")
        return (f"history diverges at {where}: recorded {_describe_event(self.expected)}; "
                f"produced {_describe_event(self.produced)}")


class ReplayResult(msgspec.Struct, frozen=True, kw_only=True):
    #: The state after the replayed turns (after the last matching turn on a divergence).
    state: ExecutionState
    divergence: Divergence | None = None


class ReplayError(Exception):
    """A replay produced events that differ from the recorded history."""

    def __init__(self, divergence: Divergence) -> None:
        super().__init__(divergence.describe())
        self.divergence = divergence


def rebuild(events: Sequence[ev.HistoryEvent], *, state: ExecutionState) -> ExecutionState:
    """The state after `events`, folded onto `state` without re-running any reducer.

    Args:
        events: recorded events, internal ones included, continuing `state`.
        state: the state before the first event (`new_state(...)` for a whole history).
    """
    return project(events, state)


def replay(program: Program, events: Sequence[ev.HistoryEvent], *, state: ExecutionState
           ) -> ReplayResult:
    """Re-decide every recorded turn of `events` with `program` and compare.

    Args:
        program: the compiled definition to check the history against.
        events: recorded events, internal ones included, starting with a `MessageReceived`.
        state: the state before the first event (`new_state(...)` for a whole history).

    Returns:
        The replayed state and the first divergence, if any; replay stops at a divergence.

    Raises:
        ValueError: `events` does not start a turn (no leading `MessageReceived`).
    """
    current = state
    for start, end in _turns(events):
        # A fork's replaced input follows the turn it forked at: it was not decided.
        recorded = [e for e in events[start:end] if e.type != ev.INPUT_REPLACED]
        message = _message(recorded[0])
        decision = decide(program, current, message,
                          known_activity=_known_as_recorded(recorded[0]))
        offset = _first_difference(recorded, decision.events)
        if offset is not None:
            return ReplayResult(state=current, divergence=_divergence(
                start + offset, recorded, decision.events, offset, message))
        current = project([e for e in events[start:end] if e.type == ev.INPUT_REPLACED],
                          decision.state)
    return ReplayResult(state=current)


def replay_strict(program: Program, events: Sequence[ev.HistoryEvent], *,
                  state: ExecutionState) -> ExecutionState:
    """`replay`, raising `ReplayError` at the first divergence instead of reporting it."""
    result = replay(program, events, state=state)
    if result.divergence is not None:
        raise ReplayError(result.divergence)
    return result.state


def turn_bounds(events: Sequence[ev.HistoryEvent], index: int) -> tuple[int, int]:
    """(start, end) of the turn holding `events[index]`: `events[start:end]` is that turn."""
    start = index
    while start > 0 and events[start].type != ev.MESSAGE_RECEIVED:
        start -= 1
    end = index + 1
    while end < len(events) and events[end].type != ev.MESSAGE_RECEIVED:
        end += 1
    return start, end


def _turns(events: Sequence[ev.HistoryEvent]) -> list[tuple[int, int]]:
    if events and events[0].type != ev.MESSAGE_RECEIVED:
        raise ValueError(f"history does not start a turn: event #{events[0].id} "
                         f"({events[0].type}) comes before any {ev.MESSAGE_RECEIVED}")
    starts = [i for i, event in enumerate(events) if event.type == ev.MESSAGE_RECEIVED]
    return list(zip(starts, [*starts[1:], len(events)], strict=True))


def _message(event: ev.HistoryEvent) -> Message:
    assert isinstance(event.details, ev.MessageDetails)
    return event.details.message


def _known_as_recorded(event: ev.HistoryEvent) -> Callable[[str], bool]:
    """The activities the recorded turn found missing are missing in the replay too."""
    assert isinstance(event.details, ev.MessageDetails)
    unknown = frozenset(event.details.unknown_activities)
    return lambda activity_arn: activity_arn not in unknown


def _first_difference(recorded: Sequence[ev.HistoryEvent],
                      produced: Sequence[ev.HistoryEvent]) -> int | None:
    for offset, (expected, actual) in enumerate(zip(recorded, produced, strict=False)):
        if expected != actual:
            return offset
    if len(recorded) != len(produced):
        return min(len(recorded), len(produced))
    return None


def _divergence(index: int, recorded: Sequence[ev.HistoryEvent],
                produced: Sequence[ev.HistoryEvent], offset: int, message: Message
                ) -> Divergence:
    expected = recorded[offset] if offset < len(recorded) else None
    actual = produced[offset] if offset < len(produced) else None
    if expected is not None and expected.id:
        event_id = expected.id
    else:
        event_id = actual.id if actual is not None else 0
    return Divergence(event_index=index, event_id=event_id, expected=expected, produced=actual,
                      message=message)


def _describe_event(event: ev.HistoryEvent | None) -> str:
    if event is None:
        return "nothing (the turn ends here)"
    label = f"{event.type} #{event.id}" if event.id else f"{event.type} (internal)"
    frame = f" in frame '{event.frame}'" if event.frame else ""
    details = msgspec.json.encode(event.details).decode()
    if len(details) > _DETAILS_LIMIT:
        details = details[:_DETAILS_LIMIT] + "..."
    return f"{label}{frame} {details}"
