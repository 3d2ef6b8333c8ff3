"""A Distributed Map's dataset named by a manifest in S3 (docs: ItemReader, "Amazon S3
inventory" and "Athena manifest"): the Map Run reads the manifest, then every data file it
lists, through the runtime's own S3 integration (`aws-sdk:s3:getObject`), so endpoints, mocks
and credentials are the ones every other S3 call uses.

The answer carries the files' text; `runtime.dataflow.items.reader_items` turns it into items,
so a replay parses the recorded answer and reads nothing again:

- `stepline:readInventory` (InputType MANIFEST, or ManifestType S3_INVENTORY): manifest.json
  as S3 Inventory writes it; its `files` are gzipped CSV objects in the destination bucket,
  without a header row: `fileSchema` names the columns. Answer:
  `{"FileSchema": "Bucket, Key, ...", "Files": [{"Bucket", "Key", "Body"}, ...]}`.
- `stepline:readAthenaManifest` (ManifestType ATHENA_DATA): the manifest an Athena UNLOAD
  writes, one `s3://bucket/key` per line. Answer: `{"Files": [{"Bucket", "Key", "Body"}]}`.

Every failure is States.ItemReaderFailed, its cause naming the object that could not be read.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections.abc import Callable
from typing import Final

from integrations._base import JSON, Integration, TaskCall, TaskError
from runtime.dataflow.items import READ_ATHENA_MANIFEST, READ_INVENTORY
from runtime.errors import ITEM_READER_FAILED

GET_OBJECT: Final = "arn:aws:states:::aws-sdk:s3:getObject"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"

#: How the reader finds the integration for a resource: the runtime's `resolver.resolve`.
Resolve = Callable[[str, JSON], "Integration | None"]


class ManifestReader:
    """An `IntegrationSource` (and the `Integration`) for the two manifest readers.

    Args:
        resolve: finds the integration serving `aws-sdk:s3:getObject`; the runtime passes its
            `resolver.resolve`, so the files are read as any S3 task reads them.
    """

    def __init__(self, resolve: Resolve) -> None:
        self.resolve = resolve

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        return self if resource in (READ_INVENTORY, READ_ATHENA_MANIFEST) else None

    async def invoke(self, call: TaskCall) -> JSON:
        """Read the manifest named by Parameters `Bucket`/`Key` (`VersionId`,
        `ExpectedBucketOwner` pass through) and every data file it lists.

        Raises:
            TaskError: States.ItemReaderFailed.
        """
        params = call.parameters if isinstance(call.parameters, dict) else {}
        bucket, key = params.get("Bucket"), params.get("Key")
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise _failed("The ItemReader's Parameters must give the manifest's Bucket and Key.")
        manifest = await self._get(call, params)
        if call.resource == READ_INVENTORY:
            schema, locations = _inventory_files(manifest, bucket, key)
            files = await self._files(call, locations)
            return {"FileSchema": schema, "Files": files}
        return {"Files": await self._files(call, _athena_files(manifest, bucket, key))}

    async def _files(self, call: TaskCall, locations: list[tuple[str, str]]) -> list[JSON]:
        return [{"Bucket": bucket, "Key": key,
                 "Body": await self._get(call, {"Bucket": bucket, "Key": key})}
                for bucket, key in locations]

    async def _get(self, call: TaskCall, parameters: dict[str, JSON]) -> str:
        where = f"s3://{parameters['Bucket']}/{parameters['Key']}"
        integration = self.resolve(GET_OBJECT, parameters)
        if integration is None:
            raise _failed(f"No S3 integration is available to read {where}.")
        try:
            response = await integration.invoke(TaskCall(
                resource=GET_OBJECT, parameters=parameters, execution_arn=call.execution_arn,
                state_name=call.state_name))
        except TaskError as error:
            raise _failed(f"Cannot read {where}: {error.error}: {error.cause}") from None
        body = response.get("Body") if isinstance(response, dict) else None
        if not isinstance(body, str):
            raise _failed(f"The object {where} has no body.")
        return _text(body, where)


def _text(body: str, where: str) -> str:
    """The object's text. S3's integration answers a body that is not UTF-8 as base64:
    inventory data files are gzipped CSV."""
    try:
        data = base64.b64decode(body, validate=True)
    except binascii.Error:
        return body
    if data.startswith(_ZSTD_MAGIC):
        raise _failed(f"The object {where} is ZSTD-compressed, which this runtime cannot read.")
    if not data.startswith(_GZIP_MAGIC):
        return body
    try:
        return gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, zlib.error):
        raise _failed(f"The object {where} is not valid gzip data.") from None
    except UnicodeDecodeError:
        raise _failed(f"The object {where} is not UTF-8 text once unpacked.") from None


def _inventory_files(text: str, bucket: str, key: str) -> tuple[str, list[tuple[str, str]]]:
    where = f"s3://{bucket}/{key}"
    try:
        manifest = json.loads(text)
    except ValueError:
        raise _failed(f"The S3 Inventory manifest {where} is not JSON.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise _failed(f"The S3 Inventory manifest {where} has no list of files.")
    file_format = manifest.get("fileFormat", "CSV")
    if file_format != "CSV":
        # docs: "The output format of your Amazon S3 inventory report must be CSV."
        raise _failed(f"The S3 Inventory manifest {where} lists {file_format} files; only "
                      "CSV inventories can be read.")
    schema = manifest.get("fileSchema")
    if not isinstance(schema, str):
        raise _failed(f"The S3 Inventory manifest {where} has no fileSchema.")
    # `destinationBucket` is an ARN (`arn:aws:s3:::name`); the data files are there.
    destination = manifest.get("destinationBucket")
    data_bucket = destination.rsplit(":", 1)[-1] if isinstance(destination, str) else bucket
    locations = []
    for entry in manifest["files"]:
        data_key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(data_key, str):
            raise _failed(f"The S3 Inventory manifest {where} lists a file without a key.")
        locations.append((data_bucket, data_key))
    return schema, locations


def _athena_files(text: str, bucket: str, key: str) -> list[tuple[str, str]]:
    locations = []
    for line in text.splitlines():
        uri = line.strip().strip('"')
        if not uri:
            continue
        data_bucket, _, data_key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not data_bucket or not data_key:
            raise _failed(f"The Athena manifest s3://{bucket}/{key} lists '{uri}', which is "
                          "not an s3://bucket/key URI.")
        locations.append((data_bucket, data_key))
    return locations


def _failed(cause: str) -> TaskError:
    return TaskError(ITEM_READER_FAILED, cause)
