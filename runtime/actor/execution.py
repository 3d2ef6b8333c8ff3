"""The execution actor: the only place an execution's state changes.

It takes one message at a time from its mailbox, asks the pure reducer for a decision, appends
the decision's events to the log as one batch, adopts the new state, and hands the effects to
the effect runner, whose outcomes come back as messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Protocol

import anyio
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from runtime import events as ev
from runtime.effects import Effect
from runtime.log._base import EventLog, StoredEvent
from runtime.logging import ExecutionLogWriter, bind_execution_to_task
from runtime.messages import Message
from runtime.metrics import Metrics
from runtime.program import Program
from runtime.reducers import decide
from runtime.state import ExecutionState

log = structlog.get_logger("stepline.execution")

RunEffect = Callable[["ExecutionActor", Effect], None]


class Activity(Protocol):
    """Counts work in progress (virtual time waits for it: see TimerService)."""

    def work_started(self) -> None: ...

    def work_finished(self) -> None: ...


class ExecutionActor:
    def __init__(self, *, program: Program, state: ExecutionState, history: list[ev.HistoryEvent],
                 event_log: EventLog, run_effect: RunEffect,
                 on_finished: Callable[[ExecutionActor], Awaitable[None]],
                 activity: Activity, metrics: Metrics,
                 after_turn: Callable[[ExecutionActor, int], Awaitable[None]] | None = None,
                 execution_log: ExecutionLogWriter | None = None,
                 known_activity: Callable[[str], bool] = lambda activity_arn: True) -> None:
        self.program = program
        self.state = state
        self.history = history
        self.event_log = event_log
        self.run_effect = run_effect
        self.on_finished = on_finished
        self.activity = activity
        self.after_turn = after_turn
        self.metrics = metrics
        #: Writes the state machine's execution logs; None when its logging is OFF.
        self.execution_log = execution_log
        #: Whether an activity exists (a Task naming a missing one fails the execution).
        self.known_activity = known_activity
        self.finished = anyio.Event()
        send, receive = anyio.create_memory_object_stream[Message](max_buffer_size=float("inf"))
        self._send: MemoryObjectSendStream[Message] = send
        self._receive: MemoryObjectReceiveStream[Message] = receive

    @property
    def arn(self) -> str:
        return self.state.execution_arn

    def tell(self, message: Message) -> None:
        """Queue a message; messages to a finished execution are dropped."""
        if not self.finished.is_set():
            try:
                self._send.send_nowait(message)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
            self.activity.work_started()

    async def run(self) -> None:
        bind_execution_to_task(self.arn)
        async with self._receive:
            async for message in self._receive:
                try:
                    await self.handle(message)
                finally:
                    self.activity.work_finished()
                if self.state.status != "RUNNING":
                    break
        self.finished.set()
        await self.on_finished(self)

    async def handle(self, message: Message) -> None:
        decision = decide(self.program, self.state, message,
                          known_activity=self.known_activity)
        before = self.state.version
        if decision.events:
            started = perf_counter()
            await self._append(decision.events)
            self.metrics.record_turn(self.state.state_machine_arn, decision.events,
                                     perf_counter() - started)
        self.state = decision.state
        if self.execution_log is not None and decision.events:
            self.execution_log.write(self.state, decision.events)
        if self.after_turn is not None and decision.events:
            await self.after_turn(self, before)
        self.history.extend(decision.events)
        for effect in decision.effects:
            self.run_effect(self, effect)

    async def append_history(self, events: list[ev.HistoryEvent], *, expected_version: int
                             ) -> None:
        """Write events recorded elsewhere (a fork's inherited history) to this stream."""
        stored = [
            StoredEvent(stream_id=self.arn, version=expected_version + offset, type=event.type,
                        data=ev.EVENT_CODEC.encode(event))
            for offset, event in enumerate(events, start=1)
        ]
        await self.event_log.append(self.arn, stored, expected_version=expected_version)

    async def _append(self, events: tuple[ev.HistoryEvent, ...]) -> None:
        await self.append_history(list(events), expected_version=self.state.version)

    def close(self) -> None:
        self._send.close()
