"""Executions bound to a test case answer their Task states from the mock configuration."""

from __future__ import annotations

from typing import Any

import pytest

from integrations._base import JSON, TaskCall, TaskError
from integrations.mocks import MockedIntegrations
from runtime import Runtime
from tests.integrations_mocks._support import event_types, run_test_case
from tests.integrations_mocks.test_config import LOCALSTACK_EXAMPLE

pytestmark = pytest.mark.anyio

# The state machine of LocalStack's mocked-integrations guide, with a Catch and a third task.
DEFINITION: dict[str, Any] = {
    "StartAt": "LambdaState",
    "States": {
        "LambdaState": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "GreetingsFunction", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["Lambda.ServiceException",
                                       "Lambda.TooManyRequestsException"],
                       "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}],
            "ResultSelector": {"greeting.$": "$.Payload.greeting"},
            "ResultPath": "$.lambda",
            "Next": "SQSState",
        },
        "SQSState": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://sqs/q", "MessageBody.$": "$.lambda.greeting"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                       "Next": "Notify"}],
            "ResultPath": "$.sqs",
            "Next": "Notify",
        },
        "Notify": {
            "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "x"},
            "ResultSelector": {"id.$": "$.MessageId"},
            "ResultPath": "$.sns",
            "End": True,
        },
    },
}

CONFIG: dict[str, Any] = {
    "StateMachines": {"Greetings": {"TestCases": {
        "RetryThenCatch": {"LambdaState": "LambdaRetry", "SQSState": "QueueMissing",
                           "Notify": "Published"},
        "TooFewResponses": {"LambdaState": "LambdaFailsOnce"},
        "Hybrid": {"LambdaState": "LambdaOk"},
    }}},
    "MockedResponses": {
        "LambdaRetry": {
            "0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "internal"}},
            "1-2": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "rate"}},
            "3": {"Return": {"StatusCode": 200, "Payload": {"greeting": "Hello Ada"}}},
        },
        "LambdaFailsOnce": {
            "0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "internal"}}},
        "LambdaOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"greeting": "Hi"}}}},
        "QueueMissing": {"0": {"Throw": {"Error": "SQS.QueueDoesNotExistException",
                                         "Cause": "The queue does not exist."}}},
        "Published": {"0": {"Return": {"MessageId": "m-1"}}},
    },
}


async def test_return_throw_retry_and_catch_consume_ranges_in_order() -> None:
    mocks = MockedIntegrations(CONFIG)
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        arn = await rt.create_state_machine("Greetings", DEFINITION)
        done = await run_test_case(rt, mocks, f"{arn}#RetryThenCatch", {"name": "Ada"})
        assert done.status == "SUCCEEDED"
        assert done.output == {
            "name": "Ada", "lambda": {"greeting": "Hello Ada"},
            "error": {"Error": "SQS.QueueDoesNotExistException",
                      "Cause": "The queue does not exist."},
            "sns": {"id": "m-1"}}
        assert mocks.invocations(done.execution_arn) == {
            "LambdaState": 4, "SQSState": 1, "Notify": 1}
        failures = [e["taskFailedEventDetails"]["error"]
                    for e in rt.get_execution_history(done.execution_arn)
                    if e["type"] == "TaskFailed"]
        assert failures == ["Lambda.ServiceException", "Lambda.TooManyRequestsException",
                            "Lambda.TooManyRequestsException", "SQS.QueueDoesNotExistException"]
        # Virtual time still follows the retry intervals: 2 + 4 + 8 seconds.
        assert done.stop_date is not None and done.stop_date - done.start_date >= 14


async def test_invocation_past_the_last_entry_fails_the_execution() -> None:
    # AWS: "If you do not specify a mocked response, the state machine execution will fail";
    # States.Runtime is not retried by the Retry on Lambda errors, nor caught by States.ALL.
    definition = {**DEFINITION, "States": {**DEFINITION["States"], "LambdaState": {
        **DEFINITION["States"]["LambdaState"],
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Notify"}]}}}
    mocks = MockedIntegrations(CONFIG)
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        arn = await rt.create_state_machine("Greetings", definition)
        done = await run_test_case(rt, mocks, f"{arn}#TooFewResponses", {})
    assert done.status == "FAILED"
    assert done.error == "States.Runtime"
    assert done.cause == ("No mocked response for invocation 1 of state 'LambdaState': mocked "
                          "response 'LambdaFailsOnce' answers invocations 0-0")


def _without_next(state: dict[str, Any]) -> dict[str, Any]:
    return {field: value for field, value in state.items() if field != "Next"}


class _FakeQueue:
    """Stands in for the real integrations an unmocked state falls through to."""

    def __init__(self) -> None:
        self.calls: list[TaskCall] = []

    def resolve_call(self, resource: str, parameters: JSON) -> _FakeQueue | None:
        return self if resource.startswith("arn:aws:states:::sqs:") else None

    async def invoke(self, call: TaskCall) -> JSON:
        self.calls.append(call)
        return {"MessageId": "real-1"}


async def test_unmocked_states_fall_through_to_the_fallback_integrations() -> None:
    queue = _FakeQueue()
    mocks = MockedIntegrations(CONFIG, fallback=(queue,))
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        arn = await rt.create_state_machine("Greetings", DEFINITION)
        done = await run_test_case(rt, mocks, f"{arn}#Hybrid", {})
    assert [call.state_name for call in queue.calls] == ["SQSState"]
    assert queue.calls[0].parameters == {"QueueUrl": "https://sqs/q", "MessageBody": "Hi"}
    # Notify is neither mocked nor served: the Task fails as an unserved resource does.
    assert done.status == "FAILED"
    assert done.error == "States.TaskFailed"
    assert done.cause == "No task handler serves the resource 'arn:aws:states:::sns:publish'"


async def test_execution_started_without_test_case_is_not_mocked() -> None:
    mocks = MockedIntegrations(CONFIG)
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        rt.register_task("GreetingsFunction", lambda event: {"greeting": "real"})
        arn = await rt.create_state_machine("Greetings", {"StartAt": "LambdaState", "States": {
            "LambdaState": {**_without_next(DEFINITION["States"]["LambdaState"]),
                            "End": True}}})
        done = await run_test_case(rt, mocks, arn, {})  # started without '#TestCase'
        assert mocks.resolve_call("arn:aws:states:::sqs:sendMessage", {}) is None
    assert done.output == {"lambda": {"greeting": "real"}}


async def test_runtime_sources_as_fallback_skip_the_mocks_themselves() -> None:
    queue = _FakeQueue()
    mocks = MockedIntegrations(CONFIG)
    async with Runtime(clock="virtual", sources=(mocks, queue)) as rt:
        mocks.fallback = rt.resolver.sources
        rt.register_task("publish", lambda event: {"MessageId": "py-1"})
        arn = await rt.create_state_machine("Greetings", {**DEFINITION, "States": {
            **DEFINITION["States"], "Notify": {**DEFINITION["States"]["Notify"],
                                                "Resource": "publish", "Parameters": {}}}})
        done = await run_test_case(rt, mocks, f"{arn}#Hybrid", {})
    assert done.status == "SUCCEEDED"
    assert done.output == {"lambda": {"greeting": "Hi"}, "sqs": {"MessageId": "real-1"},
                           "sns": {"id": "py-1"}}


async def test_localstack_file_runs_the_same_way() -> None:
    mocks = MockedIntegrations(LOCALSTACK_EXAMPLE)
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        arn = await rt.create_state_machine("LambdaSQSIntegration", {
            "StartAt": "LambdaState", "States": {
                "LambdaState": {**DEFINITION["States"]["LambdaState"], "Next": "SQSState"},
                "SQSState": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                             "Parameters": {"QueueUrl": "q", "MessageBody": "m"},
                             "End": True}}})
        done = await run_test_case(rt, mocks, f"{arn}#LambdaRetryCase", {"name": "John"})
    assert done.status == "SUCCEEDED"
    assert done.output == "message sent"


async def test_python_callables_answer_with_the_task_call() -> None:
    async def charge(call: TaskCall) -> JSON:
        if call.retry_count == 0:
            raise ConnectionError("flaky network")
        return {"charged": call.parameters["amount"], "attempt": call.retry_count}

    config = {
        "StateMachines": {"Pay": {"TestCases": {"Py": {"Charge": "Charge"}}}},
        "MockedResponses": {"Charge": charge},
    }
    mocks = MockedIntegrations(config)
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        arn = await rt.create_state_machine("Pay", {"StartAt": "Charge", "States": {"Charge": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:charge",
            "Retry": [{"ErrorEquals": ["ConnectionError"], "MaxAttempts": 1}],
            "End": True}}})
        done = await run_test_case(rt, mocks, f"{arn}#Py", {"amount": 5})
        # A bare function ARN: AWS records LambdaFunction* events, not Task* ones.
        assert "LambdaFunctionFailed" in event_types(rt, done.execution_arn)
    assert done.output == {"charged": 5, "attempt": 1}


async def test_counter_is_per_state_across_map_iterations() -> None:
    # Step Functions Local keeps one counter per state per execution; AWS advises
    # MaxConcurrency 1 for a predictable order.
    config = {"StateMachines": {"Batch": {"TestCases": {"T": {"Charge": "Charges"}}}},
              "MockedResponses": {"Charges": {
                  "0": {"Return": "first"},
                  "1-2": {"Return": "later"},
                  "3": {"Throw": {"Error": "Declined", "Cause": "card"}}}}}
    mocks = MockedIntegrations(config)
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        arn = await rt.create_state_machine("Batch", {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "MaxConcurrency": 1,
            "ItemProcessor": {"StartAt": "Charge", "States": {"Charge": {
                "Type": "Task", "Resource": "charge",
                "Catch": [{"ErrorEquals": ["Declined"], "Next": "Skipped"}], "End": True},
                "Skipped": {"Type": "Pass", "Result": "skipped", "End": True}}},
            "End": True}}})
        done = await run_test_case(rt, mocks, f"{arn}#T", [1, 2, 3, 4])
    assert done.output == ["first", "later", "later", "skipped"]


async def test_callback_task_result_is_delivered_as_its_callback() -> None:
    config = {"StateMachines": {"Approval": {"TestCases": {"T": {"Ask": "Approved"}}}},
              "MockedResponses": {"Approved": {"0": {"Return": {"approved": True}}}}}
    mocks = MockedIntegrations(config)
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        mocks.callbacks = rt
        arn = await rt.create_state_machine("Approval", {"StartAt": "Ask", "States": {"Ask": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
            "End": True}}})
        done = await run_test_case(rt, mocks, f"{arn}#T", {})
        types = event_types(rt, done.execution_arn)
    assert done.output == {"approved": True}
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                     "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


async def test_callback_task_without_a_sink_fails_clearly() -> None:
    config = {"StateMachines": {"Approval": {"TestCases": {"T": {"Ask": "Approved"}}}},
              "MockedResponses": {"Approved": {"0": {"Return": 1}}}}
    mocks = MockedIntegrations(config)
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        arn = await rt.create_state_machine("Approval", {"StartAt": "Ask", "States": {"Ask": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
            "End": True}}})
        done = await run_test_case(rt, mocks, f"{arn}#T", {})
    assert done.error == "States.Runtime"
    assert done.cause is not None and "callbacks" in done.cause


async def test_release_forgets_the_execution() -> None:
    mocks = MockedIntegrations(CONFIG)
    arn = "arn:aws:states:us-east-1:123456789012:execution:Greetings:x"
    mocks.bind(arn, "Greetings", "Hybrid")
    assert mocks.resolve_call("anything", {}) is mocks
    mocks.release(arn)
    assert mocks.resolve_call("anything", {}) is None
    assert mocks.invocations(arn) == {}


async def test_mocked_throw_is_a_task_error() -> None:
    mocks = MockedIntegrations(CONFIG)
    arn = "arn:aws:states:us-east-1:123456789012:execution:Greetings:y"
    mocks.bind(arn, "Greetings", "TooFewResponses")
    call = TaskCall(resource="arn:aws:states:::lambda:invoke", parameters={},
                    execution_arn=arn, state_name="LambdaState")
    with pytest.raises(TaskError) as caught:
        await mocks.invoke(call)
    assert (caught.value.error, caught.value.cause) == ("Lambda.ServiceException", "internal")
