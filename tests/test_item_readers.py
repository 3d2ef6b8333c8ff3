"""Distributed Map ItemReaders beyond one S3 object: a local file (`stepline:readFile`, our
extension, confined to a root directory) and manifests in S3 (S3 Inventory's manifest.json
with gzipped CSV data files; Athena's UNLOAD manifest), read from moto's server on 127.0.0.1
through the runtime's own S3 integration."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest

from integrations.files import LocalFiles
from runtime import Runtime
from runtime.dataflow.items import reader_items
from runtime.manifests import ManifestReader
from runtime.model.validate import validate_definition
from tests.integrations.conftest import aws_environment, moto_url

__all__ = ["aws_environment", "moto_url"]  # fixtures, shared with the integration tests

PROCESSOR = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
             "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
CAUGHT = [{"ErrorEquals": ["States.ItemReaderFailed"], "ResultPath": "$.error",
           "Next": "Caught"}]


def _map(reader: dict[str, Any], **fields: Any) -> dict[str, Any]:
    states: dict[str, Any] = {"M": {"Type": "Map", "ItemProcessor": PROCESSOR,
                                    "ItemReader": reader, "End": True, **fields}}
    if "Catch" in fields:
        states["Caught"] = {"Type": "Pass", "End": True}
    return {"StartAt": "M", "States": states}


def _file_reader(config: dict[str, Any], path: str = "data") -> dict[str, Any]:
    return {"Resource": "arn:aws:states:::stepline:readFile", "ReaderConfig": config,
            "Parameters": {"Path": path}}


# -- a local file ----------------------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize(("body", "config", "items"), [
    ('[{"a":1},{"a":2},{"a":3}]', {"InputType": "JSON"}, [{"a": 1}, {"a": 2}, {"a": 3}]),
    ('{"a":1}\n\n{"a":2}\n', {"InputType": "JSONL"}, [{"a": 1}, {"a": 2}]),
    ("id|name\n1|x\n2|y,z\n", {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW",
                               "CSVDelimiter": "PIPE"},
     [{"id": "1", "name": "x"}, {"id": "2", "name": "y,z"}]),
    ("1,x\n", {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["n", "s"]},
     [{"n": "1", "s": "x"}]),
    ('["a","b","c","d"]', {"InputType": "JSON", "MaxItems": 2}, ["a", "b"]),
])
async def test_a_local_file_is_read_as_an_s3_object_of_its_input_type(
        tmp_path: Path, body: str, config: dict[str, Any], items: list[Any]) -> None:
    (tmp_path / "data").write_text(body)
    async with Runtime(clock="virtual", sources=(LocalFiles(tmp_path),)) as rt:
        done = await rt.run(_map(_file_reader(config)), {})
        assert (done.status, done.output) == ("SUCCEEDED", items)


@pytest.mark.anyio
async def test_a_local_file_path_is_a_template_and_batches_still_form(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.jsonl.gz").write_bytes(
        gzip.compress(b"".join(b'{"n":%d}\n' % n for n in range(5))))
    reader = {"Resource": "arn:aws:states:::stepline:readFile",
              "ReaderConfig": {"InputType": "JSONL", "MaxItemsPath": "$.limit"},
              "Parameters": {"Path.$": "States.Format('in/{}.jsonl.gz', $.name)"}}
    definition = _map(reader, ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"k": 1}})
    async with Runtime(clock="virtual", sources=(LocalFiles(tmp_path),)) as rt:
        done = await rt.run(definition, {"name": "rows", "limit": 3})
        assert done.output == [{"k": 1, "Items": [{"n": 0}, {"n": 1}]},
                               {"k": 1, "Items": [{"n": 2}]}]


@pytest.mark.anyio
async def test_a_jsonata_item_reader_gives_the_path_in_arguments(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[1, 2]")
    reader = {"Resource": "arn:aws:states:::stepline:readFile",
              "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $states.input.max %}"},
              "Arguments": {"Path": "{% $states.input.file %}"}}
    definition = {"QueryLanguage": "JSONata", **_map(reader)}
    async with Runtime(clock="virtual", sources=(LocalFiles(tmp_path),)) as rt:
        done = await rt.run(definition, {"file": "a.json", "max": 1})
        assert (done.status, done.output) == ("SUCCEEDED", [1])


@pytest.mark.anyio
async def test_reading_outside_the_root_or_a_missing_file_is_item_reader_failed(
        tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.json").write_text("[1]")
    (root / "link.json").symlink_to(tmp_path / "secret.json")
    (root / "inside.json").write_text("[1]")
    reader = {"Resource": "arn:aws:states:::stepline:readFile",
              "ReaderConfig": {"InputType": "JSON"}, "Parameters": {"Path.$": "$.file"}}
    definition = _map(reader, Catch=CAUGHT)
    async with Runtime(clock="virtual", sources=(LocalFiles(root),)) as rt:
        for path in ("../secret.json", str(tmp_path / "secret.json"), "link.json",
                     "sub/../../secret.json"):
            done = await rt.run(definition, {"file": path})
            assert done.output["error"] == {
                "Error": "States.ItemReaderFailed",
                "Cause": f"The path '{path}' is outside the directory the ItemReader may "
                         f"read ({root})."}, path
        missing = await rt.run(definition, {"file": "nope.json"})
        assert missing.output["error"]["Cause"] == f"No file 'nope.json' in {root}."
        # An absolute path inside the root is fine.
        inside = await rt.run(definition, {"file": str(root / "inside.json")})
        assert inside.output == [1]
        uncaught = await rt.run(_map(reader), {"file": "nope.json"})
        assert (uncaught.status, uncaught.error) == ("FAILED", "States.ItemReaderFailed")


@pytest.mark.anyio
async def test_a_directory_or_a_file_that_is_not_text_fails_the_reader(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe[1]")
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    definition = _map({**_file_reader({"InputType": "JSON"}), "Parameters": {"Path.$": "$"}})
    async with Runtime(clock="virtual", sources=(LocalFiles(tmp_path),)) as rt:
        causes = [(await rt.run(definition, path)).cause
                  for path in ("dir", "bin.json", "bad.json.gz", "")]
    assert causes == [
        "Cannot read 'dir': Is a directory.", "The file 'bin.json' is not UTF-8 text.",
        "The file 'bad.json.gz' is not valid gzip data.",
        "The ItemReader's Parameters must give the file's Path as a non-empty string."]


def test_the_validator_accepts_the_local_reader_and_rejects_other_resources() -> None:
    def diagnostics(reader: dict[str, Any]) -> list[tuple[str | None, str]]:
        return [(d.location, d.message) for d in validate_definition(_map(reader))]

    assert diagnostics(_file_reader({"InputType": "CSV"})) == []
    assert diagnostics({"Resource": "arn:aws-cn:states:::s3:listObjectsV2",
                        "Parameters": {"Bucket": "b"}}) == []
    assert diagnostics({"Resource": "arn:aws:states:::s3:putObject"}) == [(
        "/States/M/ItemReader/Resource",
        "The field 'Resource' does not match any of the allowed values. Examples: "
        "[arn:<partition>:states:::s3:getObject, arn:<partition>:states:::s3:listObjectsV2]")]
    assert diagnostics({"ReaderConfig": {"InputType": "XML"}}) == [
        ("/States/M/ItemReader", "These fields are required: [Resource]"),
        ("/States/M/ItemReader/ReaderConfig/InputType",
         "The field 'InputType' should have one of these values: "
         "[MANIFEST, JSON, CSV, JSONL, PARQUET]")]
    # docs: with ManifestType S3_INVENTORY, InputType "cannot be specified".
    assert diagnostics({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {
        "ManifestType": "S3_INVENTORY", "InputType": "CSV", "MaxItems": 1,
        "MaxItemsPath": "$.m"}}) == [
        ("/States/M/ItemReader/ReaderConfig", "Only one of these fields can be set: "
                                              "[MaxItems, MaxItemsPath]"),
        ("/States/M/ItemReader/ReaderConfig/InputType", "The field 'InputType' cannot be set "
                                                        "when 'ManifestType' is S3_INVENTORY")]
    assert diagnostics(_file_reader({"InputType": "MANIFEST"})) == [(
        "/States/M/ItemReader/ReaderConfig/InputType", "A local file is read as JSON, JSONL or "
        "CSV: the field 'InputType' should have one of these values: [JSON, JSONL, CSV]")]


# -- manifests in S3 ---------------------------------------------------------------------------

INVENTORY_ROWS = [
    ("src", "csvDataset/", "0", "2022-11-16T00:27:19.000Z"),
    ("src", "csvDataset/titles.csv", "3399671", "2022-11-16T00:29:32.000Z"),
    ("src", "imageDataset/n02085620_10074.jpg", "27034", "2022-11-15T20:02:16.000Z"),
]
MANIFEST_KEY = "inv/src/config/2022-11-16T00-00Z/manifest.json"


def _csv(rows: Sequence[tuple[str, ...]]) -> bytes:
    return "".join(",".join(f'"{v}"' for v in row) + "\n" for row in rows).encode()


@pytest.fixture
def inventory(moto_url: str) -> str:
    """An S3 Inventory report as S3 lays it out: manifest.json under the date, gzipped CSV
    data files under data/, both in the destination bucket."""
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    s3.create_bucket(Bucket="inventory")
    data = ["inv/src/config/data/part-0.csv.gz", "inv/src/config/data/part-1.csv.gz"]
    for key, rows in zip(data, (INVENTORY_ROWS[:2], INVENTORY_ROWS[2:]), strict=True):
        s3.put_object(Bucket="inventory", Key=key, Body=gzip.compress(_csv(rows)))
    s3.put_object(Bucket="inventory", Key=MANIFEST_KEY, Body=json.dumps({
        "sourceBucket": "src", "destinationBucket": "arn:aws:s3:::inventory",
        "version": "2016-11-30", "creationTimestamp": "1668560400000", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": key, "size": 1, "MD5checksum": "x"} for key in data]}))
    s3.put_object(Bucket="inventory", Key="orc/manifest.json", Body=json.dumps({
        "destinationBucket": "arn:aws:s3:::inventory", "fileFormat": "ORC",
        "fileSchema": "struct<bucket:string>", "files": []}))
    s3.put_object(Bucket="inventory", Key="athena/q-manifest.csv",
                  Body=b"s3://inventory/athena/q_1.gz\ns3://inventory/athena/q_2\n")
    s3.put_object(Bucket="inventory", Key="athena/q_1.gz", Body=gzip.compress(b"1,a\n2,b\n"))
    s3.put_object(Bucket="inventory", Key="athena/q_2", Body=b"3,c\n")
    return moto_url


def _s3_reader(config: dict[str, Any]) -> dict[str, Any]:
    return {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
            "Parameters": {"Bucket": "inventory", "Key.$": "$.key"}}


def _runtime(moto: str) -> Runtime:
    # The reader resolves getObject through the runtime's own resolver, as wired in.
    runtime = Runtime(clock="virtual", aws_endpoint_url=moto, sources=(
        ManifestReader(lambda resource, params: runtime.resolver.resolve(resource, params)),))
    return runtime


@pytest.mark.anyio
async def test_an_s3_inventory_manifest_maps_over_the_objects_it_lists(inventory: str) -> None:
    async with _runtime(inventory) as rt:
        done = await rt.run(_map(_s3_reader({"InputType": "MANIFEST"})), {"key": MANIFEST_KEY})
        assert done.status == "SUCCEEDED", done.cause
        # docs (ItemReader, S3 inventory): each item is one inventory row, as strings.
        assert done.output == [{"Bucket": b, "Key": k, "Size": s, "LastModifiedDate": d}
                               for b, k, s, d in INVENTORY_ROWS]
        limited = await rt.run(_map(_s3_reader({"ManifestType": "S3_INVENTORY",
                                                "MaxItems": 1})), {"key": MANIFEST_KEY})
        assert [item["Key"] for item in limited.output] == ["csvDataset/"]


@pytest.mark.anyio
async def test_an_athena_manifest_maps_over_the_rows_of_its_data_files(inventory: str) -> None:
    config = {"ManifestType": "ATHENA_DATA", "InputType": "CSV", "CSVHeaderLocation": "GIVEN",
              "CSVHeaders": ["n", "s"]}
    async with _runtime(inventory) as rt:
        done = await rt.run(_map(_s3_reader(config)), {"key": "athena/q-manifest.csv"})
        assert done.output == [{"n": "1", "s": "a"}, {"n": "2", "s": "b"}, {"n": "3", "s": "c"}]


@pytest.mark.anyio
async def test_an_unreadable_manifest_fails_the_map_with_item_reader_failed(
        inventory: str) -> None:
    definition = _map(_s3_reader({"InputType": "MANIFEST"}), Catch=CAUGHT)
    async with _runtime(inventory) as rt:
        missing = await rt.run(definition, {"key": "none/manifest.json"})
        error = missing.output["error"]
        assert error["Error"] == "States.ItemReaderFailed"
        assert error["Cause"].startswith("Cannot read s3://inventory/none/manifest.json: "
                                         "S3.NoSuchKeyException: The specified key does not")
        orc = await rt.run(definition, {"key": "orc/manifest.json"})
        assert orc.output["error"]["Cause"] == (
            "The S3 Inventory manifest s3://inventory/orc/manifest.json lists ORC files; "
            "only CSV inventories can be read.")
        not_json = await rt.run(definition, {"key": "athena/q_2"})
        assert not_json.output["error"]["Cause"] == (
            "The S3 Inventory manifest s3://inventory/athena/q_2 is not JSON.")


def test_inventory_columns_come_from_the_schema_unless_headers_are_given() -> None:
    response = {"FileSchema": "Bucket, Key", "Files": [{"Body": "b;k1\n"}, {"Body": "b;k2\n"}]}
    assert reader_items("readInventory", response, {"CSVDelimiter": "SEMICOLON"}, None) == [
        {"Bucket": "b", "Key": "k1"}, {"Bucket": "b", "Key": "k2"}]
    given = {"CSVDelimiter": "SEMICOLON", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["x"]}
    assert reader_items("readInventory", response, given, 1) == [{"x": "b"}]
