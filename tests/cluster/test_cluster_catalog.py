"""Catalog changes on a PostgreSQL store: updates, deletion, versions and aliases made through
one API server are recorded in the store, seen by every other server, and run by workers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from runtime.api.service import StepFunctions
from runtime.catalog import Route
from runtime.cluster import Worker
from runtime.errors import AslError
from tests.cluster.workloads import passes_machine

pytestmark = pytest.mark.anyio
ROLE = "arn:aws:iam::123456789012:role/test"


async def _eventually(read: Callable[[], Awaitable[Any]]) -> Any:
    """`read()` once it raises: a change made through another server reaches this one's
    describe calls with its NOTIFY, milliseconds later (AWS: "state machine updates are
    eventually consistent")."""
    with anyio.fail_after(2):
        while True:
            await read()
            await anyio.sleep(0.01)


async def _run(api: StepFunctions, arn: str) -> Any:
    started = await api.start_execution(arn)
    done = await api.wait(started.execution_arn)
    assert done.status == "SUCCEEDED", done
    return done.output


async def test_an_update_made_on_one_server_is_served_and_run_by_the_others(
        postgres_dsn: str, schema: str, first: StepFunctions, second: StepFunctions) -> None:
    machine, _ = await first.create_state_machine("m", passes_machine("old"), role_arn=ROLE,
                                                  logging={"level": "ALL"})
    assert (await second.describe_state_machine(machine.arn)).logging_configuration == {
        "level": "ALL"}
    updated, _ = await first.update_state_machine(machine.arn, definition=passes_machine("new"))
    with anyio.fail_after(2):  # eventually consistent, as on AWS (see `_eventually`)
        while (seen := await second.describe_state_machine(machine.arn)).updated is None:
            await anyio.sleep(0.01)
    assert (seen.definition, seen.revision_id, seen.updated) == (
        updated.definition, updated.revision_id, updated.updated)
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        assert await _run(second, machine.arn) == "new"
        group.cancel_scope.cancel()


async def test_versions_run_the_definition_they_were_published_with(
        postgres_dsn: str, schema: str, first: StepFunctions, second: StepFunctions) -> None:
    machine, v1 = await first.create_state_machine("m", passes_machine(1), role_arn=ROLE,
                                                   publish=True, version_description="one")
    assert v1 is not None and v1.arn == machine.arn + ":1"
    _, v2 = await second.update_state_machine(machine.arn, definition=passes_machine(2),
                                              publish=True)
    assert v2 is not None and v2.arn == machine.arn + ":2"
    # Nothing changed since v2: publishing again gives v2 back (AWS).
    assert (await first.publish_version(machine.arn)).arn == v2.arn
    listed = (await first.list_versions(machine.arn, None, None)).items
    assert [(v.arn, v.description) for v in listed] == [(v2.arn, None), (v1.arn, "one")]
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        assert await _run(second, v1.arn) == 1
        assert await _run(first, v2.arn) == 2
        group.cancel_scope.cancel()
    executions = (await second.list_executions(machine.arn, None, None, None)).items
    assert sorted(e.state_machine_arn for e in executions) == [v1.arn, v2.arn]
    await second.delete_version(v1.arn)
    listed = (await first.list_versions(machine.arn, None, None)).items
    assert [v.arn for v in listed] == [v2.arn]
    with pytest.raises(AslError) as raised:
        await first.describe_state_machine(v1.arn)
    assert raised.value.code == "StateMachineDoesNotExist"


async def test_aliases_are_shared_and_route_executions_to_their_version(
        postgres_dsn: str, schema: str, first: StepFunctions, second: StepFunctions) -> None:
    machine, v1 = await first.create_state_machine("m", passes_machine(1), role_arn=ROLE,
                                                   publish=True)
    _, v2 = await first.update_state_machine(machine.arn, definition=passes_machine(2),
                                             publish=True)
    assert v1 is not None and v2 is not None
    alias = await first.create_alias("live", [Route(version_arn=v1.arn, weight=100)],
                                     description="current")
    seen = await second.alias(alias.arn)
    assert (seen.routes, seen.description, seen.created) == (
        alias.routes, "current", alias.created)
    aliases = (await second.list_aliases(machine.arn, None, None)).items
    assert [a.arn for a in aliases] == [alias.arn]
    with pytest.raises(AslError) as raised:
        await second.delete_version(v1.arn)
    assert raised.value.code == "ConflictException"
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        assert await _run(second, alias.arn) == 1
        await second.update_alias(alias.arn, routes=[Route(version_arn=v2.arn, weight=100)])
        assert (await first.alias(alias.arn)).routes == (Route(version_arn=v2.arn, weight=100),)
        assert await _run(first, alias.arn) == 2
        group.cancel_scope.cancel()
    await first.delete_alias(alias.arn)
    assert (await second.list_aliases(machine.arn, None, None)).items == []
    with pytest.raises(AslError) as raised:
        await second.alias(alias.arn)
    assert raised.value.code == "ResourceNotFound"


async def test_deleting_a_machine_deletes_its_versions_and_aliases_everywhere(
        first: StepFunctions, second: StepFunctions) -> None:
    machine, v1 = await first.create_state_machine("m", passes_machine(1), role_arn=ROLE,
                                                   publish=True)
    assert v1 is not None
    await first.create_alias("live", [Route(version_arn=v1.arn, weight=100)])
    await second.delete_state_machine(machine.arn)
    for arn in (machine.arn, v1.arn):
        with pytest.raises(AslError) as raised:
            await _eventually(lambda arn=arn: first.describe_state_machine(arn))
        assert raised.value.code == "StateMachineDoesNotExist"
    assert await first.list_state_machines(None, None) == await second.list_state_machines(
        None, None)
    # The name is free again: a new machine, whose versions count from 1 on every server.
    again, version = await first.create_state_machine("m", passes_machine(3), role_arn=ROLE,
                                                      publish=True)
    assert version is not None and version.arn == again.arn + ":1"
    listed = (await second.list_versions(again.arn, None, None)).items
    assert [v.definition for v in listed] == [passes_machine(3)]


async def test_a_change_decided_on_a_stale_catalog_is_decided_again(
        first: StepFunctions, second: StepFunctions, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two servers publishing at once: the one whose record came second publishes again on
    the newer catalog, so the numbers stay distinct."""
    machine, _ = await first.create_state_machine("m", passes_machine(1), role_arn=ROLE)
    await second.list_versions(machine.arn, None, None)  # its replica is at this point
    assert (await first.publish_version(machine.arn)).arn == machine.arn + ":1"
    await second.update_state_machine(machine.arn, definition=passes_machine(2))
    client = second.backend.client  # type: ignore[attr-defined]
    refresh = client.refresh
    skipped: list[bool] = []

    async def late_refresh() -> None:
        if not skipped:  # the first look misses the newest record, as in a race
            skipped.append(True)
            return
        await refresh()

    await first.update_state_machine(machine.arn, definition=passes_machine(3))
    monkeypatch.setattr(client, "refresh", late_refresh)
    published = await second.publish_version(machine.arn)
    assert skipped and published.arn == machine.arn + ":2"
    assert json.loads(published.definition)["States"]["P"]["Result"] == 3
    assert [v.arn for v in (await first.list_versions(machine.arn, None, None)).items] == [
        machine.arn + ":2", machine.arn + ":1"]
