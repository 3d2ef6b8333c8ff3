"""The HTTP Task against a local starlette app on 127.0.0.1 (conftest)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from integrations._base import TaskCall, TaskError
from integrations.http import HttpExchangeRecorder, HttpIntegrations, build_request
from runtime import Execution, Runtime

pytestmark = pytest.mark.anyio


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    async with HttpIntegrations(timeout=1.0) as http, \
            Runtime(clock="virtual", sources=(http,)) as runtime:
        yield runtime


async def call(runtime: Runtime, parameters: dict[str, Any], *,
               catch: bool = False) -> Execution:
    state: dict[str, Any] = {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                             "Parameters": parameters, "End": True}
    states = {"Call": state}
    if catch:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
        states["Caught"] = {"Type": "Pass", "End": True}
    return await runtime.run({"StartAt": "Call", "States": states}, {})


async def test_get_returns_headers_body_status(runtime: Runtime, http_url: str) -> None:
    done = await call(runtime, {
        "ApiEndpoint": f"{http_url}/echo", "Method": "GET",
        "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:1:connection/c/1"},
        "Headers": {"X-Custom": ["one", "two"]},
        "QueryParameters": {"q": "hello", "tag": ["blue", "green"], "n": 3}})
    assert done.status == "SUCCEEDED", done.cause
    output = done.output
    assert list(output) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert (output["StatusCode"], output["StatusText"]) == (200, "OK")
    assert output["Headers"]["x-trace"] == ["abc"]
    body = output["ResponseBody"]
    assert body["method"] == "GET"
    assert body["query"] == "q=hello&tag=blue&tag=green&n=3"
    assert body["custom"] == ["one", "two"]


async def test_post_sends_a_json_body(runtime: Runtime, http_url: str) -> None:
    done = await call(runtime, {"ApiEndpoint": f"{http_url}/echo", "Method": "POST",
                                "RequestBody": {"customerId": "c-1", "active": True}})
    body = done.output["ResponseBody"]
    assert body["content_type"] == "application/json"
    assert json.loads(body["body"]) == {"customerId": "c-1", "active": True}


async def test_url_encoded_body_with_bracket_arrays(runtime: Runtime, http_url: str) -> None:
    done = await call(runtime, {
        "ApiEndpoint": f"{http_url}/echo", "Method": "PUT",
        "RequestBody": {"array": ["a", "b"], "name": "x y"},
        "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                      "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}}})
    body = done.output["ResponseBody"]
    assert body["content_type"] == "application/x-www-form-urlencoded"
    assert body["body"] == "array%5B%5D=a&array%5B%5D=b&name=x+y"


@pytest.mark.parametrize(("array_format", "encoded"), [
    ("INDICES", "a%5B0%5D=x&a%5B1%5D=y"), ("REPEAT", "a=x&a=y"), ("COMMAS", "a=x%2Cy"),
    ("BRACKETS", "a%5B%5D=x&a%5B%5D=y"),
])
def test_array_formats(array_format: str, encoded: str) -> None:
    request = build_request({"ApiEndpoint": "https://example.com", "Method": "POST",
                             "RequestBody": {"a": ["x", "y"]},
                             "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                                           "RequestEncodingOptions": {
                                               "ArrayFormat": array_format}}})
    assert request.body == encoded.encode()


def test_invalid_parameters_are_runtime_errors() -> None:
    for parameters in ({"Method": "GET"}, {"ApiEndpoint": "ftp://x", "Method": "GET"},
                       {"ApiEndpoint": "https://x", "Method": "FETCH"}):
        with pytest.raises(TaskError) as failure:
            build_request(parameters)
        assert failure.value.error == "States.Runtime"


async def test_non_2xx_status_is_states_http_status_code(runtime: Runtime,
                                                        http_url: str) -> None:
    done = await call(runtime, {"ApiEndpoint": f"{http_url}/status/404", "Method": "GET"},
                      catch=True)
    assert done.output["Error"] == "States.Http.StatusCode.404"
    cause = json.loads(done.output["Cause"])
    assert (cause["StatusCode"], cause["StatusText"], cause["ResponseBody"]) == (
        404, "Not Found", "status 404")
    retried = await runtime.run({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
        "Parameters": {"ApiEndpoint": f"{http_url}/status/503", "Method": "GET"},
        "Retry": [{"ErrorEquals": ["States.Http.StatusCode.503"], "MaxAttempts": 1}]}}}, {})
    assert retried.error == "States.Http.StatusCode.503"
    history = runtime.get_execution_history(retried.execution_arn)
    assert [event["type"] for event in history].count("TaskScheduled") == 2


async def test_unreachable_or_slow_endpoint_is_a_socket_error(
        runtime: Runtime, http_url: str, closed_port_url: str) -> None:
    refused = await call(runtime, {"ApiEndpoint": f"{closed_port_url}/x", "Method": "GET"},
                         catch=True)
    assert refused.output["Error"] == "States.Http.Socket"
    slow = await call(runtime, {"ApiEndpoint": f"{http_url}/slow", "Method": "GET"})
    assert slow.error == "States.Http.Socket"


def test_resolves_only_the_http_resource() -> None:
    http = HttpIntegrations()
    assert http.resolve_call("arn:aws:states:::http:invoke", {}) is http
    assert http.resolve_call("arn:aws:states:::http:invoke.waitForTaskToken", {}) is http
    assert http.resolve_call("arn:aws:states:::http:invokeX", {}) is None
    assert http.resolve_call("arn:aws:states:::lambda:invoke", {}) is None


# -- the exchange recorder (TestState's TRACE inspection level reads it) ------------------------

def _call(parameters: dict[str, Any]) -> TaskCall:
    return TaskCall(resource="arn:aws:states:::http:invoke", parameters=parameters,
                    execution_arn="arn:aws:states:us-east-1:1:execution:m:e", state_name="Call")


async def test_recorder_sees_the_request_as_sent_and_the_raw_response(http_url: str) -> None:
    async with HttpIntegrations(timeout=1.0) as http:
        with HttpExchangeRecorder() as recorder:
            await http.invoke(_call({
                "ApiEndpoint": f"{http_url}/echo", "Method": "POST",
                "Headers": {"X-Custom": ["one", "two"], "Authorization": "Bearer t"},
                "QueryParameters": {"q": "a b"}, "RequestBody": {"k": 1}}))
        await http.invoke(_call({"ApiEndpoint": f"{http_url}/echo", "Method": "GET"}))
    assert len(recorder.exchanges) == 1  # stopped: the second call is not recorded
    request, response = recorder.exchanges[0].request, recorder.exchanges[0].response
    assert (request.method, request.url) == ("POST", f"{http_url}/echo?q=a+b")
    sent = [(name.lower(), value) for name, value in request.headers]
    # The definition's headers, repeats kept, and those the client adds.
    assert [v for n, v in sent if n == "x-custom"] == ["one", "two"]
    assert ("authorization", "Bearer t") in sent and ("content-type", "application/json") in sent
    assert {"host", "user-agent", "content-length"} <= {name for name, _ in sent}
    assert request.body == b'{"k":1}'
    assert response is not None
    assert (response.status, response.reason) == (200, "OK")
    assert ("x-trace", "abc") in [(name.lower(), value) for name, value in response.headers]
    assert json.loads(response.body)["body"] == '{"k":1}'


async def test_recorder_keeps_failed_calls_and_unanswered_ones(
        http_url: str, closed_port_url: str) -> None:
    async with HttpIntegrations(timeout=1.0) as http:
        with HttpExchangeRecorder() as recorder:
            for endpoint in (f"{http_url}/status/404", f"{closed_port_url}/x"):
                with pytest.raises(TaskError):
                    await http.invoke(_call({"ApiEndpoint": endpoint, "Method": "GET"}))
    not_found, refused = recorder.exchanges
    assert not_found.response is not None
    assert (not_found.response.status, not_found.response.body) == (404, b"status 404")
    assert refused.request.url == f"{closed_port_url}/x" and refused.response is None


async def test_recording_is_scoped_to_the_context_that_started_it(http_url: str) -> None:
    """Concurrent calls of other tasks (other executions) are not recorded; an inner
    recorder hands back to the outer one when it stops."""
    async with HttpIntegrations(timeout=1.0) as http:
        async def call(path: str, recorder: HttpExchangeRecorder | None) -> None:
            if recorder is not None:
                recorder.start()
            await http.invoke(_call({"ApiEndpoint": f"{http_url}/echo?{path}",
                                     "Method": "GET"}))

        recorder = HttpExchangeRecorder()
        await asyncio.gather(call("mine", recorder), call("other", None))
        assert [e.request.url.rsplit("?", 1)[1] for e in recorder.exchanges] == ["mine"]

        with HttpExchangeRecorder() as outer:
            with HttpExchangeRecorder() as inner:
                await call("inner", None)
            await call("outer", None)
        assert [e.request.url.rsplit("?", 1)[1] for e in inner.exchanges] == ["inner"]
        assert [e.request.url.rsplit("?", 1)[1] for e in outer.exchanges] == ["outer"]
