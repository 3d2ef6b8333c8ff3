"""TestState: the pure runner (runtime.teststate) and the operation over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from runtime.errors import AslError
from runtime.teststate import Mock
from runtime.teststate import TestRun as Run  # aliased: pytest collects Test* names
from runtime.teststate import TestStateRequest as Request
from runtime.teststate import TestStateResult as Result

TASK = {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "ResultSelector": {"p.$": "$.Payload"}, "ResultPath": "$.out", "Next": "After",
    "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2, "IntervalSeconds": 3}],
    "Catch": [{"ErrorEquals": ["Other"], "Next": "Ignore"},
              {"ErrorEquals": ["States.ALL"], "Next": "Handler", "ResultPath": "$.err"}],
}


def _run(state: dict[str, Any], **options: Any) -> Result:
    run = Run(Request(definition=json.dumps(state), **options), now=1_700_000_000)
    assert not run.pending()
    return run.result()


def test_mocked_task_result_goes_through_the_result_data_flow() -> None:
    result = _run(TASK, input='{"a": 1}', mock=Mock(result='{"Payload": 5}'),
                  inspection_level="DEBUG")
    assert (result.status, result.nextState) == ("SUCCEEDED", "After")
    assert json.loads(result.output or "") == {"a": 1, "out": {"p": 5}}
    assert result.inspectionData == {
        "input": '{"a":1}', "afterInputPath": '{"a":1}', "result": '{"Payload":5}',
        "afterResultSelector": '{"p":5}', "afterResultPath": '{"a":1,"out":{"p":5}}'}


def test_mocked_error_a_retrier_matches_is_retriable() -> None:
    result = _run(TASK, mock=Mock(error="Flaky", cause="try again"), inspection_level="DEBUG")
    assert (result.status, result.error, result.cause, result.output) == (
        "RETRIABLE", "Flaky", "try again", None)
    assert result.inspectionData is not None
    assert result.inspectionData["errorDetails"] == {
        "retryIndex": 0, "retryBackoffIntervalSeconds": 3}


def test_retries_used_up_fall_through_to_catch() -> None:
    """stateConfiguration.retrierRetryCount: retries already made by the matching Retrier."""
    result = _run(TASK, input="{}", mock=Mock(error="Flaky", cause="c"),
                  retrier_retry_count=2, inspection_level="TRACE")
    assert (result.status, result.nextState, result.error) == ("CAUGHT_ERROR", "Handler", "Flaky")
    assert json.loads(result.output or "") == {"err": {"Error": "Flaky", "Cause": "c"}}
    assert result.inspectionData is not None
    assert result.inspectionData["errorDetails"] == {"catchIndex": 1}


def test_uncaught_states_fail() -> None:
    failed = _run({"Type": "Fail", "Error": "Bad", "Cause": "why"})
    assert (failed.status, failed.error, failed.cause) == ("FAILED", "Bad", "why")
    no_choice = _run({"Type": "Choice", "Choices": [
        {"Variable": "$.x", "NumericEquals": 1, "Next": "One"}]}, input='{"x": 2}')
    assert (no_choice.status, no_choice.error) == ("FAILED", "States.NoChoiceMatched")


def test_flow_states_report_their_next_state_without_waiting() -> None:
    assert _run({"Type": "Wait", "Seconds": 3600, "Next": "Later"}).nextState == "Later"
    choice = _run({"Type": "Choice", "Default": "D", "Choices": [
        {"Variable": "$.x", "NumericEquals": 1, "Next": "One"}]}, input='{"x": 1}')
    assert (choice.status, choice.nextState) == ("SUCCEEDED", "One")


def test_variables_and_assign() -> None:
    result = _run({"Type": "Pass", "Assign": {"v.$": "$.a"}, "End": True}, input='{"a": 1}',
                  variables='{"w": 2}', inspection_level="DEBUG")
    assert result.nextState is None
    assert result.inspectionData is not None
    assert json.loads(result.inspectionData["variables"]) == {"w": 2, "v": 1}


def test_state_of_a_whole_machine_by_name() -> None:
    machine = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                          "B": {"Type": "Pass", "Result": 3, "End": True}}}
    result = _run(machine, state_name="B")
    assert (result.status, result.output) == ("SUCCEEDED", "3")


def test_mocked_map_result() -> None:
    state = {"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "End": True}}}, "ResultPath": "$.r", "End": True}
    result = _run(state, input="{}", mock=Mock(result="[1, 2]"))
    assert json.loads(result.output or "") == {"r": [1, 2]}


def test_task_without_mock_waits_for_its_call() -> None:
    run = Run(Request(definition=json.dumps(TASK), input='{"n": 1}'), now=0)
    [call] = run.pending()
    assert call.parameters == {"n": 1}
    run.complete(call.key, output={"Payload": 7})
    assert json.loads(run.result().output or "") == {"n": 1, "out": {"p": 7}}


@pytest.mark.parametrize(("state", "options", "code"), [
    ({"Type": "Pass", "End": True}, {"mock": Mock(result="1")}, "ValidationException"),
    ({"Type": "Pass", "Next": 3}, {}, "InvalidDefinition"),
    ({"Type": "Pass", "End": True}, {"input": "{bad"}, "InvalidExecutionInput"),
])
def test_bad_requests(state: dict[str, Any], options: dict[str, Any], code: str) -> None:
    with pytest.raises(AslError) as error:
        Run(Request(definition=json.dumps(state), **options), now=0)
    assert error.value.code == code


def test_over_http_with_mock_and_with_a_real_task(sfn: Any) -> None:
    mocked = sfn.test_state(definition=json.dumps(TASK), input="{}", inspectionLevel="DEBUG",
                            mock={"errorOutput": {"error": "Flaky", "cause": "c"}})
    assert mocked["status"] == "RETRIABLE"
    assert mocked["inspectionData"]["errorDetails"]["retryIndex"] == 0
    real = sfn.test_state(definition=json.dumps(
        {"Type": "Task", "Resource": "double", "End": True}), input='{"n": 21}')
    assert (real["status"], json.loads(real["output"])) == ("SUCCEEDED", {"doubled": 42})
    with pytest.raises(ClientError) as error:
        sfn.test_state(definition=json.dumps({"Type": "Pass", "End": True}),
                       mock={"result": "1"})
    assert error.value.response["Error"]["Code"] == "ValidationException"
