"""A Distributed Map's iterations are child executions of its Map Run, as in AWS: each has its
own ARN (`execution:<machine>/<label>:<id>`) and history, is stopped with its Map or its parent,
and is redriven (not restarted) when the parent is redriven."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime import Runtime
from runtime.errors import AslError
from runtime.map_runs import child_execution_arn, child_state_machine_arn

PROCESSOR_CONFIG = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def _machine(processor_states: dict[str, Any], **map_fields: Any) -> dict[str, Any]:
    first = next(iter(processor_states))
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "Label": "Items", "End": True, **map_fields,
        "ItemProcessor": {"ProcessorConfig": PROCESSOR_CONFIG, "StartAt": first,
                          "States": processor_states}}}}


def _children(rt: Runtime, map_run: str) -> dict[str, Any]:
    return {e.execution_arn: e for e in rt.list_executions()
            if e.state_machine_arn == child_state_machine_arn(map_run)}


@pytest.mark.anyio
async def test_each_item_runs_as_a_child_execution_with_its_own_history() -> None:
    definition = _machine({"Double": {"Type": "Pass", "Parameters": {
        "v.$": "States.MathAdd($.n, $.n)", "execution.$": "$$.Execution.Id"}, "End": True}})
    async with Runtime(clock="virtual") as rt:
        arn = await rt.create_state_machine("Parent", definition)
        done = await rt.run(arn, [{"n": 1}, {"n": 2}, {"n": 3}])
        assert done.status == "SUCCEEDED"
        (run,) = rt.map_runs(done.execution_arn)
        assert run.arn.startswith("arn:aws:states:us-east-1:123456789012:mapRun:Parent/Items:")
        children = _children(rt, run.arn)
        expected = [child_execution_arn(run.arn, index) for index in range(3)]
        assert sorted(children) == sorted(expected)
        # Each iteration saw its own execution in the context object.
        assert done.output == [{"v": 2 * n, "execution": expected[n - 1]} for n in (1, 2, 3)]
        for index, child_arn in enumerate(expected):
            child = children[child_arn]
            assert child.execution_arn.startswith(
                "arn:aws:states:us-east-1:123456789012:execution:Parent/Items:")
            assert (child.status, child.input) == ("SUCCEEDED", {"n": index + 1})
            assert child.map_run_arn == run.arn
            types = [e["type"] for e in rt.get_execution_history(child_arn)]
            assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                             "ExecutionSucceeded"]
        # The parent's ids stay dense: nothing of the children is in its log.
        parent = rt.get_execution_history(done.execution_arn)
        assert [e["id"] for e in parent] == list(range(1, len(parent) + 1))
        assert [e["previousEventId"] for e in parent] == list(range(len(parent)))


@pytest.mark.anyio
async def test_max_concurrency_bounds_the_running_children() -> None:
    """MaxConcurrency limits the child executions running at once (AWS: Map Run concurrency)."""
    running = 0
    most = 0

    async def work(value: Any) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await anyio.sleep(0)
        await anyio.sleep(0)
        running -= 1
        return value

    definition = _machine({"Work": {"Type": "Task", "Resource": "work", "End": True}},
                          MaxConcurrency=2)
    async with Runtime(clock="virtual", tasks={"work": work}) as rt:
        done = await rt.run(definition, list(range(7)))
        assert done.output == list(range(7))
        assert most == 2


@pytest.mark.anyio
async def test_a_failed_map_run_aborts_its_running_children() -> None:
    definition = _machine({"Route": {"Type": "Choice", "Choices": [
        {"Variable": "$", "NumericEquals": 0, "Next": "Boom"}], "Default": "Wait"},
        "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "bad item"},
        "Wait": {"Type": "Wait", "Seconds": 3600, "End": True}})
    async with Runtime(clock="virtual") as rt:
        done = await rt.run(definition, [0, 1, 2])
        assert (done.status, done.error) == ("FAILED", "Item.Bad")
        (run,) = rt.map_runs(done.execution_arn)
        statuses = {arn: (await rt.wait(arn)).status for arn in _children(rt, run.arn)}
        assert statuses == {child_execution_arn(run.arn, 0): "FAILED",
                            child_execution_arn(run.arn, 1): "ABORTED",
                            child_execution_arn(run.arn, 2): "ABORTED"}
        assert run.status == "FAILED"


@pytest.mark.anyio
async def test_stopping_the_parent_stops_its_children() -> None:
    definition = _machine({"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}})
    async with Runtime(clock="system") as rt:
        arn = await rt.create_state_machine("Parent", definition)
        execution = await rt.start_execution(arn, [1, 2])
        with anyio.fail_after(5):
            while len(rt.list_executions(status="RUNNING")) < 3:
                await anyio.sleep(0.01)
        await rt.stop_execution(execution)
        with anyio.fail_after(5):
            while rt.list_executions(status="RUNNING"):
                await anyio.sleep(0.01)
        assert {e.status for e in rt.list_executions()} == {"ABORTED"}


@pytest.mark.anyio
async def test_a_redriven_parent_redrives_only_its_failed_children() -> None:
    attempts: dict[int, int] = {}

    def flaky(value: int) -> int:
        attempts[value] = attempts.get(value, 0) + 1
        if value == 1 and attempts[value] == 1:
            raise RuntimeError("first try fails")
        return value * 10

    definition = _machine({"Work": {"Type": "Task", "Resource": "flaky", "End": True}})
    async with Runtime(clock="virtual", tasks={"flaky": flaky}) as rt:
        failed = await rt.run(definition, [0, 1, 2])
        assert failed.status == "FAILED"
        (run,) = rt.map_runs(failed.execution_arn)
        await rt.redrive_execution(failed.execution_arn)
        done = await rt.wait(failed.execution_arn)
        assert (done.status, done.output) == ("SUCCEEDED", [0, 10, 20])
        # The item that succeeded is not run again (the aborted third one may be).
        assert (attempts[0], attempts[1]) == (1, 2)
        redriven = rt.describe_execution(child_execution_arn(run.arn, 1))
        assert (redriven.status, redriven.redrive_count) == ("SUCCEEDED", 1)
        assert rt.describe_execution(child_execution_arn(run.arn, 0)).redrive_count == 0


@pytest.mark.anyio
async def test_a_map_run_resumes_from_a_file_store(tmp_path: Path) -> None:
    """Parent and children are recorded in the store; reopened, the Waits end and the
    children report to the parent."""
    definition = _machine({"Wait": {"Type": "Wait", "Seconds": 1, "End": True}})
    async with Runtime(store=tmp_path) as rt:
        arn = await rt.create_state_machine("Parent", definition)
        execution = await rt.start_execution(arn, [1, 2, 3])
        with anyio.fail_after(5):
            while len(rt.list_executions(status="RUNNING")) < 4:
                await anyio.sleep(0.01)
    async with Runtime(store=tmp_path) as rt:
        with anyio.fail_after(10):
            done = await rt.wait(execution)
        assert (done.status, done.output) == ("SUCCEEDED", [1, 2, 3])
        assert len([e for e in rt.list_executions() if e.status == "SUCCEEDED"]) == 4


@pytest.mark.anyio
async def test_a_local_file_item_reader_reads_under_the_runtime_files_root(
        tmp_path: Path) -> None:
    (tmp_path / "items.csv").write_text("sku,qty\na,1\nb,2\n")
    definition = _machine({"Pass": {"Type": "Pass", "End": True}}, ItemReader={
        "Resource": "arn:aws:states:::stepline:readFile", "Parameters": {"Path": "items.csv"},
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}})
    async with Runtime(clock="virtual", files_root=tmp_path) as rt:
        done = await rt.run(definition, {})
        assert done.output == [{"sku": "a", "qty": "1"}, {"sku": "b", "qty": "2"}]
    async with Runtime(clock="virtual") as rt:  # no root: nothing serves the reader
        refused = await rt.run(definition, {})
        assert (refused.status, refused.error) == ("FAILED", "States.ItemReaderFailed")


@pytest.mark.anyio
async def test_update_map_run_raises_the_concurrency_of_a_running_map_run() -> None:
    """UpdateMapRun changes an in-progress Map Run's MaxConcurrency (AWS API_UpdateMapRun)."""
    release = anyio.Event()
    running = 0

    async def hold(value: Any) -> Any:
        nonlocal running
        running += 1
        await release.wait()
        return value

    definition = _machine({"Hold": {"Type": "Task", "Resource": "hold", "End": True}},
                          MaxConcurrency=1)
    async with Runtime(clock="system", tasks={"hold": hold}) as rt:
        execution = await rt.start_execution(await rt.create_state_machine("P", definition),
                                             [1, 2, 3, 4])
        with anyio.fail_after(5):
            while running < 1 or not rt.map_runs(execution):
                await anyio.sleep(0.01)
        (run,) = rt.map_runs(execution)
        assert run.max_concurrency == 1
        rt.update_map_run(run.arn, max_concurrency=3, tolerated_failure_count=2)
        with anyio.fail_after(5):
            while running < 3:
                await anyio.sleep(0.01)
        (run,) = rt.map_runs(execution)
        assert (run.max_concurrency, run.tolerated_count) == (3, 2)
        release.set()
        done = await rt.wait(execution)
        assert done.output == [1, 2, 3, 4]
        with pytest.raises(AslError) as refused:  # no longer in progress
            rt.update_map_run(run.arn, max_concurrency=5)
        assert refused.value.code == "ValidationException"
