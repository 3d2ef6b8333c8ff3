"""Stepline in process: sequential throughput per workload on the virtual clock, the pure core
(`decide`) alone, and the cost of a StartExecution + DescribeExecution pair."""

from __future__ import annotations

import statistics
import time
from typing import Any, Literal

from bench.system import current_rss_mib, peak_rss_mib
from bench.workloads import ONE_PASS_DEFINITION, Workload
from runtime import Runtime
from runtime.messages import StartExecution
from runtime.reducers import decide
from runtime.state import new_state

Clock = Literal["virtual", "system"]


def count_transitions(runtime: Runtime, execution_arn: str) -> int:
    """State entries, counted as AWS does: one `*StateEntered` event each."""
    return sum(1 for event in runtime.history(execution_arn)
               if event.type.endswith("StateEntered"))


def check_execution(runtime: Runtime, workload: Workload, execution_arn: str) -> None:
    done = runtime.describe_execution(execution_arn)
    if done.status != "SUCCEEDED" or done.output != workload.expected_output:
        raise AssertionError(f"{workload.name}: {done.status} {done.error} {done.cause} "
                             f"output {str(done.output)[:200]}")
    entered = count_transitions(runtime, execution_arn)
    if entered != workload.transitions_per_execution:
        raise AssertionError(f"{workload.name}: {entered} states entered, expected "
                             f"{workload.transitions_per_execution}")


async def measure_throughput(workload: Workload, seconds: float, clock: Clock = "virtual",
                             min_runs: int = 3) -> dict[str, Any]:
    """Executions one after another for `seconds`; every one is checked after the clock stops
    (output and state entries), so checking costs nothing inside the timing."""
    rss_before = current_rss_mib()
    async with Runtime(clock=clock) as runtime:
        started = time.perf_counter()
        machine_arn = await runtime.create_state_machine(workload.name, workload.definition)
        create_s = time.perf_counter() - started
        check_execution(runtime, workload, (await runtime.run(machine_arn, workload.input))
                        .execution_arn)
        latencies: list[float] = []
        arns: list[str] = []
        began = time.perf_counter()
        while len(latencies) < min_runs or time.perf_counter() - began < seconds:
            started = time.perf_counter()
            done = await runtime.run(machine_arn, workload.input)
            latencies.append(time.perf_counter() - started)
            arns.append(done.execution_arn)
        elapsed = time.perf_counter() - began
        for arn in arns:
            check_execution(runtime, workload, arn)
        timers = any(event.type == "TimerStarted" for event in runtime.history(arns[0]))
    runs = len(latencies)
    return {
        "clock": clock,
        "waits_on_timers": timers,
        "executions": runs,
        "seconds": elapsed,
        "executions_per_s": runs / elapsed,
        "transitions_per_execution": workload.transitions_per_execution,
        "transitions_per_s": runs * workload.transitions_per_execution / elapsed,
        "latency_s_median": statistics.median(latencies),
        "create_state_machine_s": create_s,
        "checked_executions": runs + 1,
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


async def measure_core(workload: Workload, seconds: float) -> dict[str, Any]:
    """`decide` on the StartExecution message alone: the pure core without actor, mailbox or
    log. For a chain of Pass states one decision runs the whole execution."""
    async with Runtime(clock="virtual") as runtime:
        machine_arn = await runtime.create_state_machine(workload.name, workload.definition)
    program = runtime.state_machine(machine_arn).program
    state = new_state(f"{machine_arn}:core", machine_arn, "core")
    message = StartExecution(at=time.time(), input=workload.input)
    decisions = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        decision = decide(program, state, message)
        decisions += 1
    elapsed = time.perf_counter() - began
    if decision.state.output != workload.expected_output:
        raise AssertionError(f"{workload.name}: decide returned {decision.state.status}")
    return {
        "decisions_per_s": decisions / elapsed,
        "transitions_per_s": decisions * workload.transitions_per_execution / elapsed,
        "events_per_decision": len(decision.events),
    }


async def measure_round_trip(samples: int) -> dict[str, Any]:
    """StartExecution then DescribeExecution called in process on a one-Pass machine, and
    StartExecution until the execution is observed finished."""
    async with Runtime(clock="virtual") as runtime:
        machine_arn = await runtime.create_state_machine("round-trip", ONE_PASS_DEFINITION)
        start_describe: list[float] = []
        to_terminal: list[float] = []
        for _ in range(samples):
            started = time.perf_counter()
            arn = await runtime.start_execution(machine_arn, {})
            runtime.describe_execution(arn)
            start_describe.append(time.perf_counter() - started)
            await runtime.wait(arn)
            to_terminal.append(time.perf_counter() - started)
    return {
        "samples": samples,
        "start_plus_describe_ms_median": statistics.median(start_describe) * 1000,
        "start_to_terminal_ms_median": statistics.median(to_terminal) * 1000,
    }


async def expected_for(workload: Workload) -> Workload:
    """The workload with its expected output and state entries taken from a Stepline run:
    how a smaller input (for moto) gets its expectations. Stepline's full-size runs are
    checked against the reference expectations, and moto's results must agree with these."""
    async with Runtime(clock="virtual") as runtime:
        done = await runtime.run(workload.definition, workload.input)
        if done.status != "SUCCEEDED":
            raise AssertionError(f"{workload.name}: {done.status} {done.error} {done.cause}")
        entered = count_transitions(runtime, done.execution_arn)
    return Workload(name=workload.name, definition=workload.definition, input=workload.input,
                    expected_output=done.output, transitions_per_execution=entered,
                    input_scale=workload.input_scale)
