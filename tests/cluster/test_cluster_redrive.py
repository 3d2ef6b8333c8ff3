"""RedriveExecution on a PostgreSQL store: an execution that ended unsuccessfully is queued a
redrive, is RUNNING again at once, and a worker continues it from where it failed."""

from __future__ import annotations

import time
from typing import Any

import anyio
import asyncpg
import pytest

from runtime.cluster import ClusterClient, Worker
from runtime.cluster.rows import encode_message
from runtime.cluster.sql import ClusterStatements
from runtime.errors import AslError
from runtime.messages import TaskHeartbeat

pytestmark = pytest.mark.anyio

FLAKY = {"StartAt": "First", "States": {
    "First": {"Type": "Task", "Resource": "count", "Next": "Flaky"},
    "Flaky": {"Type": "Task", "Resource": "flaky", "End": True}}}


class Calls:
    """Task handlers: `count` counts its calls; `flaky` fails until `healed`."""

    def __init__(self) -> None:
        self.counted = 0
        self.healed = False

    def tasks(self) -> dict[str, Any]:
        return {"count": self.count, "flaky": self.flaky}

    def count(self, value: Any) -> Any:
        self.counted += 1
        return value

    def flaky(self, value: Any) -> Any:
        if not self.healed:
            raise RuntimeError("not yet")
        return {"healed": value}


async def test_a_failed_execution_is_redriven_from_its_failed_state(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    calls = Calls()
    machine = await client.create_state_machine("flaky", FLAKY)
    arn = await client.start_execution(machine, 7, name="r1")
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema, tasks=calls.tasks()).run)
        failed = await client.wait(arn, timeout=10)
        assert (failed.status, failed.redrive_count, failed.redrive_date) == ("FAILED", 0, None)
        calls.healed = True
        redriven = await client.redrive_execution(arn)
        # RUNNING from the answer on (AWS), before any worker has stepped it.
        assert (redriven.status, redriven.stop_date, redriven.error) == ("RUNNING", None, None)
        assert redriven.redrive_count == 1 and redriven.redrive_date is not None
        done = await client.wait(arn, timeout=10)
        group.cancel_scope.cancel()
    assert (done.status, done.output) == ("SUCCEEDED", {"healed": 7})
    assert (done.redrive_count, done.redrive_date) == (1, redriven.redrive_date)
    assert calls.counted == 1  # the state that succeeded is not run again
    types = [e["type"] for e in await client.get_execution_history(arn)]
    assert types.count("ExecutionFailed") == 1 and "ExecutionRedriven" in types
    assert types[-1] == "ExecutionSucceeded"
    with pytest.raises(AslError) as raised:
        await client.redrive_execution(arn)
    assert raised.value.code == "ExecutionNotRedrivable"


async def test_running_and_unknown_executions_are_refused_as_aws_does(
        client: ClusterClient) -> None:
    machine = await client.create_state_machine("waits", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 600, "End": True}}})
    arn = await client.start_execution(machine, {}, name="w1")
    with pytest.raises(AslError) as raised:
        await client.redrive_execution(arn)
    assert raised.value.code == "ExecutionNotRedrivable"
    assert "RUNNING" in raised.value.message
    with pytest.raises(AslError) as raised:
        await client.redrive_execution(arn.replace(":w1", ":nobody"))
    assert raised.value.code == "ExecutionDoesNotExist"


async def test_an_aborted_execution_waits_again_and_can_be_stopped_again(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    machine = await client.create_state_machine("waits", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 600, "End": True}}})
    arn = await client.start_execution(machine, {}, name="w2")
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        aborted = await client.stop_execution(arn, error="Halt", timeout=10)
        assert aborted.status == "ABORTED"
        await client.redrive_execution(arn)
        with pytest.raises(AslError) as raised:
            # RUNNING already, before a worker took the first: refused, not redriven twice.
            await client.redrive_execution(arn)
        assert raised.value.code == "ExecutionNotRedrivable"
        again = await client.stop_execution(arn, error="Again", timeout=10)
        group.cancel_scope.cancel()
    assert (again.status, again.error, again.redrive_count) == ("ABORTED", "Again", 1)
    types = [e["type"] for e in await client.get_execution_history(arn)]
    assert types.count("ExecutionAborted") == 2
    assert types.count("WaitStateEntered") == 2  # the Wait state runs again


async def test_a_redrive_waits_for_a_step_under_way_to_commit_first(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    """A late message to the ended execution, being stepped by a worker (here one that
    claimed it and vanished): that step's commit would write FAILED back over the redrive,
    so the redrive is queued once the lease is free."""
    calls = Calls()
    machine = await client.create_state_machine("flaky", FLAKY)
    arn = await client.start_execution(machine, 1, name="r2")
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema, tasks=calls.tasks()).run)
        assert (await client.wait(arn, timeout=10)).status == "FAILED"
        group.cancel_scope.cancel()
    statements = ClusterStatements(schema)
    connection = await asyncpg.connect(postgres_dsn)
    try:
        await connection.execute(
            f'INSERT INTO "{schema}".inbox (arn, message) VALUES ($1, $2)', arn,
            encode_message(TaskHeartbeat(at=0.0, key="late")))
        claimed = await connection.fetch(statements.claim_executions, "ghost", 1.0, 10)
        assert [row["arn"] for row in claimed] == [arn]
    finally:
        await connection.close()
    calls.healed = True
    began = time.monotonic()
    redriven = await client.redrive_execution(arn)
    assert redriven.status == "RUNNING" and time.monotonic() - began >= 0.5
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema, tasks=calls.tasks()).run)
        done = await client.wait(arn, timeout=10)
        group.cancel_scope.cancel()
    assert (done.status, done.output, done.redrive_count) == ("SUCCEEDED", {"healed": 1}, 1)
