"""The wire protocol: error shapes and statuses for requests no SDK would send."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runtime.api import handlers
from runtime.api.app import create_app
from runtime.api.protocol import MAX_BODY_BYTES, request_context
from runtime.engine import Runtime

HEADERS = {"Content-Type": "application/x-amz-json-1.0",
           "X-Amz-Target": "AWSStepFunctions.ListStateMachines"}


def _post(endpoint: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(endpoint + "/", content=content, headers={**HEADERS, **headers})


def test_malformed_json_is_a_400_serialization_exception(endpoint: str) -> None:
    response = _post(endpoint, b"{not json")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-amz-json-1.0"
    body = response.json()
    assert body["__type"].rsplit("#", 1)[1] == "SerializationException"
    assert body["message"]


def test_unknown_operation(endpoint: str) -> None:
    response = _post(endpoint, b"{}", **{"X-Amz-Target": "AWSStepFunctions.Nope"})
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#UnknownOperationException")


def test_oversized_body_is_refused_before_parsing(endpoint: str) -> None:
    response = _post(endpoint, b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#ValidationException")


def test_missing_required_member(endpoint: str) -> None:
    response = _post(endpoint, b"{}", **{"X-Amz-Target": "AWSStepFunctions.DescribeExecution"})
    assert response.status_code == 400
    assert "executionArn" in response.json()["message"]


def test_service_errors_carry_the_service_namespace(endpoint: str) -> None:
    response = _post(endpoint, b'{"stateMachineArn": "abc"}',
                     **{"X-Amz-Target": "AWSStepFunctions.DescribeStateMachine"})
    assert response.json() == {"__type": "com.amazonaws.swf.service.v2.model#InvalidArn",
                               "message": "Invalid Arn: 'Invalid ARN prefix: abc'"}


@pytest.mark.anyio
async def test_unexpected_errors_are_500_without_a_traceback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def explode(api: Any, body: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setitem(handlers.ACTIONS, "ListStateMachines", explode)
    transport = httpx.ASGITransport(app=create_app(Runtime(clock="virtual")))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/", content=b"{}", headers=HEADERS)
    assert response.status_code == 500
    assert response.json() == {"__type": "com.amazon.coral.service#InternalFailure",
                               "message": "The server encountered an internal error"}


def test_request_context_from_the_sigv4_scope() -> None:
    header = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/states/aws4_request, "
              "SignedHeaders=host, Signature=abc")
    context = request_context(header)
    assert (context.access_key, context.region, context.account) == (
        "AKIDEXAMPLE", "eu-west-1", "123456789012")
    assert request_context(None).region == "us-east-1"
