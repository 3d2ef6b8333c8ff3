"""Catalog changes on a PostgreSQL store are awaited on the server's own event loop: other
tasks run while one waits for the database, and concurrent changes (through one server or
several) are all recorded, each decided on the catalog as the others left it."""

from __future__ import annotations

import json
import threading
from typing import Any

import anyio
import asyncpg
import pytest

from runtime import store
from runtime.api.backend import ClusterBackend
from runtime.api.service import StepFunctions
from runtime.cluster import ClusterClient
from runtime.log.pg_schema import quote_schema
from tests.cluster.workloads import passes_machine

pytestmark = pytest.mark.anyio
ROLE = "arn:aws:iam::123456789012:role/test"


def _client(api: StepFunctions) -> ClusterClient:
    backend = api.backend
    assert isinstance(backend, ClusterBackend)
    return backend.client


async def test_other_tasks_run_while_an_update_waits_for_the_database(
        postgres_dsn: str, schema: str, first: StepFunctions) -> None:
    machine, _ = await first.create_state_machine("m", passes_machine("old"), role_arn=ROLE)
    blocker = await asyncpg.connect(postgres_dsn)
    try:
        # Another transaction holds the catalog stream's row: the update's append waits.
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute(f"SELECT version FROM {quote_schema(schema)}.streams "
                              f"WHERE stream_id = $1 FOR UPDATE", store.CATALOG_STREAM)
        updated: list[Any] = []

        async def update() -> None:
            updated.append(await first.update_state_machine(machine.arn,
                                                            definition=passes_machine("new")))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(update)
                ticks = 0
                while ticks < 20:  # the loop keeps running: the update only awaits
                    await anyio.sleep(0.01)
                    ticks += 1
                assert not updated
                await transaction.rollback()
    finally:
        await blocker.close()
    (machine_now, _), = updated
    assert json.loads(machine_now.definition)["States"]["P"]["Result"] == "new"
    assert (await first.describe_state_machine(machine.arn)).definition == passes_machine("new")
    assert not [t for t in threading.enumerate() if t.name == "stepline-catalog"]


async def test_concurrent_publishes_on_two_servers_get_distinct_numbers(
        first: StepFunctions, second: StepFunctions) -> None:
    machine, _ = await first.create_state_machine("m", passes_machine(0), role_arn=ROLE)
    published: list[str] = []

    async def update_and_publish(api: StepFunctions, result: int) -> None:
        _, version = await api.update_state_machine(machine.arn, definition=passes_machine(result),
                                                    publish=True)
        assert version is not None
        published.append(version.arn)

    async with anyio.create_task_group() as group:
        for result in range(1, 7):
            group.start_soon(update_and_publish, (first, second)[result % 2], result)
    listed = [(await api.list_versions(machine.arn, None, None)).items
              for api in (first, second)]
    assert [[v.arn for v in found] for found in listed] == [sorted(
        set(published), key=lambda arn: -int(arn.rpartition(":")[2]))] * 2
    numbers = [v.version for v in listed[0]]
    assert len(numbers) == len(set(numbers))
    # Each version holds a definition one of the updates recorded, the same on both servers.
    assert [v.definition for v in listed[0]] == [v.definition for v in listed[1]]
    assert {v.definition for v in listed[0]} <= {passes_machine(result) for result in range(1, 7)}


async def test_a_change_that_fails_leaves_the_catalog_and_the_store_as_they_were(
        first: StepFunctions) -> None:
    machine, version = await first.create_state_machine("m", passes_machine(1), role_arn=ROLE,
                                                        publish=True)
    assert version is not None
    client = _client(first)
    stream_version = await client.log.version(store.CATALOG_STREAM)

    def delete_then_fail(catalog: Any) -> None:
        catalog.delete(machine.arn)
        raise RuntimeError("refused after deciding")

    with pytest.raises(RuntimeError):
        await client.change_catalog(delete_then_fail)
    assert client.catalog.get(machine.arn) == machine
    assert client.catalog.get(version.arn) == version
    assert await client.log.version(store.CATALOG_STREAM) == stream_version


async def test_a_read_through_change_catalog_records_nothing(first: StepFunctions) -> None:
    machine, _ = await first.create_state_machine("m", passes_machine(1), role_arn=ROLE,
                                                  logging={"level": "ALL"})
    client = _client(first)
    stream_version = await client.log.version(store.CATALOG_STREAM)
    assert (await first.list_versions(machine.arn, None, None)).items == []
    # CreateStateMachine again, with the same configuration: nothing changed, nothing recorded.
    again, _ = await first.create_state_machine("m", passes_machine(1), role_arn=ROLE,
                                                logging={"level": "ALL"})
    assert again.logging_configuration == {"level": "ALL"}
    assert await client.log.version(store.CATALOG_STREAM) == stream_version
