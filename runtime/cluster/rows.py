"""What a step writes, as plain rows: the pure half of a worker's commit.

`plan_commit` turns the outcome of deciding an execution's inbox messages (the events, the
effects, the state after them) into the arrays the commit statement takes, so everything that
can be checked without a database is checked here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from runtime import events as ev
from runtime.effects import Effect, InvokeTask, StartTimer
from runtime.messages import Message, TimerFired
from runtime.state import ExecutionState

JSON = Any

#: The outbox kind of task invocations, the only effect workers run.
TASK_KIND: Final = "InvokeTask"

_encode = msgspec.msgpack.Encoder().encode
_message_decoder: Final[msgspec.msgpack.Decoder[Message]] = msgspec.msgpack.Decoder(Message)
_task_decoder: Final = msgspec.msgpack.Decoder(InvokeTask)


def encode_message(message: Message) -> bytes:
    return _encode(message)


def inbox_message(message: bytes | None, timer_key: str | None, fired_at: float | None
                  ) -> Message:
    """The message an inbox row holds: encoded, or a timer the fire statement moved there."""
    if message is not None:
        return _message_decoder.decode(message)
    assert timer_key is not None and fired_at is not None
    return TimerFired(at=fired_at, key=timer_key)


def decode_task(effect: bytes) -> InvokeTask:
    return _task_decoder.decode(effect)


def json_text(value: JSON) -> str:
    return msgspec.json.encode(value).decode()


class Commit(msgspec.Struct, frozen=True, kw_only=True):
    """The arrays one step's commit statement writes (see `runtime.cluster.sql`)."""

    expected: int
    head: int
    status: str
    stop_date: float | None
    output: str | None
    error: str | None
    cause: str | None
    versions: list[int]
    types: list[str]
    data: list[bytes]
    timer_keys: list[str]
    timer_dues: list[float]
    outbox_kinds: list[str]
    outbox_keys: list[str]
    outbox_effects: list[bytes]


def plan_commit(expected: int, events: Sequence[ev.HistoryEvent], effects: Sequence[Effect],
                state: ExecutionState) -> Commit:
    """The rows for appending `events` to a stream at `expected`, scheduling `effects` and
    recording `state`'s status. A later StartTimer of the same key replaces an earlier one.
    A finished execution schedules nothing: work asked for earlier in the same step (a message
    decided before a StopExecution) would only be thrown away when it came back."""
    timers: dict[str, float] = {}
    outbox: dict[tuple[str, str], bytes] = {}
    finished = state.status != "RUNNING"
    for effect in () if finished else effects:
        if isinstance(effect, StartTimer):
            timers[effect.key] = effect.due
        else:
            outbox[type(effect).__name__, effect.key] = _encode(effect)
    return Commit(
        expected=expected, head=expected + len(events), status=state.status,
        stop_date=state.stop_time if finished else None,
        output=json_text(state.output) if state.status == "SUCCEEDED" else None,
        error=state.error if finished else None, cause=state.cause if finished else None,
        versions=list(range(expected + 1, expected + len(events) + 1)),
        types=[event.type for event in events],
        data=[ev.EVENT_CODEC.encode(event) for event in events],
        timer_keys=list(timers), timer_dues=list(timers.values()),
        outbox_kinds=[kind for kind, _ in outbox], outbox_keys=[key for _, key in outbox],
        outbox_effects=list(outbox.values()),
    )
