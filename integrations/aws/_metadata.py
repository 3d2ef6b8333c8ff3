"""`SdkHttpMetadata` / `SdkResponseMetadata`: what the optimised integrations (SDK v1) add to
every result. Shape recorded from AWS (corpus, e.g. `dynamodb:putItem`):

    "SdkHttpMetadata": {"AllHttpHeaders": {"Server": ["Server"], "Connection": ["keep-alive"],
                                           ...},
                        "HttpHeaders": {"Connection": "keep-alive", ...}, "HttpStatusCode": 200},
    "SdkResponseMetadata": {"RequestId": "..."}

The SDK keeps the headers twice: `AllHttpHeaders` is a `java.util.HashMap` of name -> values,
so its names come in hash-bucket order (`java_hash_map_order`), and `HttpHeaders` is a
`TreeMap(CASE_INSENSITIVE_ORDER)` of name -> last value, so names differing only in case are
one header (spelled as first seen) in case-insensitive order.
"""

from __future__ import annotations

from collections.abc import Sequence

from integrations._base import JSON
from integrations.aws._clients import Reply

_INT_MASK = 0xFFFFFFFF
#: `java.util.HashMap`'s default capacity and load factor.
_INITIAL_CAPACITY = 16
_LOAD_FACTOR = 0.75


def with_sdk_metadata(result: dict[str, JSON], reply: Reply,
                      headers: Sequence[tuple[str, str]]) -> dict[str, JSON]:
    """`result` plus the response metadata for `headers` (in the order the service sent
    them), keys in Jackson's alphabetical order (AWS returns `ExecutedVersion, Payload,
    SdkHttpMetadata, SdkResponseMetadata, StatusCode`)."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    all_headers = {name: grouped[name] for name in java_hash_map_order(list(grouped))}
    last: dict[str, str] = {}
    spelling: dict[str, str] = {}
    for name, value in headers:
        last[spelling.setdefault(name.lower(), name)] = value
    http_headers = {name: last[name] for name in sorted(last, key=str.lower)}
    combined = dict(result)
    combined["SdkHttpMetadata"] = {"AllHttpHeaders": all_headers, "HttpHeaders": http_headers,
                                   "HttpStatusCode": reply.status}
    combined["SdkResponseMetadata"] = {"RequestId": reply.request_id}
    return {key: combined[key] for key in sorted(combined)}


def java_hash_map_order(names: Sequence[str]) -> list[str]:
    """The order a `java.util.HashMap` holding `names` (inserted in this order) iterates them:
    by bucket (the spread `String.hashCode()` masked by the table size), then by insertion
    within a bucket (Java 8+ keeps that order when the table grows)."""
    capacity = _INITIAL_CAPACITY
    while len(names) > capacity * _LOAD_FACTOR:
        capacity *= 2
    return sorted(names, key=lambda name: _spread(_java_string_hash(name)) & (capacity - 1))


def _java_string_hash(text: str) -> int:
    """Java's `String.hashCode()`, over UTF-16 code units as Java strings hold them."""
    data = text.encode("utf-16-be")
    value = 0
    for index in range(0, len(data), 2):
        value = (31 * value + int.from_bytes(data[index:index + 2], "big")) & _INT_MASK
    return value


def _spread(hash_code: int) -> int:
    return hash_code ^ (hash_code >> 16)
