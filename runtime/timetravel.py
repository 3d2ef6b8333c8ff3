"""Time travel over a recorded history: what the execution looked like just after any event,
and the state a forked execution starts from.

Rules:
1. `state_at` may stop anywhere, even inside a turn: it is a view for reading.
2. `fork_point` stops only at the end of a turn (the turn that holds the chosen event). A turn
   is decided and appended as one unit, so only its end is a state the execution really had:
   every frame then is waiting (task or timer), running a Map/Parallel, or finished, and
   `pending_effects(program, state)` lists exactly the work that continues it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from runtime import events as ev
from runtime.replay import turn_bounds
from runtime.state import ExecutionState, Frame, Status, apply, begin_turn, project

JSON = Any


class FrameView(msgspec.Struct, frozen=True, kw_only=True):
    """One frame (top level "", Parallel branch or Map iteration "<parent>/<index>")."""

    id: str
    parent: str | None
    #: Current state name (None: a branch or iteration that has not entered a state yet).
    state: str | None
    #: The current state's input (for a frame that has not entered a state: its input).
    input: JSON
    #: True when the frame's last event was a `...StateExited`; `output` is then its output.
    exited: bool = False
    output: JSON = None
    variables: dict[str, JSON] = msgspec.field(default_factory=dict)
    #: The frame's last state ended it (an iteration or branch stays in view until its
    #: Map/Parallel ends).
    done: bool = False


class StateView(msgspec.Struct, frozen=True, kw_only=True):
    """The execution as of just after event `event_id`."""

    event_id: int
    event_type: str
    status: Status
    #: Every frame the execution holds at that point, by id, in the order they began.
    frames: dict[str, FrameView]
    output: JSON = None
    error: str | None = None
    cause: str | None = None


def state_at(events: Sequence[ev.HistoryEvent], event_id: int, *, state: ExecutionState
             ) -> StateView:
    """The execution as of just after the (non-internal) event `event_id`.

    Args:
        events: the recorded history, internal events included, continuing `state`.
        event_id: the AWS id of an event in `events`.
        state: the state before the first event (`new_state(...)` for a whole history).

    Raises:
        ValueError: no event in `events` has id `event_id`.
    """
    index = _index_of(events, event_id)
    work = begin_turn(state)
    inputs: dict[int, JSON] = {}
    exits: set[int] = set()
    for event in events[:index + 1]:
        apply(work, event)
        if isinstance(event.details, ev.StateEnteredDetails):
            inputs[event.id] = event.details.input
        elif isinstance(event.details, ev.StateExitedDetails):
            exits.add(event.id)
    frames = {key: _frame_view(frame, inputs, exits) for key, frame in work.frames.items()}
    return StateView(event_id=event_id, event_type=events[index].type, status=work.status,
                     frames=frames, output=work.output, error=work.error, cause=work.cause)


def fork_point(events: Sequence[ev.HistoryEvent], event_id: int, *, state: ExecutionState
               ) -> ExecutionState:
    """The state a fork taken at event `event_id` starts from: the end of the turn holding it.

    The result keeps the recorded execution's identity (`execution_arn`, `name`, ...); replace
    those with `msgspec.structs.replace` for the new execution. Its `version` counts the events
    up to the end of that turn, so the new execution's log starts with that prefix of `events`.
    `pending_effects(program, fork)` is what the new execution must issue to continue (nothing
    when that turn ended the execution).

    Raises:
        ValueError: no event in `events` has id `event_id`.
    """
    _, end = turn_bounds(events, _index_of(events, event_id))
    return project(events[:end], state)


def replaced_input(state: ExecutionState, frame_id: str, value: JSON, *, at: float
                   ) -> ev.HistoryEvent:
    """The event giving frame `frame_id`'s current state the input `value` (a fork's new
    input): an internal event, so the fork's log, and any replay or restart, hold it.

    The frame must be waiting (on a task, a Wait timer or a retry interval) or between states
    (after a `...StateExited`, its value being the next state's input: only inside a turn).
    A Wait, or a task result, then completes against `value`, and a retry runs the state again
    on it; a task call already scheduled keeps the parameters it was scheduled with.

    Raises:
        KeyError: `state` has no frame `frame_id`.
        ValueError: the frame is finished, running a Map/Parallel, or in the middle of a state.
    """
    frame = state.frames.get(frame_id)
    if frame is None:
        raise KeyError(f"no frame {frame_id!r}; frames: {sorted(state.frames)}")
    if frame.done or frame.fanout is not None or (
            frame.waiting is None and not _between_states(frame)):
        raise ValueError(f"frame {frame_id!r} is not waiting or between states "
                         f"(state {frame.state!r}): its input cannot be replaced")
    return ev.HistoryEvent(id=0, previous_event_id=frame.last_event_id, timestamp=at,
                           type=ev.INPUT_REPLACED, details=ev.InputReplacedDetails(input=value),
                           frame=frame_id)


def _between_states(frame: Frame) -> bool:
    # Called for a frame with nothing pending. Its value is still the entered state's input
    # only while its last event is that state's entry; after an exit (or, for a branch not
    # begun, the Parallel's start) the value is what the frame goes on with.
    return frame.last_event_id != frame.entered_event_id


def _index_of(events: Sequence[ev.HistoryEvent], event_id: int) -> int:
    if event_id > 0:
        for index, event in enumerate(events):
            if event.id == event_id:
                return index
    ids = [event.id for event in events if event.id]
    known = f"its events are #{ids[0]} to #{ids[-1]}" if ids else "it has no events"
    raise ValueError(f"history has no event #{event_id} ({known}; internal events have no id)")


def _frame_view(frame: Frame, inputs: dict[int, JSON], exits: set[int]) -> FrameView:
    exited = frame.last_event_id in exits
    return FrameView(
        id=frame.id, parent=frame.parent, state=frame.state,
        input=inputs.get(frame.entered_event_id) if exited else frame.value,
        exited=exited, output=frame.value if exited else None,
        variables=frame.variables, done=frame.done,
    )


def rerouted(event: ev.HistoryEvent, definition_id: str) -> ev.HistoryEvent:
    """A history event copied into a fork, which may run another definition."""
    if isinstance(event.details, ev.ExecutionStartedDetails):
        details = msgspec.structs.replace(event.details, definition_id=definition_id)
        return msgspec.structs.replace(event, details=details)
    return event
