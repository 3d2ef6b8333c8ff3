"""RedriveExecution, as AWS documents it: a FAILED/TIMED_OUT/ABORTED execution continues from
its unsuccessful step with the same input and history; for Inline Map and Parallel states only
the iterations and branches that failed or were aborted run again (RedriveExecution API
reference)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime import AslError, Runtime


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Flaky:
    """Fails for the listed inputs until `healed`; records every call."""

    def __init__(self, failing: set[Any]) -> None:
        self.failing = failing
        self.healed = False
        self.calls: list[Any] = []

    def __call__(self, value: Any) -> Any:
        self.calls.append(value)
        if value in self.failing and not self.healed:
            raise RuntimeError(f"item {value} failed")
        return value * 10


def _types(rt: Runtime, arn: str) -> list[str]:
    return [e["type"] for e in rt.get_execution_history(arn)]


MAP = {"StartAt": "M", "States": {"M": {
    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
    "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work",
                                                       "End": True}}},
    "End": True}}}


@pytest.mark.anyio
async def test_redriven_map_reruns_only_the_failed_iteration_and_keeps_the_rest() -> None:
    work = Flaky({2})
    async with Runtime(clock="virtual", tasks={"work": work}) as rt:
        failed = await rt.run(MAP, {"items": [1, 2, 3]})
        assert failed.status == "FAILED" and failed.error == "RuntimeError"
        assert work.calls == [1, 2]  # MaxConcurrency 1: item 3 never started
        work.healed = True
        await rt.redrive_execution(failed.execution_arn)
        done = await rt.wait(failed.execution_arn)
        assert done.status == "SUCCEEDED"
        assert done.output == [10, 20, 30]
        assert done.redrive_count == 1
        assert work.calls == [1, 2, 2, 3]
        types = _types(rt, failed.execution_arn)
        assert types.count("ExecutionRedriven") == 1
        assert types.index("ExecutionFailed") < types.index("ExecutionRedriven")
        assert types[-1] == "ExecutionSucceeded"


@pytest.mark.anyio
async def test_redriven_parallel_reruns_only_the_failed_branch() -> None:
    work = Flaky({"b"})
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "work", "InputPath": "$.a",
                                          "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "work", "InputPath": "$.b",
                                          "End": True}}},
    ]}}}
    async with Runtime(clock="virtual", tasks={"work": work}) as rt:
        failed = await rt.run(definition, {"a": "a", "b": "b"})
        assert failed.status == "FAILED"
        work.healed = True
        calls_before = len(work.calls)
        await rt.redrive_execution(failed.execution_arn)
        done = await rt.wait(failed.execution_arn)
        assert done.status == "SUCCEEDED"
        assert done.output == ["a" * 10, "b" * 10]
        assert work.calls[calls_before:] == ["b"]


@pytest.mark.anyio
async def test_redrive_of_a_fail_state_fails_again_and_counts_redrives() -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}}
    async with Runtime(clock="virtual") as rt:
        failed = await rt.run(definition)
        for expected_count in (1, 2):
            await rt.redrive_execution(failed.execution_arn)
            again = await rt.wait(failed.execution_arn)
            assert (again.status, again.error, again.redrive_count) == ("FAILED", "E",
                                                                        expected_count)
        history = rt.get_execution_history(failed.execution_arn)
        redriven = [e for e in history if e["type"] == "ExecutionRedriven"]
        assert [e["executionRedrivenEventDetails"]["redriveCount"] for e in redriven] == [1, 2]


@pytest.mark.anyio
async def test_an_aborted_execution_redrives_its_waiting_state_and_sees_its_redrive_count(
) -> None:
    definition = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
        "P": {"Type": "Pass", "Parameters": {"count.$": "$$.Execution.RedriveCount"},
              "End": True}}}
    async with Runtime(clock="virtual") as rt:
        arn = await rt.start_execution(await rt.create_state_machine("waits", definition))
        stopped = await rt.stop_execution(arn, error="Operator", cause="stop")
        assert stopped.status == "ABORTED"
        await rt.redrive_execution(arn)
        done = await rt.wait(arn)
        assert done.status == "SUCCEEDED" and done.output == {"count": 1}
        assert _types(rt, arn).count("WaitStateEntered") == 2


@pytest.mark.anyio
async def test_running_and_succeeded_executions_are_not_redrivable() -> None:
    async with Runtime(clock="virtual") as rt:
        done = await rt.run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        with pytest.raises(AslError) as raised:
            await rt.redrive_execution(done.execution_arn)
        assert raised.value.code == "ExecutionNotRedrivable"
