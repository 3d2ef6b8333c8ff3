"""Lambda Invoke, in both of Step Functions' forms.

- `arn:aws:states:::lambda:invoke` (parameters FunctionName, Payload, Qualifier,
  InvocationType, ClientContext, LogType) returns `{ExecutedVersion, Payload, SdkHttpMetadata,
  SdkResponseMetadata, StatusCode}` (+ `LogResult` with LogType Tail). A string Payload is
  sent as it is (AWS sends `"0.0"` as the bytes `0.0`: corpus `test_invoke_json_values`);
  anything else as JSON. The result's Payload is parsed when it is JSON.
- `arn:aws:lambda:<region>:<account>:function:<name>` sends the effective input as JSON and
  returns the function's result itself.

A function error (`X-Amz-Function-Error`) fails the task with the payload's `errorType` as
the error. The cause is the payload as the two forms report it (corpus,
`test_raise_custom_exception` of each): `lambda:invoke` decodes it and writes it again as compact
JSON (`{"errorMessage":"","errorType":"CustomException",...}`), while a function ARN keeps the
function's own text (the Python runtime's `{"errorMessage": "", "errorType": ...}`).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from integrations._base import JSON, TaskCall, TaskError
from integrations.aws._clients import ClientPool
from integrations.aws._errors import v1_error
from integrations.aws._headers import aws_response_headers
from integrations.aws._metadata import with_sdk_metadata
from integrations.aws._naming import arn_region
from integrations.aws._shapes import compact_json

_PASSED_AS_IS: Final = ("FunctionName", "Qualifier", "InvocationType", "ClientContext",
                        "LogType")
_UNKNOWN_CAUSE: Final = ("The cause could not be determined because Lambda did not return an "
                         "error type. Returned payload: ")


class LambdaInvoke:
    """Serves `lambda:invoke` (when `function_arn` is None) or one bare function ARN."""

    def __init__(self, pool: ClientPool, *, function_arn: str | None = None) -> None:
        self.pool = pool
        self.function_arn = function_arn

    async def invoke(self, call: TaskCall) -> JSON:
        if self.function_arn is not None:
            request: dict[str, Any] = {"FunctionName": self.function_arn,
                                       "Payload": compact_json(call.parameters)}
        else:
            request = _optimised_request(call.parameters)
        model = self.pool.service_model("lambda")
        try:
            reply = await self.pool.call("lambda", arn_region(request.get("FunctionName")),
                                         model.operation_model("Invoke"), request)
        except Exception as exc:
            raise v1_error(exc, "lambda", model) from exc
        raw = reply.output.get("Payload") or b""
        if reply.output.get("FunctionError"):
            raise function_error(raw, reencode=self.function_arn is None)
        payload = parse_payload(raw)
        if self.function_arn is not None:
            return payload
        result: dict[str, JSON] = {"ExecutedVersion": reply.output.get("ExecutedVersion"),
                                   "Payload": payload, "StatusCode": reply.status}
        if "LogResult" in reply.output:
            result["LogResult"] = reply.output["LogResult"]
        return with_sdk_metadata(result, reply,
                                 aws_response_headers("lambda", "Invoke", model, reply))


def _optimised_request(parameters: JSON) -> dict[str, Any]:
    if not isinstance(parameters, dict) or not isinstance(parameters.get("FunctionName"), str):
        raise TaskError("States.Runtime",
                        "The lambda:invoke parameters need a FunctionName string")
    request = {key: parameters[key] for key in _PASSED_AS_IS if parameters.get(key) is not None}
    payload = parameters.get("Payload")
    if payload is not None:
        request["Payload"] = payload if isinstance(payload, str) else compact_json(payload)
    return request


def parse_payload(raw: bytes) -> JSON:
    """A function's response: its JSON value, or its text when it is not JSON."""
    if not raw:
        return ""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw.decode("utf-8", "replace")


def function_error(raw: bytes, *, reencode: bool) -> TaskError:
    """The failure a function error payload reports; `reencode` writes a JSON payload again
    compactly, as `lambda:invoke` does."""
    text = raw.decode("utf-8", "replace")
    body = parse_payload(raw)
    if reencode and isinstance(body, dict | list):
        text = compact_json(body)
    error_type = body.get("errorType") if isinstance(body, dict) else None
    if isinstance(error_type, str) and error_type:
        return TaskError(error_type, text)
    return TaskError("Lambda.Unknown", _UNKNOWN_CAUSE + text)
