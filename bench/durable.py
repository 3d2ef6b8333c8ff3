"""The durable file event log under a running workload: many executions at once on one
`FileEventLog`, with group commit beside one fsync per append."""

from __future__ import annotations

import tempfile
import time
from typing import Any

from bench.workloads import Workload
from runtime import Runtime
from runtime.events import MESSAGE_RECEIVED
from runtime.log.file import Durability, FileEventLog


async def measure_durable(workload: Workload, durability: Durability, executions: int,
                          directory: str = "/tmp") -> dict[str, Any]:
    """Start `executions` executions at once (virtual clock) and wait for all; every event
    is in the file, synced, before its turn's effects run. Events include the runtime's
    internal ones (MessageReceived, TimerStarted), which the log stores like any other."""
    with tempfile.TemporaryDirectory(prefix="bench-durable-", dir=directory) as store:
        log = await FileEventLog.open(store, durability=durability)
        async with log, Runtime(clock="virtual", event_log=log) as runtime:
            machine_arn = await runtime.create_state_machine(workload.name, workload.definition)
            began = time.perf_counter()
            arns = [await runtime.start_execution(machine_arn, workload.input)
                    for _ in range(executions)]
            for arn in arns:
                done = await runtime.wait(arn)
                if done.status != "SUCCEEDED" or done.output != workload.expected_output:
                    raise AssertionError(f"{arn}: {done.status} {done.error}")
            elapsed = time.perf_counter() - began
            events = sum(len(runtime.history(arn)) for arn in arns)
            # Every turn opens with a MessageReceived event and is appended as one batch.
            turns = sum(1 for arn in arns for event in runtime.history(arn)
                        if event.type == MESSAGE_RECEIVED)
            stored = sum([await log.version(arn) for arn in arns])
            fsyncs = log.fsync_count
    if stored != events:
        raise AssertionError(f"{stored} events in the log, {events} in the histories")
    return {
        "workload": workload.name,
        "durability": durability,
        "executions": executions,
        "seconds": elapsed,
        "events": events,
        "events_per_s": events / elapsed,
        "appends": turns,
        "appends_per_s": turns / elapsed,
        "fsyncs": fsyncs,
        "appends_per_fsync": turns / fsyncs if fsyncs else None,
        "executions_per_s": executions / elapsed,
        "transitions_per_s": executions * workload.transitions_per_execution / elapsed,
    }

