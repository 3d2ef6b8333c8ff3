"""Callback patterns as AWS defines them: `.waitForTaskToken` (the integration's answer only
submits the task; SendTaskSuccess/Failure ends it; HeartbeatSeconds needs SendTaskHeartbeat),
activities (workers poll GetActivityTask), and nested executions (`states:startExecution`,
`.sync`, `.sync:2`)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from integrations._base import TaskCall
from runtime import AslError, Runtime


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Outbox:
    """A fake queue service: remembers the task token each call carried."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.sent = anyio.Event()

    def __call__(self, message: Any, call: TaskCall) -> dict[str, str]:
        assert call.task_token is not None
        assert message["token"] == call.task_token  # $$.Task.Token reached the parameters
        self.tokens.append(call.task_token)
        self.sent.set()
        return {"MessageId": "m-1"}


def _waiting_definition(**extra: Any) -> dict[str, Any]:
    return {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "outbox", "Payload": {"token.$": "$$.Task.Token"}},
        "ResultPath": "$.answer", "End": True, **extra}}}


def _types(rt: Runtime, arn: str) -> list[str]:
    return [e["type"] for e in rt.get_execution_history(arn)]


@pytest.mark.anyio
async def test_wait_for_task_token_ends_with_send_task_success() -> None:
    outbox = Outbox()
    async with Runtime(clock="virtual", tasks={"outbox": outbox}) as rt:
        arn = await rt.start_execution(
            await rt.create_state_machine("ask", _waiting_definition()), {"q": 1})
        await outbox.sent.wait()
        await anyio.sleep(0.05)
        assert rt.describe_execution(arn).status == "RUNNING"
        rt.send_task_success(outbox.tokens[0], {"approved": True})
        done = await rt.wait(arn)
        assert done.output == {"q": 1, "answer": {"approved": True}}
        assert _types(rt, arn) == [
            "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
            "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
        with pytest.raises(AslError) as raised:
            rt.send_task_success(outbox.tokens[0], {})
        assert raised.value.code == "TaskTimedOut"
        with pytest.raises(AslError) as raised:
            rt.send_task_success("not-a-token", {})
        assert raised.value.code == "InvalidToken"


@pytest.mark.anyio
async def test_send_task_failure_is_caught_like_any_task_error() -> None:
    outbox = Outbox()
    definition = _waiting_definition(Catch=[{"ErrorEquals": ["Rejected"], "Next": "Caught"}])
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    del definition["States"]["Ask"]["End"]
    definition["States"]["Ask"]["Next"] = "Caught"
    async with Runtime(clock="virtual", tasks={"outbox": outbox}) as rt:
        arn = await rt.start_execution(await rt.create_state_machine("ask", definition), {})
        await outbox.sent.wait()
        rt.send_task_failure(outbox.tokens[0], error="Rejected", cause="no")
        done = await rt.wait(arn)
        assert done.status == "SUCCEEDED"
        assert done.output == {"Error": "Rejected", "Cause": "no"}


@pytest.mark.anyio
async def test_a_missed_heartbeat_times_the_task_out_and_heartbeats_keep_it_alive() -> None:
    outbox = Outbox()
    async with Runtime(clock="system", tasks={"outbox": outbox}) as rt:
        arn = await rt.start_execution(await rt.create_state_machine(
            "beats", _waiting_definition(HeartbeatSeconds=1, TimeoutSeconds=30)), {})
        await outbox.sent.wait()
        for _ in range(3):
            await anyio.sleep(0.5)
            rt.send_task_heartbeat(outbox.tokens[0])
        assert rt.describe_execution(arn).status == "RUNNING"
        done = await rt.wait(arn)  # no more heartbeats: times out about 1 s later
        # AWS records a missed heartbeat as TaskTimedOut with States.Timeout
        # (conformance: timeouts/test_heartbeats::test_heartbeat_timeout).
        assert (done.status, done.error) == ("FAILED", "States.Timeout")
        assert "TaskTimedOut" in _types(rt, arn)


@pytest.mark.anyio
async def test_activity_workers_poll_and_answer_with_the_token() -> None:
    async with Runtime(clock="virtual") as rt:
        activity = await rt.create_activity("approve")
        definition = {"StartAt": "A", "States": {"A": {
            "Type": "Task", "Resource": activity, "End": True}}}
        arn = await rt.start_execution(await rt.create_state_machine("act", definition),
                                       {"amount": 5})
        task = await rt.get_activity_task(activity, worker_name="w1", timeout=5)
        assert task is not None
        token, task_input = task
        assert task_input == {"amount": 5}
        rt.send_task_success(token, {"ok": True})
        done = await rt.wait(arn)
        assert done.output == {"ok": True}
        history = rt.get_execution_history(arn)
        assert [e["type"] for e in history] == [
            "ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
            "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"]
        started = history[3]["activityStartedEventDetails"]
        assert started == {"workerName": "w1"}
        assert await rt.get_activity_task(activity, timeout=0.05) is None


CHILD = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"Arg1": "argument1"},
                                           "End": True}}}


@pytest.mark.anyio
@pytest.mark.parametrize(("suffix", "output"), [
    (".sync", '{"Arg1":"argument1"}'), (".sync:2", {"Arg1": "argument1"})])
async def test_start_execution_sync_waits_for_the_child(suffix: str, output: Any) -> None:
    async with Runtime(clock="virtual") as rt:
        child = await rt.create_state_machine("child", CHILD)
        parent = {"StartAt": "Start", "States": {"Start": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution" + suffix,
            "Parameters": {"StateMachineArn": child, "Input": {}, "Name": "kid"},
            "End": True}}}
        done = await rt.run(await rt.create_state_machine("parent", parent))
        assert done.status == "SUCCEEDED"
        assert done.output["Status"] == "SUCCEEDED"
        assert done.output["Output"] == output
        assert done.output["ExecutionArn"].endswith(":execution:child:kid")
        assert "TaskSubmitted" in _types(rt, done.execution_arn)


@pytest.mark.anyio
async def test_start_execution_of_an_unknown_machine_fails_as_aws_words_it() -> None:
    async with Runtime(clock="virtual") as rt:
        parent = {"StartAt": "Start", "States": {"Start": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
            "Parameters": {"StateMachineArn":
                           "arn:aws:states:us-east-1:123456789012:stateMachine:nope"},
            "End": True}}}
        done = await rt.run(parent)
        assert done.error == "StepFunctions.StateMachineDoesNotExistException"
        assert done.cause is not None and done.cause.startswith(
            "State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:"
            "stateMachine:nope' (Service: AWSStepFunctions; Status Code: 400; "
            "Error Code: StateMachineDoesNotExist;")


@pytest.mark.anyio
async def test_aws_sdk_sfn_calls_reach_the_runtime_itself() -> None:
    """An activity worker written as a state machine: it polls with aws-sdk:sfn:getActivityTask
    and answers with aws-sdk:sfn:sendTaskSuccess, served in-process."""
    async with Runtime(clock="virtual") as rt:
        activity = await rt.create_activity("sdk-worker")
        target = await rt.create_state_machine("target", {"StartAt": "A", "States": {"A": {
            "Type": "Task", "Resource": activity, "End": True}}})
        worker = await rt.create_state_machine("worker", {"StartAt": "Poll", "States": {
            "Poll": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:getActivityTask",
                     "Parameters": {"ActivityArn": activity, "WorkerName": "sdk"},
                     "Next": "Answer"},
            "Answer": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
                       "Parameters": {"TaskToken.$": "$.TaskToken", "Output.$": "$.Input"},
                       "End": True}}})
        job = await rt.start_execution(target, {"Value1": "HelloWorld"})
        assert (await rt.run(worker)).status == "SUCCEEDED"
        assert (await rt.wait(job)).output == {"Value1": "HelloWorld"}
        bad = await rt.run({"StartAt": "S", "States": {"S": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
            "Parameters": {"TaskToken": "nope", "Output": "{}"}, "End": True}}})
        assert bad.error == "Sfn.InvalidTokenException"
        assert bad.cause is not None and bad.cause.startswith(
            "Invalid Token: 'Invalid token' (Service: Sfn, Status Code: 400, Request ID: ")
