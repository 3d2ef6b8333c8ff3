"""End to end through the public `Runtime` API: actors, timers, clocks, task handlers, history."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import anyio
import pytest

from runtime.engine import Runtime
from runtime.errors import AslError

pytestmark = pytest.mark.anyio

ECHO: dict[str, Any] = {"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "echo", "End": True}}}


def wait_machine(seconds: int) -> dict[str, Any]:
    return {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": seconds, "Next": "Done"},
        "Done": {"Type": "Pass", "Result": "done", "ResultPath": "$.status", "End": True}}}


# -- task handlers ------------------------------------------------------------------------------


async def test_sync_and_async_handlers_serve_task_states(stepline_runtime: Runtime) -> None:
    def add_one(value: dict[str, Any]) -> dict[str, Any]:
        return {"n": value["n"] + 1}

    async def double(value: dict[str, Any]) -> dict[str, Any]:
        await anyio.sleep(0)
        return {"n": value["n"] * 2}

    stepline_runtime.register_task("add_one", add_one)
    stepline_runtime.register_task("double", double)
    done = await stepline_runtime.run({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "add_one", "Next": "B"},
        "B": {"Type": "Task", "Resource": "double", "End": True}}}, {"n": 4})
    assert (done.status, done.output) == ("SUCCEEDED", {"n": 10})


async def test_lambda_shaped_resources_reach_the_python_handler(
        stepline_runtime: Runtime) -> None:
    stepline_runtime.register_task("greet", lambda payload: f"hi {payload['who']}")
    done = await stepline_runtime.run({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": "greet", "Payload": {"who.$": "$.name"}},
        "OutputPath": "$.Payload"}}}, {"name": "ann"})
    assert done.output == "hi ann"


class CardDeclined(Exception):
    pass


async def test_handler_exceptions_become_named_task_errors(stepline_runtime: Runtime) -> None:
    def charge(value: Any) -> Any:
        raise CardDeclined("insufficient funds")

    stepline_runtime.register_task("charge", charge)
    done = await stepline_runtime.run({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "charge", "End": True}}}, {})
    assert (done.status, done.error, done.cause) == ("FAILED", "CardDeclined",
                                                     "insufficient funds")

    stepline_runtime.register_task("charge2", charge,
                                   error_names={CardDeclined: "Payment.Declined"})
    caught = await stepline_runtime.run({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "charge2", "End": True,
              "Catch": [{"ErrorEquals": ["Payment.Declined"], "ResultPath": "$.error",
                         "Next": "Handled"}]},
        "Handled": {"Type": "Pass", "End": True}}}, {"id": 1})
    assert caught.status == "SUCCEEDED"
    assert caught.output == {"id": 1, "error": {"Error": "Payment.Declined",
                                                "Cause": "insufficient funds"}}


async def test_retry_interval_passes_in_virtual_time(stepline_runtime: Runtime) -> None:
    calls: list[float] = []

    def flaky(value: Any) -> str:
        calls.append(stepline_runtime.clock.now())
        if len(calls) < 3:
            raise RuntimeError("try again")
        return "ok"

    stepline_runtime.register_task("flaky", flaky)
    done = await stepline_runtime.run({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "flaky", "End": True,
        "Retry": [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 30,
                   "BackoffRate": 2}]}}}, {})
    assert done.output == "ok"
    assert [round(b - a) for a, b in itertools.pairwise(calls)] == [30, 60]


async def test_unknown_task_resource_fails_the_task(stepline_runtime: Runtime) -> None:
    done = await stepline_runtime.run({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "nobody", "End": True}}}, {})
    assert (done.status, done.error) == ("FAILED", "States.TaskFailed")


# -- clocks -------------------------------------------------------------------------------------


async def test_virtual_clock_finishes_an_hour_wait_at_once_with_hour_apart_timestamps(
        stepline_runtime: Runtime) -> None:
    began = time.monotonic()
    done = await stepline_runtime.run(wait_machine(3600), {"a": 1})
    assert time.monotonic() - began < 1.0
    assert (done.status, done.output) == ("SUCCEEDED", {"a": 1, "status": "done"})
    history = stepline_runtime.get_execution_history(done.execution_arn)
    first, last = history[0]["timestamp"], history[-1]["timestamp"]
    assert (last - first).total_seconds() == pytest.approx(3600)
    assert done.stop_date is not None and done.stop_date - done.start_date == pytest.approx(3600)


async def test_system_clock_waits_for_real() -> None:
    async with Runtime(clock="system") as runtime:
        began = time.monotonic()
        done = await runtime.run(wait_machine(1), {})
        elapsed = time.monotonic() - began
    assert done.status == "SUCCEEDED"
    assert 1.0 <= elapsed < 3.0


async def test_a_thousand_concurrent_waiting_executions_all_succeed(
        stepline_runtime: Runtime) -> None:
    arn = await stepline_runtime.create_state_machine("waits", wait_machine(600))
    with anyio.fail_after(5):
        executions = [await stepline_runtime.start_execution(arn, {"i": i})
                      for i in range(1000)]
        outcomes = [await stepline_runtime.wait(execution) for execution in executions]
    assert {o.status for o in outcomes} == {"SUCCEEDED"}
    assert [o.output["i"] for o in outcomes] == list(range(1000))


async def test_concurrent_waiting_executions_all_succeed(stepline_runtime: Runtime) -> None:
    arn = await stepline_runtime.create_state_machine("waits", wait_machine(600))
    executions = [await stepline_runtime.start_execution(arn, {"i": i}) for i in range(20)]
    outcomes = [await stepline_runtime.wait(execution) for execution in executions]
    assert {o.status for o in outcomes} == {"SUCCEEDED"}
    assert [o.output["i"] for o in outcomes] == list(range(20))


# -- execution API ------------------------------------------------------------------------------


async def test_stop_execution_aborts_a_running_execution(stepline_runtime: Runtime) -> None:
    release = anyio.Event()

    async def block(value: Any) -> Any:
        await release.wait()
        return value

    stepline_runtime.register_task("block", block)
    arn = await stepline_runtime.create_state_machine("blocked", {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "block", "End": True}}})
    execution = await stepline_runtime.start_execution(arn, {})
    await anyio.wait_all_tasks_blocked()
    assert stepline_runtime.describe_execution(execution).status == "RUNNING"
    stopped = await stepline_runtime.stop_execution(execution, error="Halt", cause="by test")
    assert (stopped.status, stopped.error, stopped.cause) == ("ABORTED", "Halt", "by test")
    release.set()
    types = [e["type"] for e in stepline_runtime.get_execution_history(execution)]
    assert types[-1] == "ExecutionAborted"


async def test_list_executions_filters_by_machine_and_status(stepline_runtime: Runtime) -> None:
    stepline_runtime.register_task("echo", lambda value: value)
    ok = await stepline_runtime.create_state_machine("ok", ECHO)
    bad = await stepline_runtime.create_state_machine("bad", {"StartAt": "F", "States": {
        "F": {"Type": "Fail", "Error": "No"}}})
    for index in range(3):
        await stepline_runtime.wait(await stepline_runtime.start_execution(ok, {"i": index}))
    failed = await stepline_runtime.start_execution(bad, {}, name="the-bad-one")
    await stepline_runtime.wait(failed)
    assert len(stepline_runtime.list_executions()) == 4
    assert len(stepline_runtime.list_executions(ok)) == 3
    assert [e.execution_arn for e in stepline_runtime.list_executions(status="FAILED")] == [
        failed]
    assert stepline_runtime.list_executions(ok, status="FAILED") == []
    assert failed.endswith(":execution:bad:the-bad-one")


async def test_execution_history_has_the_aws_shape(stepline_runtime: Runtime) -> None:
    stepline_runtime.register_task("echo", lambda value: value)
    done = await stepline_runtime.run({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.p", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 5, "Next": "T"},
        "T": {"Type": "Task", "Resource": "echo", "End": True}}}, {"in": True})
    history = stepline_runtime.get_execution_history(done.execution_arn)
    assert [e["type"] for e in history] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered",
        "WaitStateExited", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
        "TaskStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    assert [e["previousEventId"] for e in history] == list(range(0, len(history)))
    started, entered, exited = history[0], history[1], history[2]
    assert json.loads(started["executionStartedEventDetails"]["input"]) == {"in": True}
    assert entered["stateEnteredEventDetails"]["name"] == "P"
    assert json.loads(entered["stateEnteredEventDetails"]["input"]) == {"in": True}
    assert json.loads(exited["stateExitedEventDetails"]["output"]) == {
        "in": True, "p": {"x": 1}}
    scheduled = history[6]["taskScheduledEventDetails"]
    assert (scheduled["resource"], json.loads(scheduled["parameters"])) == (
        "echo", {"in": True, "p": {"x": 1}})
    assert json.loads(history[-1]["executionSucceededEventDetails"]["output"]) == done.output
    assert all(e["timestamp"].tzinfo is not None for e in history)


# -- API errors ---------------------------------------------------------------------------------


async def test_unknown_arns_raise_aws_error_codes(stepline_runtime: Runtime) -> None:
    missing_machine = "arn:aws:states:us-east-1:123456789012:stateMachine:nope"
    with pytest.raises(AslError) as machine_error:
        await stepline_runtime.start_execution(missing_machine, {})
    assert machine_error.value.code == "StateMachineDoesNotExist"
    missing_execution = "arn:aws:states:us-east-1:123456789012:execution:nope:x"
    for call in (stepline_runtime.describe_execution, stepline_runtime.get_execution_history):
        with pytest.raises(AslError) as execution_error:
            call(missing_execution)
        assert execution_error.value.code == "ExecutionDoesNotExist"


async def test_invalid_definition_is_rejected(stepline_runtime: Runtime) -> None:
    with pytest.raises(AslError) as error:
        await stepline_runtime.create_state_machine("broken", {"StartAt": "Missing", "States": {
            "A": {"Type": "Pass", "End": True}}})
    assert error.value.code == "InvalidDefinition"


async def test_invalid_input_json_is_rejected(stepline_runtime: Runtime) -> None:
    arn = await stepline_runtime.create_state_machine("echo", ECHO)
    with pytest.raises(AslError) as error:
        await stepline_runtime.start_execution(arn, input_json="{not json")
    assert error.value.code == "InvalidExecutionInput"


async def test_duplicate_execution_name_is_rejected(stepline_runtime: Runtime) -> None:
    # AWS: ExecutionAlreadyExists when the name is taken with a different input, or by a
    # closed execution.
    arn = await stepline_runtime.create_state_machine("waits", wait_machine(10))
    running = await stepline_runtime.start_execution(arn, {"v": 1}, name="once")
    with pytest.raises(AslError) as different_input:
        await stepline_runtime.start_execution(arn, {"v": 2}, name="once")
    assert different_input.value.code == "ExecutionAlreadyExists"
    await stepline_runtime.wait(running)
    with pytest.raises(AslError) as closed:
        await stepline_runtime.start_execution(arn, {"v": 1}, name="once")
    assert closed.value.code == "ExecutionAlreadyExists"


async def test_restarting_a_running_execution_with_the_same_input_is_idempotent(
        stepline_runtime: Runtime) -> None:
    # AWS StartExecution: "idempotent for STANDARD workflows ... same name and input as a
    # running execution, the call succeeds and returns the same response".
    release = anyio.Event()

    async def block(value: Any) -> Any:
        await release.wait()
        return value

    stepline_runtime.register_task("block", block)
    arn = await stepline_runtime.create_state_machine("blocked", {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "block", "End": True}}})
    first = await stepline_runtime.start_execution(arn, {"v": 1}, name="same")
    try:
        assert await stepline_runtime.start_execution(arn, {"v": 1}, name="same") == first
    finally:
        release.set()


@pytest.mark.anyio
async def test_stopping_an_execution_abandons_its_task_call_so_virtual_time_moves_on() -> None:
    """A call that never returns would otherwise hold virtual time still for everyone."""
    forever = anyio.Event()

    async def hang(value: Any) -> Any:
        await forever.wait()
        return value

    async with Runtime(clock="virtual", tasks={"hang": hang}) as rt:
        stuck = await rt.start_execution(await rt.create_state_machine("stuck", {
            "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "hang", "End": True}}}))
        await anyio.sleep(0.05)
        assert (await rt.stop_execution(stuck)).status == "ABORTED"
        with anyio.fail_after(5):
            waited = await rt.run({"StartAt": "W", "States": {"W": {
                "Type": "Wait", "Seconds": 3600, "End": True}}})
        assert waited.status == "SUCCEEDED"


@pytest.mark.anyio
async def test_execution_definition_is_the_one_the_execution_ran() -> None:
    first = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": True}}}
    async with Runtime(clock="virtual") as rt:
        done = await rt.run(first)
        assert json.loads(rt.execution_definition(done.execution_arn)) == first
