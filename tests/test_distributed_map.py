"""Distributed Map: a Map Run (kept out of the parent history, as AWS keeps its child
executions), ItemReader from S3 (JSON, JSONL, CSV, object listings), ItemBatcher, ResultWriter
(AWS's file layout) and tolerated failures. S3 is a fake integration source here; tests against
moto's S3 run in the tier-2 conformance cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations._base import Integration, TaskCall, TaskError
from runtime import Runtime
from runtime.dataflow.items import batches, reader_items


class FakeS3:
    def __init__(self, objects: dict[str, str]) -> None:
        self.objects = dict(objects)

    def resolve_call(self, resource: str, parameters: Any) -> Integration | None:
        return self if resource.startswith("arn:aws:states:::aws-sdk:s3:") else None

    async def invoke(self, call: TaskCall) -> Any:
        params = call.parameters
        action = call.resource.rsplit(":", 1)[-1]
        path = f"{params['Bucket']}/{params.get('Key', '')}"
        if action == "getObject":
            if path not in self.objects:
                raise TaskError("S3.NoSuchKeyException", "The specified key does not exist.")
            return {"Body": self.objects[path]}
        if action == "putObject":
            self.objects[path] = params["Body"]
            return {"ETag": '"x"'}
        prefix = f"{params['Bucket']}/{params.get('Prefix', '')}"
        return {"Contents": [{"Key": key.split("/", 1)[1], "Size": len(body), "ETag": '"e"'}
                             for key, body in self.objects.items() if key.startswith(prefix)]}


PROCESSOR = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
             "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def _map(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": PROCESSOR,
                                             "End": True, **fields}}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_map_run_keeps_its_iterations_out_of_the_parent_history() -> None:
    async with Runtime(clock="virtual") as rt:
        done = await rt.run(_map(), [1, 2, 3])
        assert done.output == [1, 2, 3]
        history = rt.get_execution_history(done.execution_arn)
        # AWS's parent history (conformance: assign/...MAP_STATE_REFERENCE_IN_...).
        assert [e["type"] for e in history] == [
            "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
            "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
        assert [e["id"] for e in history] == list(range(1, 9))
        run_arn = history[3]["mapRunStartedEventDetails"]["mapRunArn"]
        assert ":mapRun:" in run_arn and "/M:" in run_arn
        (run,) = rt.map_runs(done.execution_arn)
        assert (run.arn, run.status, run.total, run.succeeded) == (run_arn, "SUCCEEDED", 3, 3)


@pytest.mark.anyio
async def test_iterations_of_a_map_run_do_not_see_outer_variables() -> None:
    definition = {"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"},
        "M": {"Type": "Map", "End": True, "ItemProcessor": {
            **PROCESSOR, "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$outer"},
                                          "End": True}}}}}}
    async with Runtime(clock="virtual") as rt:
        done = await rt.run(definition, [1])
        assert done.status == "FAILED" and done.error == "States.Runtime"


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "config", "items"), [
    ('[{"a":1},{"a":2},{"a":3}]', {"InputType": "JSON", "MaxItems": 2}, [{"a": 1}, {"a": 2}]),
    ('{"a":1}\n{"a":2}\n', {"InputType": "JSONL"}, [{"a": 1}, {"a": 2}]),
    ("H1,H2\nx,y\n", {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
     [{"H1": "x", "H2": "y"}]),
])
async def test_an_item_reader_reads_the_items_from_s3(
        body: str, config: dict[str, Any], items: list[Any]) -> None:
    s3 = FakeS3({"b/k": body})
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
              "Parameters": {"Bucket": "b", "Key": "k"}}
    async with Runtime(clock="virtual", sources=(s3,)) as rt:
        done = await rt.run(_map(ItemReader=reader), {})
        assert done.status == "SUCCEEDED"
        assert done.output == items
        started = next(e for e in rt.get_execution_history(done.execution_arn)
                       if e["type"] == "MapStateStarted")
        assert started["mapStateStartedEventDetails"] == {"length": 0}  # as AWS records


@pytest.mark.anyio
async def test_an_item_reader_failure_is_states_item_reader_failed() -> None:
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
              "Parameters": {"Bucket": "b", "Key": "k"}}
    async with Runtime(clock="virtual", sources=(FakeS3({"b/k": '{"Hello": "world"}'}),)) as rt:
        done = await rt.run(_map(ItemReader=reader), {})
        # conformance: scenarios/...test_map_item_reader_json_no_json_list_object
        assert (done.error, done.cause) == ("States.ItemReaderFailed",
                                            "Attempting to map over non-iterable node.")


@pytest.mark.anyio
async def test_item_batcher_and_result_writer_write_aws_s_layout() -> None:
    s3 = FakeS3({})
    definition = _map(Label="Batches", ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"k": 1}},
                      ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                    "Parameters": {"Bucket": "out", "Prefix": "jobs"}})
    async with Runtime(clock="virtual", sources=(s3,)) as rt:
        done = await rt.run(definition, [1, 2, 3])
        assert done.status == "SUCCEEDED"
        run_id = done.output["MapRunArn"].rsplit(":", 1)[-1]
        assert done.output["ResultWriterDetails"] == {
            "Bucket": "out", "Key": f"jobs/{run_id}/manifest.json"}
        manifest = json.loads(s3.objects[f"out/jobs/{run_id}/manifest.json"])
        (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
        results = json.loads(s3.objects[f"out/{succeeded['Key']}"])
        assert [json.loads(r["Output"]) for r in results] == [
            {"k": 1, "Items": [1, 2]}, {"k": 1, "Items": [3]}]


def test_batches_respect_item_and_byte_limits() -> None:
    assert batches([1, 2, 3], max_items=2, max_bytes=None, batch_input=None) == [
        {"Items": [1, 2]}, {"Items": [3]}]
    assert batches(["aaaa", "bbbb"], max_items=None, max_bytes=8, batch_input=None) == [
        {"Items": ["aaaa"]}, {"Items": ["bbbb"]}]


def test_csv_rows_take_missing_fields_as_empty_and_drop_extra_ones() -> None:
    # conformance: scenarios/...test_map_item_reader_csv_first_row_extra_fields
    body = "H1,\nValue4,Value5,Value6\n,,,\n"
    assert reader_items("getObject", {"Body": body}, {"InputType": "CSV"}, None) == [
        {"H1": "Value4", "": "Value5"}, {"H1": "", "": ""}]
