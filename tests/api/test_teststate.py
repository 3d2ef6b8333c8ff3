"""TestState: the pure runner (runtime.teststate) and the operation over HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from botocore.exceptions import ClientError
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.errors import AslError
from runtime.teststate import Mock
from runtime.teststate import TestRun as Run  # aliased: pytest collects Test* names
from runtime.teststate import TestStateRequest as Request
from runtime.teststate import TestStateResult as Result
from tests.api.conftest import ROLE

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
    state = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "End": True}}}, "ResultPath": "$.r", "End": True}
    result = _run(state, input='{"items": [1, 2]}', mock=Mock(result="[1, 2]"))
    assert json.loads(result.output or "") == {"items": [1, 2], "r": [1, 2]}


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


# -- mocks of Map and Parallel, stateConfiguration, fieldValidationMode --------------------

MAP = {
    "Type": "Map", "ItemsPath": "$.Values", "MaxConcurrency": 2, "ToleratedFailureCount": 1,
    "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
    "ItemBatcher": {"MaxItemsPerBatch": 2},
    "ItemProcessor": {"StartAt": "HandleItem", "States": {
        "HandleItem": {"Type": "Pass", "End": True}}},
    "ResultPath": "$.r", "Next": "After",
    "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 1, "IntervalSeconds": 2}],
    "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
               "Next": "HandleThreshold", "ResultPath": "$.err"}],
}
VALUES = '{"Values": ["a", "b", "c"]}'


def test_map_inspection_names_its_item_stages_and_limits() -> None:
    result = _run(MAP, input=VALUES, mock=Mock(result="[1, 2]"), inspection_level="DEBUG")
    assert (result.status, result.nextState) == ("SUCCEEDED", "After")
    data = result.inspectionData or {}
    assert json.loads(data["afterItemsPath"]) == ["a", "b", "c"]
    assert json.loads(data["afterItemBatcher"]) == [{"Items": ["a", "b"]}, {"Items": ["c"]}]
    assert json.loads(data["afterItemSelector"]) == [
        {"v": {"Items": ["a", "b"]}, "i": 0}, {"v": {"Items": ["c"]}, "i": 1}]
    assert (data["maxConcurrency"], data["toleratedFailureCount"]) == (2, 1)
    assert "toleratedFailurePercentage" not in data
    assert json.loads(data["afterResultPath"])["r"] == [1, 2]


def test_map_iteration_failures_over_the_threshold_are_caught() -> None:
    """AWS (recorded): more failed iterations than ToleratedFailureCount fail the Map with
    States.ExceedToleratedFailureThreshold, which goes to its Retry/Catch."""
    below = _run(MAP, input=VALUES, mock=Mock(result="[1, 1, 1]"), map_iteration_failure_count=1)
    assert below.status == "SUCCEEDED"
    over = _run(MAP, input=VALUES, mock=Mock(result="[0, 0, 1]"), map_iteration_failure_count=2,
                inspection_level="DEBUG")
    assert (over.status, over.nextState, over.error) == (
        "CAUGHT_ERROR", "HandleThreshold", "States.ExceedToleratedFailureThreshold")
    assert json.loads(over.output or "")["err"]["Cause"] == (
        "The specified tolerated failure threshold was exceeded")
    assert (over.inspectionData or {})["errorDetails"] == {"catchIndex": 0}


def test_map_iteration_failures_without_a_threshold_are_ignored() -> None:
    """AWS (recorded): with neither ToleratedFailure* field set the count changes nothing."""
    state = {**MAP}
    del state["ToleratedFailureCount"]
    assert _run(state, input=VALUES, mock=Mock(result="[1]"),
                map_iteration_failure_count=3).status == "SUCCEEDED"


def test_map_tolerated_percentage_counts_the_items() -> None:
    state = {**MAP, "ToleratedFailurePercentage": 50}
    del state["ToleratedFailureCount"]
    assert _run(state, input=VALUES, mock=Mock(result="[1]"),
                map_iteration_failure_count=1).status == "SUCCEEDED"
    assert _run(state, input=VALUES, mock=Mock(result="[1]"),
                map_iteration_failure_count=2).status == "CAUGHT_ERROR"


def test_mocked_map_error_caused_by_an_inner_state_goes_to_retry() -> None:
    result = _run(MAP, input=VALUES, mock=Mock(error="Flaky", cause="c"),
                  error_caused_by_state="HandleItem", inspection_level="TRACE")
    assert (result.status, result.error) == ("RETRIABLE", "Flaky")
    assert (result.inspectionData or {})["errorDetails"] == {
        "retryIndex": 0, "retryBackoffIntervalSeconds": 2}
    failed = _run(MAP, input=VALUES, mock=Mock(error="Other", cause="c"),
                  error_caused_by_state="HandleItem")
    assert (failed.status, failed.error, failed.cause) == ("FAILED", "Other", "c")
    with pytest.raises(AslError) as error:
        _run(MAP, input=VALUES, mock=Mock(error="Flaky"), error_caused_by_state="Nowhere")
    assert error.value.code == "ValidationException"


def test_item_reader_data_stands_for_s3() -> None:
    state = {"Type": "Map", "ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key"}},
        "ItemSelector": {"n.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True}
    result = _run(state, input='{"Bucket": "b", "Key": "k"}', mock=Mock(result="[1, 4, 9]"),
                  map_item_reader_data="[1, 2, 3]", inspection_level="DEBUG")
    assert (result.status, result.output) == ("SUCCEEDED", "[1,4,9]")
    data = result.inspectionData or {}
    assert json.loads(data["afterItemSelector"]) == [{"n": 1}, {"n": 2}, {"n": 3}]
    unread = _run(state, input='{"Bucket": "b", "Key": "k"}', mock=Mock(result="[1]"),
                  inspection_level="DEBUG")
    assert "afterItemSelector" not in (unread.inspectionData or {})


def test_mocked_parallel_result_and_its_shape() -> None:
    state = {"Type": "Parallel", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}],
        "ResultSelector": {"first.$": "$[0]"}, "End": True}
    result = _run(state, input="{}", mock=Mock(result='["x", "y"]'), inspection_level="DEBUG")
    assert (result.status, result.output) == ("SUCCEEDED", '{"first":"x"}')
    assert (result.inspectionData or {})["afterResultSelector"] == '{"first":"x"}'
    with pytest.raises(AslError) as error:
        _run(state, mock=Mock(result='["x"]'))
    assert error.value.message == ("Mocked result must contain the same number of items as "
                                   "number of Parallel branches.")


@pytest.mark.parametrize(("state", "options", "message"), [
    (MAP, {}, "TestState API does not support Map or Parallel states. Supported state types "
              "include: [Task, Wait, Pass, Succeed, Fail, Choice]"),
    (MAP, {"mock": Mock(result="{}")}, "Mocked result must be an array."),
    ({**MAP, "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                              "Parameters": {"Bucket": "b", "Prefix": "p"}}},
     {"mock": Mock(result="[]")}, "Mocked result must be a JSON object."),
    ({"Type": "Succeed"}, {"mock": Mock(error="E")},
     "State type 'Succeed' is not supported when a mock is specified"),
    (TASK, {"mock": Mock(result="{}", error="E")},
     "A test mock should have only one of the following fields: [result, errorOutput]."),
    (TASK, {"mock": Mock(result="{}"), "reveal_secrets": True},
     "TestState does not support RevealSecrets when a mock is specified."),
])
def test_aws_refusals(state: dict[str, Any], options: dict[str, Any], message: str) -> None:
    """Messages as AWS answers them (recorded against AWS by LocalStack's parity tests)."""
    with pytest.raises(AslError) as error:
        _run(state, input=VALUES, **options)
    assert error.value.message == message


SFN_START = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution", "End": True}
LAMBDA = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}


@pytest.mark.parametrize(("state", "result", "message"), [
    (SFN_START, {"StartDate": "2025-01-01"}, "Required field 'ExecutionArn' is missing"),
    (SFN_START, {"ExecutionArn": "a", "StartDate": 5}, "Field 'StartDate' must be a string"),
    (LAMBDA, {"StatusCode": "200"}, "Field 'StatusCode' must be a number"),
    ({**LAMBDA, "Resource": "arn:aws:states:::events:putEvents"},
     {"Entries": [{"EventId": "a"}, {"EventId": 2}]}, "Field 'EventId' must be a string"),
    ({**LAMBDA, "Resource": "arn:aws:states:::aws-sdk:s3:getObject"},
     {"StorageClass": "COLD"}, "Field 'StorageClass' is not an expected value"),
    ({**LAMBDA, "Resource": "arn:aws:states:::aws-sdk:lambda:getFunction"},
     {"Configuration": {"MemorySize": 1}}, "Field 'MemorySize' is less than the minimum value"),
])
def test_strict_field_validation(state: dict[str, Any], result: Any, message: str) -> None:
    with pytest.raises(AslError) as error:
        _run(state, mock=Mock(result=json.dumps(result)))
    assert (error.value.code, error.value.message) == (
        "ValidationException", f"Mock result schema validation error: {message}")


def test_present_and_none_modes_relax_the_check() -> None:
    missing = json.dumps({"StartDate": "2025-01-01"})
    assert _run(SFN_START, mock=Mock(result=missing, field_validation_mode="PRESENT")
                ).status == "SUCCEEDED"
    with pytest.raises(AslError):
        _run(SFN_START, mock=Mock(result='{"StartDate": 1}', field_validation_mode="PRESENT"))
    assert _run(SFN_START, mock=Mock(result='{"StartDate": 1}', field_validation_mode="NONE")
                ).status == "SUCCEEDED"
    # Members the API does not declare are accepted (AWS: {"random": "json"} for lambda:invoke).
    assert _run(LAMBDA, mock=Mock(result='{"random": "json"}')).output == '{"random":"json"}'


def test_state_nested_in_a_map_or_a_parallel_by_name() -> None:
    machine = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "M", "States": {"M": {**MAP, "Next": "Inner", "Catch": []},
                                    "Inner": {"Type": "Pass", "Result": 7, "Next": "Last"},
                                    "Last": {"Type": "Succeed"}}}]}}}
    inner = _run(machine, state_name="Inner")
    assert (inner.status, inner.output, inner.nextState) == ("SUCCEEDED", "7", "Last")
    item = _run(machine, state_name="HandleItem", input='{"x": 1}')
    assert (item.status, item.output) == ("SUCCEEDED", '{"x":1}')


def test_wire_request_carries_every_member() -> None:
    from runtime.teststate_wire import request_from_body

    request = request_from_body({
        "definition": "{}", "inspectionLevel": "TRACE", "revealSecrets": False,
        "mock": {"result": "[]", "fieldValidationMode": "PRESENT"},
        "stateConfiguration": {"retrierRetryCount": 1, "errorCausedByState": "S",
                               "mapIterationFailureCount": 2, "mapItemReaderData": "[1]"}})
    assert request.mock == Mock(result="[]", field_validation_mode="PRESENT")
    assert (request.retrier_retry_count, request.error_caused_by_state,
            request.map_iteration_failure_count, request.map_item_reader_data) == (
        1, "S", 2, "[1]")
    for bad in ({"mock": {"fieldValidationMode": "LOOSE"}},
                {"stateConfiguration": {"mapIterationFailureCount": -1}}):
        with pytest.raises(AslError) as error:
            request_from_body({"definition": "{}", **bad})
        assert error.value.code == "ValidationException"


def test_map_and_parallel_mocks_over_http(sfn: Any) -> None:
    mocked = sfn.test_state(definition=json.dumps(MAP), input=VALUES, inspectionLevel="DEBUG",
                            mock={"result": "[1, 2]"})
    assert (mocked["status"], mocked["nextState"]) == ("SUCCEEDED", "After")
    data = mocked["inspectionData"]
    assert (data["maxConcurrency"], data["toleratedFailureCount"]) == (2, 1)
    assert json.loads(data["afterItemsPath"]) == ["a", "b", "c"]
    caught = sfn.test_state(definition=json.dumps(MAP), input=VALUES, inspectionLevel="DEBUG",
                            mock={"errorOutput": {"error": "Flaky", "cause": "c"}},
                            stateConfiguration={"retrierRetryCount": 1})
    assert (caught["status"], caught["error"]) == ("FAILED", "Flaky")
    with pytest.raises(ClientError) as error:
        sfn.test_state(definition=json.dumps(MAP), input=VALUES)
    assert error.value.response["Error"]["Code"] == "InvalidDefinition"
    with pytest.raises(ClientError) as error:
        sfn.test_state(definition=json.dumps(SFN_START), mock={"result": "{}"})
    assert error.value.response["Error"]["Message"] == (
        "Mock result schema validation error: Required field 'ExecutionArn' is missing")


# -- TRACE: the raw exchange of an HTTP Task ----------------------------------------------------

async def _echo(request: HttpRequest) -> Response:
    return JSONResponse({"got": (await request.body()).decode()},
                        status_code=int(request.query_params.get("status", "200")),
                        headers={"X-Trace": "abc"})


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    """A small API on 127.0.0.1 for the HTTP Task, served from a thread of this process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(
        Starlette(routes=[Route("/echo", _echo, methods=["POST"])]), host="127.0.0.1",
        port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _http_task(url: str) -> str:
    return json.dumps({
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
        "Parameters": {"ApiEndpoint": url, "Method": "POST",
                       "Authentication": {
                           "ConnectionArn": "arn:aws:events:us-east-1:1:connection/c/1"},
                       "Headers": {"Authorization": "Bearer s3cret", "X-Custom": "one"},
                       "QueryParameters": {"q": "x"}, "RequestBody": {"k.$": "$.k"}},
        "ResultSelector": {"code.$": "$.StatusCode"}})


def test_trace_shows_the_http_exchange_without_credentials(sfn: Any, api_url: str) -> None:
    result = sfn.test_state(definition=_http_task(f"{api_url}/echo"), input='{"k": 1}',
                            inspectionLevel="TRACE", roleArn=ROLE)
    assert (result["status"], json.loads(result["output"])) == ("SUCCEEDED", {"code": 200})
    data = result["inspectionData"]
    assert json.loads(data["afterResultSelector"]) == {"code": 200}
    request, response = data["request"], data["response"]
    assert {k: request[k] for k in ("protocol", "method", "url", "body")} == {
        "protocol": "http", "method": "POST", "url": f"{api_url}/echo?q=x",
        "body": '{"k":1}'}
    # AWS writes headers as "[Name: value, ...]" and hides what the connection adds.
    assert request["headers"].startswith("[") and request["headers"].endswith("]")
    assert "X-Custom: one" in request["headers"]
    assert "Content-Type: application/json" in request["headers"]
    assert "s3cret" not in request["headers"] and "Authorization" not in request["headers"]
    assert (response["protocol"], response["statusCode"], response["statusMessage"]) == (
        "http", "200", "OK")
    assert "x-trace: abc" in response["headers"]
    assert json.loads(response["body"]) == {"got": '{"k":1}'}


def test_trace_with_reveal_secrets_shows_credentials(sfn: Any, api_url: str) -> None:
    result = sfn.test_state(definition=_http_task(f"{api_url}/echo"), input='{"k": 1}',
                            inspectionLevel="TRACE", revealSecrets=True, roleArn=ROLE)
    assert "Authorization: Bearer s3cret" in result["inspectionData"]["request"]["headers"]


def test_trace_of_a_failing_call_shows_the_response_it_failed_on(sfn: Any,
                                                                 api_url: str) -> None:
    result = sfn.test_state(definition=_http_task(f"{api_url}/echo?status=418"), input='{"k": 1}',
                            inspectionLevel="TRACE", roleArn=ROLE)
    assert (result["status"], result["error"]) == ("FAILED", "States.Http.StatusCode.418")
    response = result["inspectionData"]["response"]
    assert (response["statusCode"], response["statusMessage"]) == ("418", "I'm a Teapot")


def test_only_a_real_call_at_trace_has_an_exchange(sfn: Any, api_url: str) -> None:
    """DEBUG shows no exchange; a mocked HTTP Task makes no call, so TRACE has none."""
    debug = sfn.test_state(definition=_http_task(f"{api_url}/echo"), input='{"k": 1}',
                           inspectionLevel="DEBUG", roleArn=ROLE)
    mocked = sfn.test_state(definition=_http_task(f"{api_url}/echo"), input='{"k": 1}',
                            inspectionLevel="TRACE", roleArn=ROLE, mock={"result": json.dumps(
                                {"StatusCode": 200, "ResponseBody": {}, "Headers": {},
                                 "StatusText": "OK"})})
    for result in (debug, mocked):
        assert result["status"] == "SUCCEEDED"
        assert not {"request", "response"} & set(result["inspectionData"])
