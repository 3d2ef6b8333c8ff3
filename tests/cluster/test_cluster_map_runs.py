"""A Distributed Map on the cluster: its items run as child executions that any worker steps,
stopped with their Map and redriven with their parent, as in the single-process runtime."""

from __future__ import annotations

import collections
from typing import Any

import anyio
import asyncpg
import pytest

from runtime.cluster import ClusterClient, Worker

pytestmark = pytest.mark.anyio


def _map(processor_states: dict[str, Any], **fields: Any) -> dict[str, Any]:
    first = next(iter(processor_states))
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "Label": "Items", "End": True, **fields,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                              "ExecutionType": "STANDARD"},
                          "StartAt": first, "States": processor_states}}}}


async def _children(dsn: str, schema: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(
            f'SELECT arn, status, map_run_arn, parent_arn, state_machine_arn, redrive_count'
            f' FROM "{schema}".executions WHERE map_run_arn IS NOT NULL ORDER BY position'))
    finally:
        await connection.close()


async def test_the_items_of_a_map_run_are_spread_over_the_workers(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    ran_on: collections.Counter[str] = collections.Counter()

    def handler_of(worker_id: str) -> Any:
        async def work(value: int) -> int:
            ran_on[worker_id] += 1
            await anyio.sleep(0.02)  # long enough for the other worker to claim the next item
            return value * 2
        return work

    workers = [Worker(postgres_dsn, schema=schema, worker_id=f"w{index}", claim_batch=1,
                      tasks={"work": handler_of(f"w{index}")}) for index in range(2)]
    machine = await client.create_state_machine("Parent", _map(
        {"Work": {"Type": "Task", "Resource": "work", "End": True}}))
    async with anyio.create_task_group() as group:
        for worker in workers:
            await group.start(worker.run)
        arn = await client.start_execution(machine, list(range(20)))
        done = await client.wait(arn, timeout=60)
        group.cancel_scope.cancel()
    assert (done.status, done.output) == ("SUCCEEDED", [n * 2 for n in range(20)])
    assert set(ran_on) == {"w0", "w1"} and sum(ran_on.values()) == 20
    children = await _children(postgres_dsn, schema)
    assert len(children) == 20
    assert {row["status"] for row in children} == {"SUCCEEDED"}
    assert {row["parent_arn"] for row in children} == {arn}
    (run_arn,) = {row["map_run_arn"] for row in children}
    assert run_arn.startswith("arn:aws:states:us-east-1:123456789012:mapRun:Parent/Items:")
    assert {row["state_machine_arn"] for row in children} == {
        "arn:aws:states:us-east-1:123456789012:stateMachine:Parent/Items"}
    history = await client.get_execution_history(arn)
    assert [e["type"] for e in history] == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
        "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    child_history = await client.get_execution_history(children[0]["arn"])
    assert [e["type"] for e in child_history] == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
        "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


async def test_a_failed_map_run_stops_its_children_and_a_redrive_reruns_them(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    attempts: collections.Counter[int] = collections.Counter()

    async def flaky(value: int) -> int:
        attempts[value] += 1
        if value == 0 and attempts[value] == 1:
            raise RuntimeError("the first attempt fails")
        if value > 0 and attempts[value] == 1:
            await anyio.sleep(3600)  # still running when the Map fails: stopped
        return value

    worker = Worker(postgres_dsn, schema=schema, worker_id="w0", tasks={"flaky": flaky})
    machine = await client.create_state_machine("Parent", _map(
        {"Flaky": {"Type": "Task", "Resource": "flaky", "End": True}}))
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        arn = await client.start_execution(machine, [0, 1, 2])
        failed = await client.wait(arn, timeout=30)
        assert (failed.status, failed.error) == ("FAILED", "RuntimeError")
        with anyio.fail_after(30):
            while {row["status"] for row in await _children(postgres_dsn, schema)} \
                    != {"FAILED", "ABORTED"}:
                await anyio.sleep(0.05)
        await client.redrive_execution(arn)
        done = await client.wait(arn, timeout=30)
        group.cancel_scope.cancel()
    assert (done.status, done.output, done.redrive_count) == ("SUCCEEDED", [0, 1, 2], 1)
    children = await _children(postgres_dsn, schema)
    assert [row["status"] for row in children] == ["SUCCEEDED"] * 3
    assert [row["redrive_count"] for row in children] == [1, 1, 1]


async def test_map_runs_are_described_and_updated_through_the_client(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    release = anyio.Event()

    async def hold(value: int) -> int:
        await release.wait()
        return value

    worker = Worker(postgres_dsn, schema=schema, worker_id="w0", tasks={"hold": hold})
    machine = await client.create_state_machine("Parent", _map(
        {"Hold": {"Type": "Task", "Resource": "hold", "End": True}}, MaxConcurrency=1))
    empty = await client.create_state_machine("Empty", _map(
        {"P": {"Type": "Pass", "End": True}}))
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        nothing = await client.start_execution(empty, [])
        assert (await client.wait(nothing, timeout=30)).output == []
        (empty_run,) = await client.map_runs(nothing)
        assert await client.describe_map_run(empty_run.arn) == (nothing, empty_run)
        arn = await client.start_execution(machine, [1, 2, 3])
        with anyio.fail_after(30):
            while not await client.map_runs(arn) or len(await _children(postgres_dsn,
                                                                         schema)) < 1:
                await anyio.sleep(0.05)
        (run,) = await client.map_runs(arn)
        await client.update_map_run(run.arn, max_concurrency=3)
        with anyio.fail_after(30):
            while len(await _children(postgres_dsn, schema)) < 3:
                await anyio.sleep(0.05)
        parent, described = await client.describe_map_run(run.arn)
        assert (parent, described.max_concurrency, described.status) == (arn, 3, "RUNNING")
        release.set()
        done = await client.wait(arn, timeout=30)
        group.cancel_scope.cancel()
    assert done.output == [1, 2, 3]
