"""AWS JSON 1.0 as Step Functions speaks it: `POST /` with `X-Amz-Target:
AWSStepFunctions.<Operation>`, JSON bodies, errors as `{"__type": "<namespace>#<Code>",
"message": ...}` with HTTP 400 (500 for the server's own faults). Clients keep what follows the
`#` (botocore does), so the namespaces are AWS's own.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from runtime.errors import AslError

TARGET_PREFIX: Final = "AWSStepFunctions."
CONTENT_TYPE: Final = "application/x-amz-json-1.0"
#: Definitions may be 1 MiB, escaped inside a JSON string; anything much larger is refused.
MAX_BODY_BYTES: Final = 2 * 1024 * 1024
DEFAULT_ACCOUNT: Final = "123456789012"
DEFAULT_REGION: Final = "us-east-1"

_SERVICE_NS: Final = "com.amazonaws.swf.service.v2.model#"
_NAMESPACES: Final = {
    "ValidationException": "com.amazon.coral.validate#",
    "SerializationException": "com.amazon.coral.service#",
    "UnknownOperationException": "com.amazon.coral.service#",
    "InternalFailure": "com.amazon.coral.service#",
    # Authentication is answered by AWS's front end, not by Step Functions itself.
    "MissingAuthenticationTokenException": "com.amazon.coral.service#",
    "IncompleteSignatureException": "com.amazon.coral.service#",
    "InvalidSignatureException": "com.amazon.coral.service#",
    "UnrecognizedClientException": "com.amazon.coral.service#",
}
_SCOPE_RE: Final = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/[^/,\s]+/aws4_request")
_encode = msgspec.json.Encoder().encode
_CONTAINERS: Final = (dict, list)


class RequestContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks, read from the SigV4 credential scope without checking the signature (for
    logging and for services that do not authenticate; the Step Functions API uses
    `runtime.api.accounts.Authentication`)."""

    access_key: str | None = None
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION


def request_context(authorization: str | None) -> RequestContext:
    if authorization:
        found = _SCOPE_RE.search(authorization)
        if found is not None:
            return RequestContext(access_key=found.group(1), region=found.group(2))
    return RequestContext()


def operation_of(target: str | None) -> str:
    if not target or not target.startswith(TARGET_PREFIX):
        raise AslError("UnknownOperationException", f"Unknown operation: {target!r}")
    return target.removeprefix(TARGET_PREFIX)


def decode_body(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise AslError("ValidationException",
                       f"Request body of {len(body)} bytes exceeds the maximum of "
                       f"{MAX_BODY_BYTES} bytes")
    if not body.strip():
        return {}
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise AslError("SerializationException", f"Malformed JSON request body: {exc}") \
            from None
    if not isinstance(decoded, dict):
        raise AslError("SerializationException", "The request body must be a JSON object")
    return decoded


def encode_error(error: AslError) -> tuple[int, bytes]:
    status = 500 if error.code == "InternalFailure" else 400
    namespace = _NAMESPACES.get(error.code, _SERVICE_NS)
    return status, _encode({"__type": namespace + error.code, "message": error.message})


def encode_result(result: dict[str, Any]) -> bytes:
    """AWS leaves absent members out rather than sending null."""
    return _encode(_pruned(result))


def _pruned(value: dict[str, Any] | list[Any]) -> Any:
    # Recursing only into containers: most members are scalars, and a call per member was
    # a third of the encoding time.
    if isinstance(value, dict):
        return {k: _pruned(v) if isinstance(v, _CONTAINERS) else v
                for k, v in value.items() if v is not None}
    return [_pruned(v) if isinstance(v, _CONTAINERS) else v for v in value]
