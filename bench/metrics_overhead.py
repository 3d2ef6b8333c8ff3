"""What monitoring costs on the hot path: `python -m bench.metrics_overhead`.

The turns measured are real: the histories of a 100-state Pass chain (one turn, 100
transitions) and of a 10-Task chain (one transition per task turn), recorded by a virtual-clock
Runtime and split into turns at their MessageReceived events. Each figure is the best of 5
timed repetitions. The same Runtime's own cost per transition is measured alongside, so the
overhead can be read as a share of it.
"""

from __future__ import annotations

import contextvars
import io
import time
import timeit
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import structlog

from runtime import Runtime
from runtime import events as ev
from runtime.logging import bind_execution_to_task, configure_logging, execution_log_writer
from runtime.metrics import Metrics
from runtime.state import ExecutionState, new_state

MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:bench"
CHAIN = 100
TASKS = 10


def pass_chain(length: int) -> dict[str, Any]:
    states: dict[str, Any] = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"}
                              for i in range(length - 1)}
    states[f"S{length - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "S0", "States": states}


def task_chain(length: int) -> dict[str, Any]:
    states: dict[str, Any] = {f"T{i}": {"Type": "Task", "Resource": "echo", "Next": f"T{i + 1}"}
                              for i in range(length - 1)}
    states[f"T{length - 1}"] = {"Type": "Task", "Resource": "echo", "End": True}
    return {"StartAt": "T0", "States": states}


async def record(definition: dict[str, Any], runs: int
                 ) -> tuple[list[ev.HistoryEvent], ExecutionState, float]:
    """One execution's events and its identity, and the Runtime's seconds per execution."""
    async with Runtime(clock="virtual", tasks={"echo": lambda value: value}) as runtime:
        arn = await runtime.create_state_machine("bench", definition)
        done = await runtime.run(arn, {"n": 1})
        began = time.perf_counter()
        for _ in range(runs):
            await runtime.run(arn, {"n": 1})
        per_execution = (time.perf_counter() - began) / runs
        identity = new_state(done.execution_arn, done.state_machine_arn, done.name)
        return runtime.history(done.execution_arn), identity, per_execution


def turns(events: Sequence[ev.HistoryEvent]) -> list[tuple[ev.HistoryEvent, ...]]:
    out: list[list[ev.HistoryEvent]] = []
    for event in events:
        if event.type == ev.MESSAGE_RECEIVED or not out:
            out.append([])
        out[-1].append(event)
    return [tuple(turn) for turn in out]


def best(action: Callable[[], object], number: int) -> float:
    """Seconds per call, best of 5."""
    return min(timeit.repeat(action, number=number, repeat=5)) / number


def record_turns(metrics: Metrics, split: list[tuple[ev.HistoryEvent, ...]]) -> Callable[[], None]:
    """The hook as the actor runs it: time the append (here: nothing), then count the turn."""
    clock = time.perf_counter

    def run() -> None:
        for turn in split:
            started = clock()
            metrics.record_turn(MACHINE_ARN, turn, clock() - started)

    return run


def main() -> None:
    chain_events, chain_state, chain_s = anyio.run(record, pass_chain(CHAIN), 200)
    task_events, _, task_s = anyio.run(record, task_chain(TASKS), 200)
    chain_turns, task_turns = turns(chain_events), turns(task_events)
    metrics = Metrics()

    chain_record = best(record_turns(metrics, chain_turns), 2000) / CHAIN
    task_record = best(record_turns(metrics, task_turns), 2000) / TASKS
    observe_task = best(lambda: metrics.observe_task("echo", 0.001), 200_000)
    nothing = best(lambda: None, 200_000)
    # As a task call binds it: in the fresh copy of the context a new task runs in.
    context = contextvars.copy_context()
    bind = best(lambda: context.copy().run(bind_execution_to_task, MACHINE_ARN, "S1"), 200_000)
    copy = best(lambda: context.copy().run(int), 200_000)

    scraped = Metrics(timers=[0] * 50,
                      open_executions=lambda: [f"{MACHINE_ARN}{i % 100}" for i in range(1000)])
    for machine in range(100):
        scraped.record_turn(f"{MACHINE_ARN}{machine}", chain_events, 0.0001)
        scraped.observe_task(f"arn:aws:states:::service{machine % 10}:invoke", 0.01)
    render = best(scraped.render, 50)

    sink = io.StringIO()
    saved = structlog.get_config()
    configure_logging(renderer="json", stream=lambda: sink)
    writer = execution_log_writer({"level": "ALL", "includeExecutionData": True})
    assert writer is not None
    log_all = best(lambda: writer.write(chain_state, chain_events), 50) / len(chain_events)
    structlog.configure(**saved)

    print(f"Runtime, Pass chain ({CHAIN} states): {chain_s / CHAIN * 1e6:7.2f} us/transition")
    print(f"Runtime, Task chain ({TASKS} tasks):  {task_s / TASKS * 1e6:7.2f} us/transition")
    print(f"record_turn, Pass chain turn:         {chain_record * 1e9:7.0f} ns/transition "
          f"({chain_record / (chain_s / CHAIN):.2%} of the Runtime's)")
    print(f"record_turn, Task turns:              {task_record * 1e9:7.0f} ns/transition "
          f"({task_record / (task_s / TASKS):.2%} of the Runtime's)")
    print(f"observe_task:                         {(observe_task - nothing) * 1e9:7.0f} ns/call")
    print(f"bind_execution_to_task (arn, state):  {(bind - copy) * 1e9:7.0f} ns/task call")
    print(f"render (100 machines, 1000 open):     {render * 1e3:7.2f} ms/scrape")
    print(f"execution log at ALL, JSON:           {log_all * 1e6:7.2f} us/event")


if __name__ == "__main__":
    main()
