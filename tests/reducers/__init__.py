"""A pure driver for the reducers, shared by the reducer, state and replay tests.

`drive` plays the actor shell without an event loop: it feeds `decide` a StartExecution, then
answers every InvokeTask with the outcome a test chooses and fires every StartTimer in due order,
so a whole execution runs synchronously and deterministically.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from typing import Any, Final

import msgspec

from runtime import events as ev
from runtime.effects import Effect, InvokeTask, StartTimer
from runtime.messages import Message, StartExecution, TaskCompleted, TimerFired
from runtime.model.machine import decode_machine
from runtime.model.validate import validate_definition
from runtime.program import Program, compile_program
from runtime.reducers import Decision, decide
from runtime.state import ExecutionState, new_state

JSON = Any
EXECUTION_ARN: Final = "arn:aws:states:us-east-1:123456789012:execution:sm:run"
STATE_MACHINE_ARN: Final = "arn:aws:states:us-east-1:123456789012:stateMachine:sm"
T0: Final = 1_700_000_000.0

#: What a task returns: a TaskCompleted message for `(effect, at)`, or None to never answer.
TaskOutcome = Callable[[InvokeTask, float], TaskCompleted | None]


def compile_definition(definition: dict[str, Any]) -> Program:
    """Compile a definition the validator accepts (tests must not rely on invalid ones)."""
    problems = [d for d in validate_definition(definition) if d.severity == "ERROR"]
    assert not problems, problems
    return compile_program(decode_machine(definition))


def fresh_state() -> ExecutionState:
    return new_state(EXECUTION_ARN, STATE_MACHINE_ARN, "run")


def encoded(value: object) -> bytes:
    """A canonical byte form for comparing states and events by value."""
    return msgspec.msgpack.encode(value)


def visible(events: Iterable[ev.HistoryEvent]) -> list[str]:
    """The event types AWS would show (internal events left out)."""
    return [event.type for event in events if event.type not in ev.INTERNAL_TYPES]


def internal(events: Iterable[ev.HistoryEvent], kind: str) -> list[ev.HistoryEvent]:
    return [event for event in events if event.type == kind]


def start(program: Program, input: JSON = None, *, at: float = T0) -> Decision:
    return decide(program, fresh_state(), StartExecution(at=at, input=input, seed=7))


def echo(effect: InvokeTask, at: float) -> TaskCompleted:
    """A task that returns its parameters."""
    return TaskCompleted(at=at, key=effect.key, output=effect.parameters)


class Run:
    """The messages fed and decisions taken while driving one execution."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.decisions: list[Decision] = []

    @property
    def events(self) -> list[ev.HistoryEvent]:
        return [event for decision in self.decisions for event in decision.events]

    @property
    def effects(self) -> list[Effect]:
        return [effect for decision in self.decisions for effect in decision.effects]

    @property
    def state(self) -> ExecutionState:
        return self.decisions[-1].state


def drive(program: Program, input: JSON = None, *, task: TaskOutcome = echo,
          start: float = T0, seed: int = 7, max_turns: int = 10_000) -> Run:
    """Run an execution to its end (or until nothing is left to wait for).

    Task effects are answered at the time they were issued, before any timer fires; timers fire
    in due order (ties in issue order), with the clock jumping to each due time.
    """
    run = Run()
    state = fresh_state()
    timers: list[tuple[float, int, str]] = []
    tasks: list[InvokeTask] = []
    now = start
    issued = itertools.count()
    message: Message | None = StartExecution(at=start, input=input, seed=seed)
    for _ in range(max_turns):
        if message is None:
            break
        decision = decide(program, state, message)
        run.messages.append(message)
        run.decisions.append(decision)
        state = decision.state
        if state.status != "RUNNING":
            break
        for effect in decision.effects:
            if isinstance(effect, StartTimer):
                heapq.heappush(timers, (effect.due, next(issued), effect.key))
            else:
                tasks.append(effect)
        message = None
        while message is None and tasks:
            message = task(tasks.pop(0), now)
        if message is None and timers:
            due, _, key = heapq.heappop(timers)
            now = max(now, due)
            message = TimerFired(at=now, key=key)
    else:
        raise AssertionError(f"no end after {max_turns} turns")
    return run
