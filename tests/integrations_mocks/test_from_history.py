"""A recorded execution becomes a mock file that replays it: from Stepline's raw events and
from AWS GetExecutionHistory responses (Task events linked to their states by previousEventId)."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.mocks import MockedIntegrations, load_mock_config, parse_mock_config
from runtime import Runtime
from runtime.mockfile import HistoryFormatError, from_history, write_mock_file
from tests.integrations_mocks._support import event_types, run_test_case

pytestmark = pytest.mark.anyio

ORDERS: dict[str, Any] = {
    "StartAt": "Validate",
    "States": {
        "Validate": {"Type": "Task", "Resource": "validate", "ResultPath": "$.check",
                     "Next": "Fanout"},
        "Fanout": {
            "Type": "Parallel", "ResultPath": "$.fanout", "Next": "ShipEach",
            "Branches": [
                {"StartAt": "Charge", "States": {"Charge": {
                    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "charge", "Payload.$": "$.total"},
                    "Retry": [{"ErrorEquals": ["ConnectionError"], "MaxAttempts": 3,
                               "IntervalSeconds": 1}],
                    "ResultSelector": {"receipt.$": "$.Payload"}, "End": True}}},
                {"StartAt": "Reserve", "States": {
                    "Reserve": {"Type": "Task", "Resource": "reserve",
                                "Catch": [{"ErrorEquals": ["OutOfStock"],
                                           "ResultPath": "$.error", "Next": "Backorder"}],
                                "End": True},
                    "Backorder": {"Type": "Pass", "Result": "backordered", "End": True}}},
            ],
        },
        "ShipEach": {
            "Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.shipments",
            "ItemProcessor": {"StartAt": "Ship", "States": {"Ship": {
                "Type": "Task", "Resource": "ship", "End": True}}},
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}
ORDER = {"total": 42, "items": ["a", "b", "c", "d"]}


class OutOfStock(Exception):
    pass


def _handlers() -> dict[str, Any]:
    charges = {"count": 0}

    def charge(total: int) -> dict[str, Any]:
        charges["count"] += 1
        if charges["count"] < 3:
            raise ConnectionError("connection reset")
        return {"charged": total}

    def reserve(order: dict[str, Any]) -> None:
        raise OutOfStock(f"no stock for {len(order['items'])} items")

    return {"validate": lambda order: {"valid": True}, "charge": charge, "reserve": reserve,
            "ship": lambda item: {"tracking": "T-1" if item in "ab" else f"T-{item}"}}


async def test_recorded_run_replays_from_its_mock_file_without_handlers(tmp_path: Path) -> None:
    async with Runtime(clock="virtual", tasks=_handlers()) as recorder:
        machine = await recorder.create_state_machine("Orders", ORDERS)
        recorded = await recorder.run(machine, ORDER, name="production-run")
        raw_config = from_history(recorder.history(recorded.execution_arn))
        aws_config = from_history(recorder.get_execution_history(recorded.execution_arn))
        recorded_types = event_types(recorder, recorded.execution_arn)
    assert recorded.status == "SUCCEEDED"
    assert raw_config == aws_config
    assert raw_config["StateMachines"] == {"Orders": {"TestCases": {"FromHistory": {
        "Validate": "FromHistory.Validate", "Charge": "FromHistory.Charge",
        "Reserve": "FromHistory.Reserve", "Ship": "FromHistory.Ship"}}}}
    responses = raw_config["MockedResponses"]
    assert responses["FromHistory.Charge"] == {
        "0-1": {"Throw": {"Error": "ConnectionError", "Cause": "connection reset"}},
        "2": {"Return": {"ExecutedVersion": "$LATEST", "Payload": {"charged": 42},
                         "StatusCode": 200}}}
    assert responses["FromHistory.Reserve"] == {
        "0": {"Throw": {"Error": "OutOfStock", "Cause": "no stock for 4 items"}}}
    assert responses["FromHistory.Ship"] == {
        "0-1": {"Return": {"tracking": "T-1"}}, "2": {"Return": {"tracking": "T-c"}},
        "3": {"Return": {"tracking": "T-d"}}}

    path = tmp_path / "MockConfigFile.json"
    write_mock_file(raw_config, path)
    mocks = MockedIntegrations(load_mock_config(path))
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        machine = await rt.create_state_machine("Orders", ORDERS)
        replayed = await run_test_case(rt, mocks, f"{machine}#FromHistory", ORDER)
        replayed_types = event_types(rt, replayed.execution_arn)
    assert replayed.status == "SUCCEEDED"
    assert replayed.output == recorded.output
    # Sync handlers run in worker threads, so the Parallel branches' events interleave in
    # the order their tasks happened to finish: the same events, not always the same order.
    assert Counter(replayed_types) == Counter(recorded_types)


def test_written_file_is_readable_json() -> None:
    stream = io.StringIO()
    config = {"StateMachines": {"M": {"TestCases": {"C": {"S": "C.S"}}}},
              "MockedResponses": {"C.S": {"0": {"Return": "é"}}}}
    write_mock_file(config, stream)
    assert json.loads(stream.getvalue()) == config
    assert stream.getvalue().endswith("}\n")


CHECKOUT: dict[str, Any] = {"StartAt": "Fanout", "States": {"Fanout": {
    "Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Charge", "States": {"Charge": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 1}],
            "End": True}}},
        {"StartAt": "Reserve", "States": {"Reserve": {
            "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "stock", "Item": {"id": {"S.$": "$.id"}}},
            "End": True}}}]}}}

DECLINED_CAUSE = '{"errorMessage":"card declined","errorType":"CardDeclined"}'


def _aws_event(event_id: int, previous: int, event_type: str, **details: Any
               ) -> dict[str, Any]:
    event: dict[str, Any] = {"timestamp": datetime(2026, 1, 5, 12, 0, event_id, tzinfo=UTC),
                             "type": event_type, "id": event_id, "previousEventId": previous}
    if details:
        key = "stateEnteredEventDetails" if event_type.endswith("StateEntered") else \
            event_type[0].lower() + event_type[1:] + "EventDetails"
        event[key] = details
    return event


def _lambda(**details: Any) -> dict[str, Any]:
    return {"resourceType": "lambda", "resource": "invoke", **details}


def _put_item(**details: Any) -> dict[str, Any]:
    return {"resourceType": "dynamodb", "resource": "putItem", **details}


# A failed production run as boto3's get_execution_history(reverseOrder=True) returns it: the
# branches' events interleave, and only previousEventId ties a Task event to its state.
PRODUCTION_EVENTS: list[dict[str, Any]] = [
    _aws_event(1, 0, "ExecutionStarted", input='{"id":"o-1"}',
               inputDetails={"truncated": False}, roleArn="arn:aws:iam::1:role/r"),
    _aws_event(2, 1, "ParallelStateEntered", name="Fanout", input='{"id":"o-1"}'),
    _aws_event(3, 2, "ParallelStateStarted"),
    _aws_event(4, 3, "TaskStateEntered", name="Charge", input='{"id":"o-1"}'),
    _aws_event(5, 3, "TaskStateEntered", name="Reserve", input='{"id":"o-1"}'),
    _aws_event(6, 4, "TaskScheduled", **_lambda(region="us-east-1", parameters="{}")),
    _aws_event(7, 5, "TaskScheduled", **_put_item(region="us-east-1", parameters="{}")),
    _aws_event(8, 6, "TaskStarted", **_lambda()),
    _aws_event(9, 7, "TaskStarted", **_put_item()),
    _aws_event(10, 8, "TaskFailed", **_lambda(error="Lambda.TooManyRequestsException",
                                              cause="Rate exceeded")),
    _aws_event(11, 9, "TaskSucceeded", **_put_item(
        output='{"SdkHttpMetadata":{"HttpStatusCode":200}}',
        outputDetails={"truncated": False})),
    _aws_event(12, 11, "TaskStateExited", name="Reserve", output="{}"),
    _aws_event(13, 10, "TaskScheduled", **_lambda(region="us-east-1", parameters="{}")),
    _aws_event(14, 13, "TaskStarted", **_lambda()),
    _aws_event(15, 14, "TaskFailed", **_lambda(error="CardDeclined", cause=DECLINED_CAUSE)),
    _aws_event(16, 15, "ParallelStateFailed"),
    _aws_event(17, 16, "ExecutionFailed", error="CardDeclined", cause=DECLINED_CAUSE),
][::-1]
PRODUCTION = {"events": PRODUCTION_EVENTS, "ResponseMetadata": {"HTTPStatusCode": 200}}


async def test_failed_aws_run_becomes_a_local_test_case() -> None:
    config = from_history(PRODUCTION, state_machine_name="Checkout", test_case="Declined")
    assert config["MockedResponses"] == {
        "Declined.Charge": {
            "0": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}},
            "1": {"Throw": {"Error": "CardDeclined", "Cause": DECLINED_CAUSE}}},
        "Declined.Reserve": {"0": {"Return": {"SdkHttpMetadata": {"HttpStatusCode": 200}}}},
    }
    mocks = MockedIntegrations(parse_mock_config(config))
    async with Runtime(clock="virtual", sources=(mocks,)) as rt:
        machine = await rt.create_state_machine("Checkout", CHECKOUT)
        done = await run_test_case(rt, mocks, f"{machine}#Declined", {"id": "o-1"})
        local_types = event_types(rt, done.execution_arn)
    assert (done.status, done.error, done.cause) == ("FAILED", "CardDeclined", DECLINED_CAUSE)
    assert Counter(local_types) == Counter(e["type"] for e in PRODUCTION_EVENTS)


def test_history_without_execution_data_is_refused() -> None:
    events = [dict(e) for e in PRODUCTION_EVENTS]
    for event in events:
        details = event.get("taskSucceededEventDetails")
        if details is not None:
            event["taskSucceededEventDetails"] = {k: v for k, v in details.items()
                                                  if k != "output"}
    with pytest.raises(HistoryFormatError, match=r"Event 11 \(TaskSucceeded\) has no output"):
        from_history(events, state_machine_name="Checkout")


def test_broken_previous_event_chain_is_refused() -> None:
    events = [e for e in PRODUCTION_EVENTS if e["id"] != 13]
    with pytest.raises(HistoryFormatError,
                       match=r"Event 15 \(TaskFailed\) does not lead back to a TaskScheduled "
                             r"or LambdaFunctionScheduled event"):
        from_history(events, state_machine_name="Checkout")


def test_state_machine_name_is_needed_when_the_history_lacks_it() -> None:
    with pytest.raises(HistoryFormatError, match="give state_machine_name"):
        from_history(PRODUCTION)
    with pytest.raises(HistoryFormatError, match="Expected a list of history events"):
        from_history({"nextToken": "x"})
