"""Distributed Map data: the items an ItemReader's response holds, and ItemBatcher batches.
Pure functions: the reducer calls them on the recorded response, so a replay reads the same
items without calling S3 (or the file system) again.

An ItemReader names an S3 action; the Map Run calls it as a task resource (`reader_call`):
`aws-sdk:s3:getObject|listObjectsV2` for one object or a listing, and the runtime's own
readers for what takes more than one call (an S3 Inventory or Athena manifest, read by
runtime/manifests.py) or is not S3 at all (`stepline:readFile`, integrations/files.py)."""

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

#: A local file as the dataset (our extension): Parameters `{"Path": ...}`.
READ_FILE: Final = "arn:aws:states:::stepline:readFile"
#: The objects an S3 Inventory manifest.json lists: its CSV data files, with the schema.
READ_INVENTORY: Final = "arn:aws:states:::stepline:readInventory"
#: The data files an Athena UNLOAD manifest lists (docs: ManifestType ATHENA_DATA).
READ_ATHENA_MANIFEST: Final = "arn:aws:states:::stepline:readAthenaManifest"


def reader_call(resource: str, config: Mapping[str, JSON]) -> tuple[str, str]:
    """The action `reader_items` reads for an ItemReader `resource` with `config`, and the
    task resource the Map Run calls for it."""
    service_action = resource.split(":::", 1)[-1]
    if service_action == "stepline:readFile":
        return "readFile", READ_FILE
    action = service_action.rsplit(":", 1)[-1]
    if action == "getObject":
        # AWS: InputType MANIFEST is an S3 Inventory; so is ManifestType S3_INVENTORY,
        # which takes no InputType.
        manifest = config.get("ManifestType")
        if manifest == "ATHENA_DATA":
            return "readAthenaManifest", READ_ATHENA_MANIFEST
        if manifest == "S3_INVENTORY" or config.get("InputType") == "MANIFEST":
            return "readInventory", READ_INVENTORY
    return action, f"arn:aws:states:::aws-sdk:s3:{action}"


def reader_items(action: str, response: JSON, config: Mapping[str, JSON],
                 max_items: int | None) -> list[JSON]:
    """Items from the response of the ItemReader's call (`action` as `reader_call` names
    it): `{"Body": text}` for `getObject` and `readFile`, S3's listing for `listObjectsV2`,
    `{"Files": [{"Key", "Body"}, ...]}` (plus the inventory's `FileSchema`) for
    `readInventory` and `readAthenaManifest`.

    Raises:
        StatesError: States.ItemReaderFailed, with AWS's cause where the corpus records one.
    """
    if not isinstance(response, dict):
        raise _failed("The ItemReader's response is not an object.")
    if action == "listObjectsV2":
        items: list[JSON] = [_object_item(entry) for entry in response.get("Contents") or []]
    elif action == "readInventory":
        items = _files_items(response, _inventory_config(response, config), max_items)
    elif action == "readAthenaManifest":
        items = _files_items(response, config, max_items)
    else:
        body = response.get("Body")
        if not isinstance(body, str):
            raise _failed("The ItemReader's object has no text body.")
        items = _parse_body(body, config)
    return items[:max_items] if max_items else items


def _inventory_config(response: Mapping[str, JSON], config: Mapping[str, JSON]
                      ) -> dict[str, JSON]:
    """Inventory data files have no header row: the manifest's `fileSchema` names the
    columns (docs: "the CSV headers for the inventory object metadata")."""
    if config.get("CSVHeaderLocation") == "GIVEN":
        headers = config.get("CSVHeaders")
    else:
        schema = response.get("FileSchema")
        if not isinstance(schema, str) or not schema.strip():
            raise _failed("The S3 Inventory manifest has no fileSchema.")
        headers = [name.strip() for name in schema.split(",")]
    return {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": headers,
            "CSVDelimiter": config.get("CSVDelimiter", "COMMA")}


def _files_items(response: Mapping[str, JSON], config: Mapping[str, JSON],
                 max_items: int | None) -> list[JSON]:
    items: list[JSON] = []
    for file in response.get("Files") or []:
        if max_items and len(items) >= max_items:
            break
        body = file.get("Body") if isinstance(file, dict) else None
        if not isinstance(body, str):
            raise _failed("A data file of the manifest has no text body.")
        items.extend(_parse_body(body, config))
    return items


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
