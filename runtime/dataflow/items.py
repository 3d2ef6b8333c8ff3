"""Distributed Map data: the items an ItemReader's S3 response holds, and ItemBatcher batches.
Pure functions: the reducer calls them on the recorded S3 response, so a replay reads the same
items without calling S3 again."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any, Final

from runtime import errors
from runtime.errors import StatesError

JSON = Any

_DELIMITERS: Final = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}


def reader_items(action: str, response: JSON, config: Mapping[str, JSON],
                 max_items: int | None) -> list[JSON]:
    """Items from the response of the ItemReader's S3 call (`getObject` or `listObjectsV2`).

    Raises:
        StatesError: States.ItemReaderFailed, with AWS's cause where the corpus records one.
    """
    if not isinstance(response, dict):
        raise _failed("The ItemReader's response is not an object.")
    if action == "listObjectsV2":
        items: list[JSON] = [_object_item(entry) for entry in response.get("Contents") or []]
    else:
        body = response.get("Body")
        if not isinstance(body, str):
            raise _failed("The ItemReader's object has no text body.")
        items = _parse_body(body, config)
    return items[:max_items] if max_items else items


def _object_item(entry: JSON) -> JSON:
    return {key: entry.get(source) for key, source in (
        ("Etag", "ETag"), ("Key", "Key"), ("LastModified", "LastModified"), ("Size", "Size"),
        ("StorageClass", "StorageClass")) if isinstance(entry, dict) and source in entry}


def _parse_body(body: str, config: Mapping[str, JSON]) -> list[JSON]:
    kind = config.get("InputType", "JSON")
    if kind == "JSON":
        try:
            value = json.loads(body)
        except ValueError as error:
            raise _failed(f"Unable to parse the object as JSON: {error}") from None
        if not isinstance(value, list):
            raise _failed("Attempting to map over non-iterable node.")
        return value
    if kind == "JSONL":
        try:
            return [json.loads(line) for line in body.splitlines() if line.strip()]
        except ValueError as error:
            raise _failed(f"Unable to parse a line as JSON: {error}") from None
    if kind == "CSV":
        return _csv_items(body, config)
    raise _failed(f"Unsupported InputType: {kind}")


def _csv_items(body: str, config: Mapping[str, JSON]) -> list[JSON]:
    delimiter = _DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")), ",")
    rows = [row for row in csv.reader(io.StringIO(body), delimiter=delimiter) if row]
    if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
        headers = [str(h) for h in config.get("CSVHeaders") or []]
    else:
        if not rows:
            return []
        headers, rows = rows[0], rows[1:]
    # Missing fields are empty strings; fields beyond the headers are dropped (as AWS does).
    return [{header: row[index] if index < len(row) else ""
             for index, header in enumerate(headers)} for row in rows]


def batches(items: list[JSON], *, max_items: int | None, max_bytes: int | None,
            batch_input: JSON) -> list[JSON]:
    """ItemBatcher: `{"Items": [...], **BatchInput}` per batch of at most `max_items` items
    and `max_bytes` bytes of items."""
    out: list[JSON] = []
    current: list[JSON] = []
    size = 0
    for item in items:
        item_size = len(json.dumps(item, separators=(",", ":")).encode())
        full = (max_items is not None and len(current) >= max_items) or (
            max_bytes is not None and current and size + item_size > max_bytes)
        if full:
            out.append(_batch(current, batch_input))
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        out.append(_batch(current, batch_input))
    return out


def _batch(items: list[JSON], batch_input: JSON) -> JSON:
    extra = batch_input if isinstance(batch_input, dict) else {}
    return {**extra, "Items": items} if extra else {"Items": items}


def _failed(cause: str) -> StatesError:
    return StatesError(errors.ITEM_READER_FAILED, cause)
