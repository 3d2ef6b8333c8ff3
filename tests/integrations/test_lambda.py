"""Lambda Invoke in both forms, against a fake Invoke endpoint on 127.0.0.1 (conftest)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from integrations.aws import AwsIntegrations
from runtime import Execution, Runtime
from tests.integrations.conftest import FUNCTION_ERROR_PAYLOAD

pytestmark = pytest.mark.anyio

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


@pytest.fixture
async def runtime(lambda_url: str) -> AsyncIterator[Runtime]:
    async with AwsIntegrations(endpoints={"lambda": lambda_url}, max_attempts=1,
                               read_timeout=1.0) as aws, \
            Runtime(clock="virtual", sources=(aws,)) as runtime:
        yield runtime


async def invoke(runtime: Runtime, parameters: dict[str, Any], *,
                 catch: bool = False) -> Execution:
    state: dict[str, Any] = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                             "Parameters": parameters, "End": True}
    states = {"Invoke": state}
    if catch:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
        states["Caught"] = {"Type": "Pass", "End": True}
    return await runtime.run({"StartAt": "Invoke", "States": states}, {})


async def test_invoke_returns_the_aws_shape_with_the_payload_parsed(runtime: Runtime) -> None:
    done = await invoke(runtime, {"FunctionName": "echo", "Payload": {"input-value": 0}})
    assert done.status == "SUCCEEDED", done.cause
    output = done.output
    # Corpus test_result_selector / test_base_task_lambda.
    assert list(output) == ["ExecutedVersion", "Payload", "SdkHttpMetadata",
                            "SdkResponseMetadata", "StatusCode"]
    assert output["ExecutedVersion"] == "$LATEST"
    assert output["Payload"] == {"input-value": 0}
    assert output["StatusCode"] == 200
    metadata = output["SdkHttpMetadata"]
    # AWS Lambda's headers as the corpus records them (not uvicorn's lower-cased ones), in
    # the order of the SDK's HashMap; values from the response where it has them.
    assert list(metadata["AllHttpHeaders"]) == [
        "X-Amz-Executed-Version", "x-amzn-Remapped-Content-Length", "Connection",
        "x-amzn-RequestId", "Content-Length", "Date", "X-Amzn-Trace-Id", "Content-Type"]
    headers = metadata["HttpHeaders"]
    assert list(headers) == ["Connection", "Content-Length", "Content-Type", "Date",
                             "X-Amz-Executed-Version", "x-amzn-Remapped-Content-Length",
                             "x-amzn-RequestId", "X-Amzn-Trace-Id"]
    assert headers["Content-Length"] == str(len('{"input-value":0}'))
    assert (headers["X-Amz-Executed-Version"], headers["x-amzn-RequestId"]) == ("$LATEST", "req-1")
    assert (headers["Connection"], headers["x-amzn-Remapped-Content-Length"]) == ("keep-alive", "0")
    assert headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Sampled=0", headers["X-Amzn-Trace-Id"])
    assert metadata["AllHttpHeaders"]["Date"] == [headers["Date"]]
    assert output["SdkResponseMetadata"] == {"RequestId": "req-1"}


@pytest.mark.parametrize(("payload", "expected"), [
    ('"HelloWorld"', "HelloWorld"), ("0.0", 0.0), ("0", 0), ("true", True), ("[]", []),
])
async def test_a_string_payload_is_sent_as_it_is(runtime: Runtime, payload: str,
                                                 expected: Any) -> None:
    # Corpus test_invoke_json_values: Payload "0.0" comes back as the number 0.0.
    done = await invoke(runtime, {"FunctionName": "echo", "Payload": payload})
    assert done.output["Payload"] == expected
    assert type(done.output["Payload"]) is type(expected)


async def test_log_type_tail_adds_log_result_and_a_missing_payload_sends_nothing(
        runtime: Runtime) -> None:
    done = await invoke(runtime, {"FunctionName": "echo", "LogType": "Tail", "Payload": None})
    # Corpus test_invoke_unsupported_param: Payload {} and LogResult, also as a header.
    assert done.output["Payload"] == {}
    assert done.output["LogResult"] == "bG9n"
    all_headers = done.output["SdkHttpMetadata"]["AllHttpHeaders"]
    assert next(iter(all_headers)) == "X-Amz-Log-Result"
    assert all_headers["X-Amz-Log-Result"] == ["bG9n"]
    assert all_headers["Content-Length"] == ["2"]


async def test_event_invocation_returns_202(runtime: Runtime) -> None:
    done = await invoke(runtime, {"FunctionName": FUNCTION_ARN.format("echo"),
                                  "InvocationType": "Event", "Payload": {}})
    assert (done.output["StatusCode"], done.output["Payload"]) == (202, "")


async def test_bare_function_arn_returns_the_payload_itself(runtime: Runtime) -> None:
    done = await runtime.run({"StartAt": "F", "States": {"F": {
        "Type": "Task", "Resource": FUNCTION_ARN.format("echo"), "End": True}}},
        {"Return": "HelloWorld"})
    assert done.output == {"Return": "HelloWorld"}


async def test_function_error_is_named_by_its_error_type(runtime: Runtime) -> None:
    done = await invoke(runtime, {"FunctionName": "raises", "Payload": None}, catch=True)
    # Corpus test_task_service_lambda test_raise_custom_exception: lambda:invoke writes the
    # payload again as compact JSON, keys in the function's order.
    assert done.output["Error"] == "Exception"
    assert done.output["Cause"] == json.dumps(FUNCTION_ERROR_PAYLOAD, separators=(",", ":"))
    bare = await runtime.run({"StartAt": "F", "States": {"F": {
        "Type": "Task", "Resource": FUNCTION_ARN.format("raises"), "End": True}}}, {})
    # Corpus test_task_lambda test_raise_custom_exception: a function ARN keeps the Python
    # runtime's own text, `", "` separators included.
    assert (bare.status, bare.error) == ("FAILED", "Exception")
    assert bare.cause == json.dumps(FUNCTION_ERROR_PAYLOAD)


async def test_function_error_without_error_type_is_lambda_unknown(runtime: Runtime) -> None:
    done = await invoke(runtime, {"FunctionName": "crashes"})
    assert done.error == "Lambda.Unknown"
    assert (done.cause or "").endswith("Returned payload: out of memory")


@pytest.mark.parametrize(("function", "error", "status"), [
    ("missing", "Lambda.ResourceNotFoundException", 404),
    ("throttled", "Lambda.TooManyRequestsException", 429),
    ("broken", "Lambda.ServiceException", 500),
    ("unmodelled", "Lambda.AWSLambdaException", 400),
])
async def test_service_errors_are_named_as_aws_names_them(
        runtime: Runtime, function: str, error: str, status: int) -> None:
    done = await invoke(runtime, {"FunctionName": function}, catch=True)
    assert done.output["Error"] == error
    code = error.split(".")[1].replace("AWSLambdaException", "SomethingNewException")
    assert re.fullmatch(rf".+ \(Service: AWSLambda; Status Code: {status}; Error Code: {code}; "
                        r"Request ID: req-error; Proxy: null\)", done.output["Cause"])


async def test_missing_function_cause_matches_the_corpus_wording(runtime: Runtime) -> None:
    done = await invoke(runtime, {"FunctionName": "missing"})
    # Corpus error_handling test_no_such_function (service form).
    assert re.fullmatch(r"Function not found: arn:aws:lambda:us-east-1:\d{12}:function:missing"
                        r":\$LATEST \(Service: AWSLambda; Status Code: 404; Error Code: "
                        r"ResourceNotFoundException; Request ID: .+; Proxy: null\)",
                        done.cause or "")


async def test_read_timeout_is_an_sdk_client_exception(runtime: Runtime) -> None:
    done = await invoke(runtime, {"FunctionName": "slow"}, catch=True)
    assert done.output["Error"] == "Lambda.SdkClientException"
    assert "Read timeout" in done.output["Cause"]


async def test_unreachable_lambda_endpoint(closed_port_url: str) -> None:
    async with AwsIntegrations(endpoint_url=closed_port_url, max_attempts=1) as aws, \
            Runtime(clock="virtual", sources=(aws,)) as runtime:
        done = await invoke(runtime, {"FunctionName": "echo"})
    assert done.error == "Lambda.SdkClientException"
    assert (done.cause or "").startswith("Unable to execute HTTP request: ")


async def test_retry_on_lambda_service_exception(runtime: Runtime) -> None:
    done = await runtime.run({"StartAt": "Invoke", "States": {"Invoke": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "broken"}, "End": True,
        "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 2}]}}}, {})
    assert done.error == "Lambda.ServiceException"
    history = runtime.get_execution_history(done.execution_arn)
    assert [event["type"] for event in history].count("TaskScheduled") == 3
