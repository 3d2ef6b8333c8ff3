"""`SdkHttpMetadata` / `SdkResponseMetadata`: what the optimised integrations (SDK v1) add to
every result. Shape recorded from AWS (corpus, e.g. `dynamodb:putItem`):

    "SdkHttpMetadata": {"AllHttpHeaders": {"Content-Length": ["2"], ...},
                        "HttpHeaders": {"Content-Length": "2", ...}, "HttpStatusCode": 200},
    "SdkResponseMetadata": {"RequestId": "..."}

Header names keep the server's case and, as in Java's `TreeMap(CASE_INSENSITIVE_ORDER)`,
names differing only in case are one header (spelled as first seen); `HttpHeaders` is
ordered case-insensitively and holds a repeated header's last value.
"""

from __future__ import annotations

from integrations._base import JSON
from integrations.aws._clients import Reply


def with_sdk_metadata(result: dict[str, JSON], reply: Reply) -> dict[str, JSON]:
    """`result` plus the response metadata, keys in Jackson's alphabetical order (AWS
    returns `ExecutedVersion, Payload, SdkHttpMetadata, SdkResponseMetadata, StatusCode`)."""
    all_headers: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in reply.headers:
        first = spelling.setdefault(name.lower(), name)
        all_headers.setdefault(first, []).append(value)
    last = {name: values[-1] for name, values in all_headers.items()}
    http_headers = {name: last[name] for name in sorted(last, key=str.lower)}
    combined = dict(result)
    combined["SdkHttpMetadata"] = {"AllHttpHeaders": all_headers, "HttpHeaders": http_headers,
                                   "HttpStatusCode": reply.status}
    combined["SdkResponseMetadata"] = {"RequestId": reply.request_id}
    return {key: combined[key] for key in sorted(combined)}
