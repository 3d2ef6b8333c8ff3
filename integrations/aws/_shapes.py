"""Task parameters -> botocore request, botocore response -> task result, by the service model.

Rules (AWS "Learning to use AWS service SDK integrations", and the conformance corpus):
1. Parameters are PascalCase even where the service's own API is camelCase
   (`StateMachineArn` for Step Functions' `stateMachineArn`); a member named `Equals` is
   written `EqualsValue`. Only structure members are renamed, never map keys (DynamoDB
   attribute names, S3 user metadata).
2. A JSON object or array given where the API takes a string is serialised to compact JSON
   (`aws-sdk:sfn:startExecution` with an object `Input`; SQS `MessageBody`; SNS `Message`).
3. Null parameters are left out, as the Java SDKs treat null as "not set".
4. Results use PascalCase member names (`ExecutionArn`, not `executionArn`); blobs are text;
   timestamps are ISO-8601 (SDK v2, `aws-sdk:`) or epoch milliseconds (SDK v1, optimised).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from botocore.model import ListShape, MapShape, Shape, StructureShape

from integrations._base import JSON
from integrations.aws._naming import pascal

TimestampFormat = Callable[[datetime], JSON]

_json_encoder = msgspec.json.Encoder()


def compact_json(value: JSON) -> str:
    return _json_encoder.encode(value).decode()


def to_request(shape: Shape | None, value: JSON) -> Any:
    """The botocore parameters for `value` given in Step Functions' spelling."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape):
        return _structure_request(shape, value) if isinstance(value, dict) else value
    if isinstance(shape, ListShape):
        if isinstance(value, list):
            return [to_request(shape.member, item) for item in value]
        return value
    if isinstance(shape, MapShape):
        if isinstance(value, dict):
            return {key: to_request(shape.value, item) for key, item in value.items()}
        return value
    if shape.type_name == "string" and value is not None and not isinstance(value, str):
        return compact_json(value)
    if shape.type_name == "blob" and isinstance(value, dict | list):
        return compact_json(value)
    return value


def _structure_request(shape: StructureShape, value: dict[str, JSON]) -> dict[str, Any]:
    members = shape.members
    names = _member_names(shape)
    request: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        name = names.get(key, key)
        request[name] = to_request(members.get(name), item)
    return request


def _member_names(shape: StructureShape) -> dict[str, str]:
    names: dict[str, str] = {}
    for name in shape.members:
        names[pascal(name)] = name
        names[name] = name
        if name == "Equals":
            names["EqualsValue"] = name
    return names


def from_response(shape: Shape | None, value: Any, timestamps: TimestampFormat, *,
                  alphabetical: bool = False) -> JSON:
    """The task result for a botocore response value. `alphabetical` orders structure members
    by name, as the optimised integrations' Jackson mapper writes the SDK v1 result classes
    (`MD5OfMessageAttributes, MD5OfMessageBody, MessageId`; `Entries, FailedEntryCount`);
    map keys (DynamoDB attribute names) keep the service's order."""
    if isinstance(value, dict):
        if isinstance(shape, StructureShape):
            members = shape.members
            converted = {pascal(key): from_response(members.get(key), item, timestamps,
                                                    alphabetical=alphabetical)
                         for key, item in value.items() if key != "ResponseMetadata"}
            return {key: converted[key] for key in sorted(converted)} if alphabetical \
                else converted
        inner = shape.value if isinstance(shape, MapShape) else None
        return {key: from_response(inner, item, timestamps, alphabetical=alphabetical)
                for key, item in value.items()}
    if isinstance(value, list):
        member = shape.member if isinstance(shape, ListShape) else None
        return [from_response(member, item, timestamps, alphabetical=alphabetical)
                for item in value]
    if isinstance(value, datetime):
        return timestamps(value)
    if isinstance(value, bytes | bytearray):
        return blob_text(bytes(value))
    return value


def blob_text(data: bytes) -> str:
    """A blob as Step Functions shows it: its UTF-8 text (S3 `Body`), or base64 when it is
    not text."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


def iso_timestamp(moment: datetime) -> str:
    """Java's `Instant.toString()`: `2024-05-01T10:20:30Z`, fractions in groups of three."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        fraction = f"{utc.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    return text + "Z"


def epoch_millis(moment: datetime) -> int:
    """Java v1's `Date` as Jackson writes it: milliseconds since the epoch."""
    utc = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(utc.timestamp() * 1000)
