"""What a step writes, as plain rows: the pure half of a worker's commit.

`plan_commit` turns the outcome of deciding an execution's inbox messages (the events, the
effects, the state after them) into the arrays the commit statement takes, so everything that
can be checked without a database is checked here.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from runtime import events as ev
from runtime.effects import (
    Deliver,
    Effect,
    InvokeTask,
    StartChildExecution,
    StartTimer,
    WatchExecution,
)
from runtime.messages import Message, RedriveExecution, StartExecution, TimerFired
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
    redrive_count: int
    redrive_date: float | None
    versions: list[int]
    types: list[str]
    data: list[bytes]
    timer_keys: list[str]
    timer_dues: list[float]
    outbox_kinds: list[str]
    outbox_keys: list[str]
    outbox_effects: list[bytes]
    #: Messages for other executions (a parent's, its children's), delivered to the running.
    relay_arns: list[str]
    relay_messages: list[bytes]
    #: Map Run child executions to create with their StartExecution message; one that exists
    #: already is redriven instead when `spawn_redrives` holds a message for it.
    spawn_arns: list[str]
    spawn_machine_arns: list[str]
    spawn_names: list[str]
    spawn_inputs: list[str]
    spawn_map_runs: list[str]
    spawn_messages: list[bytes]
    spawn_redrives: list[bytes | None]
    #: When the children start: the time of the step's last event, which their start
    #: messages carry too (so a child never stops before it started).
    spawn_at: float


def plan_commit(expected: int, events: Sequence[ev.HistoryEvent], effects: Sequence[Effect],
                state: ExecutionState, definition_id: str) -> Commit:
    """The rows for appending `events` to a stream at `expected`, scheduling `effects` and
    recording `state`'s status. A later StartTimer of the same key replaces an earlier one.
    A finished execution schedules nothing but its messages to others (its end told to its
    parent, its children stopped): work asked for earlier in the same step (a message decided
    before a StopExecution) would only be thrown away when it came back."""
    timers: dict[str, float] = {}
    outbox: dict[tuple[str, str], bytes] = {}
    relays: list[Deliver] = []
    spawns: dict[str, StartChildExecution] = {}
    finished = state.status != "RUNNING"
    for effect in effects:
        if isinstance(effect, Deliver):
            relays.append(effect)
        elif finished or isinstance(effect, WatchExecution):
            # (A `.sync` child started on the cluster answers its parent itself.)
            continue
        elif isinstance(effect, StartTimer):
            timers[effect.key] = effect.due
        elif isinstance(effect, StartChildExecution):
            spawns[effect.execution_arn] = effect
        else:
            outbox[type(effect).__name__, effect.key] = _encode(effect)
    at = events[-1].timestamp if events else state.start_time
    return Commit(
        expected=expected, head=expected + len(events), status=state.status,
        stop_date=state.stop_time if finished else None,
        output=json_text(state.output) if state.status == "SUCCEEDED" else None,
        error=state.error if finished else None, cause=state.cause if finished else None,
        redrive_count=state.redrive_count,
        redrive_date=state.attempt_started if state.redrive_count else None,
        versions=list(range(expected + 1, expected + len(events) + 1)),
        types=[event.type for event in events],
        data=[ev.EVENT_CODEC.encode(event) for event in events],
        timer_keys=list(timers), timer_dues=list(timers.values()),
        outbox_kinds=[kind for kind, _ in outbox], outbox_keys=[key for _, key in outbox],
        outbox_effects=list(outbox.values()),
        relay_arns=[relay.execution_arn for relay in relays],
        relay_messages=[_encode(relay.message) for relay in relays],
        spawn_arns=list(spawns),
        spawn_machine_arns=[spawn.state_machine_arn for spawn in spawns.values()],
        spawn_names=[arn.rsplit(":", 1)[-1] for arn in spawns],
        spawn_inputs=[json_text(spawn.input) for spawn in spawns.values()],
        spawn_map_runs=[spawn.map_run_arn for spawn in spawns.values()],
        spawn_messages=[_encode(_child_start(spawn, state, definition_id, at))
                        for spawn in spawns.values()],
        spawn_redrives=[_encode(RedriveExecution(at=at, parent_key=spawn.key))
                        if spawn.redrive else None for spawn in spawns.values()],
        spawn_at=at,
    )


def _child_start(spawn: StartChildExecution, parent: ExecutionState, definition_id: str,
                 at: float) -> StartExecution:
    """A Map Run child's StartExecution; its seed derives from its ARN, so that a retried
    commit starts it alike."""
    return spawn.start_message(at=at, role_arn=parent.role_arn, definition_id=definition_id,
                               seed=zlib.crc32(spawn.execution_arn.encode()))
