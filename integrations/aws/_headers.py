"""The response headers an optimised integration's result reports, as AWS's services send them.

`SdkHttpMetadata` shows the headers of the AWS service's response. A local emulator answers with
its own web server's headers (`Server: Werkzeug`, `Access-Control-Allow-Origin`, `Connection:
close`), which would tell a workflow nothing about the call, so each service's result lists the
headers AWS's service sends, spelled as AWS spells them (conformance corpus, every recorded
`SdkHttpMetadata`). Values come from the actual response where it has them (request id, date,
length, checksum, executed version, log tail); the rest are what the AWS service always sends
(`Connection: keep-alive`, DynamoDB's `Server: Server`, Lambda's
`x-amzn-Remapped-Content-Length: 0`).
"""

from __future__ import annotations

import hashlib
from email.utils import formatdate, parsedate_to_datetime
from typing import Final

from botocore.model import ServiceModel

from integrations.aws._clients import Reply

#: Header names per service in the order AWS's service sends them (the order decides how
#: names falling into one Java `HashMap` bucket are listed; see `_metadata`).
_LAMBDA: Final = ("Date", "Content-Type", "Content-Length", "Connection", "x-amzn-RequestId",
                  "x-amzn-Remapped-Content-Length", "X-Amz-Executed-Version",
                  "X-Amz-Log-Result", "X-Amzn-Trace-Id")
_DYNAMODB: Final = ("Server", "Date", "Content-Type", "Content-Length", "Connection",
                    "x-amzn-RequestId", "x-amz-crc32")
#: SQS, SNS and Step Functions answer with a lower-case `connection` (corpus: sqs:sendMessage,
#: sns:publish, states:startExecution).
_AWS_JSON_AND_QUERY: Final = ("x-amzn-RequestId", "Date", "Content-Type", "Content-Length",
                              "connection")

_PROFILES: Final[dict[str, tuple[str, ...]]] = {
    "lambda": _LAMBDA,
    "dynamodb": _DYNAMODB,
    "sqs": _AWS_JSON_AND_QUERY,
    "sns": _AWS_JSON_AND_QUERY,
    "stepfunctions": _AWS_JSON_AND_QUERY,
}

#: DynamoDB's GetItem answers with `x-amzn-requestid` where PutItem, UpdateItem and DeleteItem
#: send `x-amzn-RequestId` (corpus: every recorded `dynamodb:getItem` result).
_SPELLINGS: Final[dict[tuple[str, str], dict[str, str]]] = {
    ("dynamodb", "GetItem"): {"x-amzn-RequestId": "x-amzn-requestid"},
}

_CONTENT_TYPES: Final = {"query": "text/xml", "ec2": "text/xml", "rest-xml": "application/xml",
                         "rest-json": "application/json"}


def aws_response_headers(service: str, operation: str, model: ServiceModel,
                         reply: Reply) -> list[tuple[str, str]]:
    """The headers AWS's `service` sends answering `operation`, valued from `reply`. A header
    whose value the reply does not carry (no log tail asked for, no checksum sent) is left
    out; a service without a recorded profile keeps the reply's own headers."""
    names = _PROFILES.get(service)
    if names is None:
        return list(reply.headers)
    spellings = _SPELLINGS.get((service, operation), {})
    received = {name.lower(): value for name, value in reply.headers}
    headers: list[tuple[str, str]] = []
    for name in names:
        value = _value(name.lower(), received, reply, model)
        if value is not None:
            headers.append((spellings.get(name, name), value))
    return headers


def _value(name: str, received: dict[str, str], reply: Reply,
           model: ServiceModel) -> str | None:
    if name == "connection":
        return "keep-alive"
    if name == "server":
        # DynamoDB names itself `Server` in every response.
        return "Server"
    if name == "x-amzn-remapped-content-length":
        return "0"
    if name == "content-length":
        return received.get(name) or _payload_length(reply)
    if name == "content-type":
        return received.get(name) or _protocol_content_type(model)
    if name == "date":
        return received.get(name) or formatdate(usegmt=True)
    if name == "x-amzn-requestid":
        return reply.request_id or received.get(name) or None
    if name == "x-amz-executed-version":
        return _text(reply.output.get("ExecutedVersion")) or received.get(name)
    if name == "x-amz-log-result":
        return _text(reply.output.get("LogResult")) or received.get(name)
    if name == "x-amzn-trace-id":
        return received.get(name) or untraced_trace_id(reply.request_id,
                                                        received.get("date"))
    return received.get(name)


def untraced_trace_id(request_id: str, date: str | None) -> str:
    """An X-Ray trace header for a call no trace was recorded for: a well-formed root id
    (version 1, the response time, 96 bits derived from the request id) marked
    `Sampled=0`, so it claims no trace exists."""
    seconds = 0
    if date:
        try:
            seconds = int(parsedate_to_datetime(date).timestamp())
        except (TypeError, ValueError):
            seconds = 0
    unique = hashlib.blake2b(request_id.encode(), digest_size=12).hexdigest()
    return f"Root=1-{seconds:08x}-{unique};Sampled=0"


def _payload_length(reply: Reply) -> str | None:
    """A streamed payload's length (Lambda), for a response sent without `Content-Length`."""
    payload = reply.output.get("Payload")
    return str(len(payload)) if isinstance(payload, bytes) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _protocol_content_type(model: ServiceModel) -> str:
    protocol = str(model.metadata.get("protocol", ""))
    if protocol == "json":
        return f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
    return _CONTENT_TYPES.get(protocol, "application/json")
