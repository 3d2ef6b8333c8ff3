"""Many executions in one process: waiting on the real clock, and run to completion on the
virtual clock."""

from __future__ import annotations

import time
from typing import Any

import anyio

from bench.system import current_rss_mib, peak_rss_mib
from bench.workloads import Workload, with_wait_seconds
from runtime import Runtime

POLL_S = 0.005


async def measure_waiting(workload: Workload, executions: int, wait_seconds: int
                          ) -> dict[str, Any]:
    """Start `executions` executions of a Wait of `wait_seconds` on the system clock and time
    how long until every one is waiting (its Wait timer scheduled). The Waits are not waited
    out: the runtime is stopped, which cancels them."""
    definition = with_wait_seconds(workload, wait_seconds)
    rss_before = current_rss_mib()
    async with Runtime(clock="system") as runtime:
        machine_arn = await runtime.create_state_machine("waiting", definition)
        began = time.perf_counter()
        arns = [await runtime.start_execution(machine_arn, workload.input)
                for _ in range(executions)]
        calls_s = time.perf_counter() - began
        while len(runtime.timers) < executions:
            await anyio.sleep(POLL_S)
        all_waiting_s = time.perf_counter() - began
        waiting = sum(1 for arn in arns if _in_wait(runtime, arn))
        rss_waiting = current_rss_mib()
        stopping = time.perf_counter()
    stop_s = time.perf_counter() - stopping
    if waiting != executions:
        raise AssertionError(f"{waiting} of {executions} executions are in their Wait")
    return {
        "executions": executions,
        "wait_seconds": wait_seconds,
        "start_calls_s": calls_s,
        "all_waiting_s": all_waiting_s,
        "rss_before_mib": rss_before,
        "rss_all_waiting_mib": rss_waiting,
        "peak_rss_mib": peak_rss_mib(),
        "stop_runtime_s": stop_s,
    }


def _in_wait(runtime: Runtime, execution_arn: str) -> bool:
    entered = any(event.type == "WaitStateEntered" for event in runtime.history(execution_arn))
    return entered and runtime.describe_execution(execution_arn).status == "RUNNING"


async def measure_completion(workload: Workload, executions: int, limit_s: float
                             ) -> dict[str, Any]:
    """Start `executions` executions on the virtual clock, then wait for every one (up to
    `limit_s`) and check each output."""
    rss_before = current_rss_mib()
    completed = 0
    async with Runtime(clock="virtual") as runtime:
        machine_arn = await runtime.create_state_machine(workload.name, workload.definition)
        began = time.perf_counter()
        arns = [await runtime.start_execution(machine_arn, workload.input)
                for _ in range(executions)]
        started_s = time.perf_counter() - began
        with anyio.move_on_after(limit_s):
            for arn in arns:
                done = await runtime.wait(arn)
                if done.status != "SUCCEEDED" or done.output != workload.expected_output:
                    raise AssertionError(f"{arn}: {done.status} {done.output}")
                completed += 1
        total_s = time.perf_counter() - began
        rss_end = current_rss_mib()
    return {
        "executions": executions,
        "workload": workload.name,
        "completed": completed,
        "gave_up_after_s": None if completed == executions else limit_s,
        "start_calls_s": started_s,
        "total_s": total_s,
        "executions_per_s": completed / total_s,
        "rss_before_mib": rss_before,
        "rss_end_mib": rss_end,
        "peak_rss_mib": peak_rss_mib(),
    }
