"""Nested executions on the cluster: `states:startExecution.sync` / `.sync:2` children run on
any worker and answer their parent's task when they end; `aws-sdk:sfn:*` actions are served by
the cluster itself (AWS's Step Functions integration, conformance tier 2 nested cases)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from runtime.cluster import ClusterClient, Worker

pytestmark = pytest.mark.anyio

CHILD_OK = {"StartAt": "Double", "States": {"Double": {
    "Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True}}}
CHILD_FAILS = {"StartAt": "Boom", "States": {"Boom": {
    "Type": "Fail", "Error": "Child.Bad", "Cause": "it broke"}}}


def _parent(resource: str, child_arn: str, **extra: Any) -> dict[str, Any]:
    states: dict[str, Any] = {"Run": {
        "Type": "Task", "Resource": resource, "End": True, **extra,
        "Parameters": {"StateMachineArn": child_arn, "Input": {"n": 21}}}}
    if "Catch" in extra:
        states["Handled"] = {"Type": "Pass", "End": True}
    return {"StartAt": "Run", "States": states}


async def test_sync_children_run_on_the_workers_and_answer_their_parents(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    ok = await client.create_state_machine("ChildOk", CHILD_OK)
    fails = await client.create_state_machine("ChildFails", CHILD_FAILS)
    parents = [
        await client.create_state_machine("ParentSync2", _parent(
            "arn:aws:states:::states:startExecution.sync:2", ok)),
        await client.create_state_machine("ParentSync", _parent(
            "arn:aws:states:::states:startExecution.sync", ok)),
        await client.create_state_machine("ParentCatches", _parent(
            "arn:aws:states:::states:startExecution.sync:2", fails,
            Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error",
                    "Next": "Handled"}])),
        await client.create_state_machine("ParentSdk", _parent(
            "arn:aws:states:::aws-sdk:sfn:startExecution", ok)),
    ]
    workers = [Worker(postgres_dsn, schema=schema, worker_id=f"w{index}") for index in range(2)]
    async with anyio.create_task_group() as group:
        for worker in workers:
            await group.start(worker.run)
        runs = [await client.start_execution(arn, {}) for arn in parents]
        json_values, strings, caught, sdk = [await client.wait(arn, timeout=30) for arn in runs]
        group.cancel_scope.cancel()
    assert json_values.status == "SUCCEEDED", json_values
    assert (json_values.output["Output"], json_values.output["Status"]) == (
        {"doubled": 42}, "SUCCEEDED")
    assert json.loads(strings.output["Output"]) == {"doubled": 42}
    history = await client.get_execution_history(runs[0])
    assert [e["type"] for e in history] == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
        "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    # A failed child fails the task with States.TaskFailed, its description as the cause.
    assert caught.status == "SUCCEEDED"
    assert caught.output["error"]["Error"] == "States.TaskFailed"
    described = json.loads(caught.output["error"]["Cause"])
    assert (described["Status"], described["Error"]) == ("FAILED", "Child.Bad")
    # aws-sdk:sfn:startExecution starts the child on the cluster and answers at once.
    started = await client.describe_execution(sdk.output["ExecutionArn"])
    assert started.state_machine_arn == parents[0].replace("ParentSync2", "ChildOk")
