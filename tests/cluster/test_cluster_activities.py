"""Activities on a PostgreSQL store: recorded in the catalog for every client, their tasks
taken from the outbox exactly once by GetActivityTask."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import asyncpg
import pytest

from runtime.cluster import ClusterClient, Worker
from runtime.cluster import client as client_module
from runtime.errors import AslError

pytestmark = pytest.mark.anyio


@pytest.fixture
async def other(postgres_dsn: str, schema: str) -> AsyncIterator[ClusterClient]:
    """A second client on the same database: another API server."""
    async with await ClusterClient.open(postgres_dsn, schema=schema) as opened:
        yield opened


def _activity_task(activity_arn: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": activity_arn, "End": True, **fields}}}


async def _offers(dsn: str, schema: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        count: int = await connection.fetchval(
            f'SELECT count(*) FROM "{schema}".outbox WHERE kind = \'OfferActivityTask\'')
        return count
    finally:
        await connection.close()


async def test_activities_created_on_one_client_are_seen_and_deleted_on_another(
        client: ClusterClient, other: ClusterClient) -> None:
    created = await client.create_activity("approve")
    assert created.arn == "arn:aws:states:us-east-1:123456789012:activity:approve"
    described = await other.activity(created.arn)
    assert (described.name, described.created) == ("approve", created.created)
    assert await other.create_activity("approve") == described  # idempotent by name
    await other.create_activity("review")
    assert [a.name for a in await client.list_activities()] == ["approve", "review"]
    await other.delete_activity(created.arn)
    await other.delete_activity(created.arn)  # AWS: deleting again is fine
    with pytest.raises(AslError) as raised:
        await client.activity(created.arn)
    assert raised.value.code == "ActivityDoesNotExist"
    assert [a.name for a in await client.list_activities()] == ["review"]
    with pytest.raises(AslError) as raised:
        await client.create_activity("not valid")
    assert raised.value.code == "InvalidName"


async def test_a_worker_on_another_client_takes_the_task_and_answers_with_its_token(
        postgres_dsn: str, schema: str, client: ClusterClient, other: ClusterClient) -> None:
    activity = (await client.create_activity("approve")).arn
    machine = await client.create_state_machine("approval", _activity_task(activity))
    arn = await client.start_execution(machine, {"amount": 5}, name="a1")
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        task = await other.get_activity_task(activity, worker_name="clerk", timeout=10)
        assert task is not None
        token, value = task
        assert value == {"amount": 5}
        await other.send_task_success(token, {"approved": True})
        done = await client.wait(arn, timeout=10)
        group.cancel_scope.cancel()
    assert (done.status, done.output) == ("SUCCEEDED", {"approved": True})
    history = await client.get_execution_history(arn)
    types = [e["type"] for e in history]
    assert types[1:5] == ["TaskStateEntered", "ActivityScheduled", "ActivityStarted",
                          "ActivitySucceeded"]
    assert history[3]["activityStartedEventDetails"] == {"workerName": "clerk"}
    assert await _offers(postgres_dsn, schema) == 0
    assert await other.get_activity_task(activity, timeout=0.05) is None


async def test_each_task_goes_to_exactly_one_of_many_pollers(
        postgres_dsn: str, schema: str, client: ClusterClient, other: ClusterClient) -> None:
    activity = (await client.create_activity("share")).arn
    decoy = (await client.create_activity("decoy")).arn
    machine = await client.create_state_machine("shared", _activity_task(activity))
    decoy_machine = await client.create_state_machine("decoyed", _activity_task(decoy))
    started = {await client.start_execution(machine, n, name=f"e{n}") for n in range(6)}
    await client.start_execution(decoy_machine, -1, name="decoy")
    taken: list[tuple[str, Any]] = []

    async def poll(poller: ClusterClient) -> None:
        while (task := await poller.get_activity_task(activity, timeout=0.5)) is not None:
            taken.append(task)

    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        async with anyio.create_task_group() as pollers:
            for poller in (client, other, client, other):
                pollers.start_soon(poll, poller)
        group.cancel_scope.cancel()
    assert sorted(value for _, value in taken) == list(range(6))
    assert len({token for token, _ in taken}) == 6
    assert await _offers(postgres_dsn, schema) == 1  # the other activity's task waits
    for arn in started:
        assert (await client.describe_execution(arn)).status == "RUNNING"


async def test_a_waiting_poll_is_woken_as_soon_as_a_task_is_offered(
        postgres_dsn: str, schema: str, client: ClusterClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbox's NOTIFY wakes the poll: without it, the next look would be 5 s away."""
    monkeypatch.setattr(client_module, "_OFFER_POLL", (5.0, 5.0))
    activity = (await client.create_activity("prompt")).arn
    machine = await client.create_state_machine("prompt", _activity_task(activity))
    got: list[float] = []

    async def poll() -> None:
        task = await client.get_activity_task(activity, timeout=10)
        assert task is not None and task[1] == "now"
        got.append(time.monotonic())

    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        group.start_soon(poll)
        await anyio.sleep(0.3)  # the poll has looked once and waits
        offered = time.monotonic()
        await client.start_execution(machine, "now")
        with anyio.fail_after(10):
            while not got:
                await anyio.sleep(0.01)
        group.cancel_scope.cancel()
    assert got[0] - offered < 0.5


async def test_the_tasks_of_a_stopped_execution_are_withdrawn(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    activity = (await client.create_activity("withdrawn")).arn
    machine = await client.create_state_machine("withdrawn", _activity_task(activity))
    arn = await client.start_execution(machine, {})
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        with anyio.fail_after(10):
            while not await _offers(postgres_dsn, schema):
                await anyio.sleep(0.02)
        stopped = await client.stop_execution(arn, timeout=10)
        group.cancel_scope.cancel()
    assert stopped.status == "ABORTED"
    assert await _offers(postgres_dsn, schema) == 0
    assert await client.get_activity_task(activity, timeout=0.05) is None


async def test_polling_an_unknown_activity_is_refused_as_aws_does(
        client: ClusterClient) -> None:
    with pytest.raises(AslError) as raised:
        await client.get_activity_task(
            "arn:aws:states:us-east-1:123456789012:activity:nobody", timeout=0.05)
    assert raised.value.code == "ActivityDoesNotExist"


async def test_a_task_naming_a_missing_activity_fails_its_execution(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    """AWS fails the execution with States.Runtime and no ActivityScheduled
    (conformance: activities/test_activity_task_on_deleted)."""
    missing = "arn:aws:states:us-east-1:123456789012:activity:never-created"
    machine = await client.create_state_machine("UsesMissing", _activity_task(missing))
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        arn = await client.start_execution(machine, {})
        done = await client.wait(arn, timeout=30)
        group.cancel_scope.cancel()
    assert (done.status, done.error) == ("FAILED", "States.Runtime")
    assert done.cause is not None and done.cause.endswith(f"The activity {missing} does not exist.")
    history = await client.get_execution_history(arn)
    assert [e["type"] for e in history] == ["ExecutionStarted", "TaskStateEntered",
                                            "ExecutionFailed"]
