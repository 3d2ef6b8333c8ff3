"""Every catalog change a single-process runtime makes is recorded in its log's catalog stream:
a runtime reopened on the same store (or the same log) has the same state machines, versions,
aliases, configurations and activities, revision ids included, and executions started on a
version or an alias resume with that version's definition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime import Runtime
from runtime import store as stored
from runtime.api.service import StepFunctions
from runtime.catalog import Catalog, Route
from runtime.log.memory import MemoryEventLog

ROLE = "arn:aws:iam::123456789012:role/test"
LOGGING = {"level": "ALL", "includeExecutionData": True, "destinations": []}
TRACING = {"enabled": True}


def _machine(result: Any, activity_arn: str | None = None) -> str:
    """A Pass with `result`, behind an activity Task when `activity_arn` is given (so an
    execution waits there across a restart)."""
    states: dict[str, Any] = {"P": {"Type": "Pass", "Result": result, "End": True}}
    if activity_arn is not None:
        states["T"] = {"Type": "Task", "Resource": activity_arn, "Next": "P"}
    return json.dumps({"StartAt": "T" if activity_arn else "P", "States": states})


async def _scheduled(rt: Runtime, execution_arn: str) -> None:
    """Wait until the execution waits on its activity (its start is recorded by its first
    turn, which runs after StartExecution returns)."""
    with anyio.fail_after(5):
        while not any(e.type == "ActivityScheduled" for e in rt.history(execution_arn)):
            await anyio.sleep(0.01)


def _view(catalog: Catalog) -> dict[str, Any]:
    """What the API reports of a catalog (compiled programs aside)."""
    contents = catalog.contents()
    machines = [*contents.machines.values(),
                *(v for found in contents.versions.values() for v in found.values())]
    return {
        "machines": {m.arn: (m.name, m.definition, m.role_arn, m.type, m.created, m.updated,
                             m.revision_id, m.description, m.version, m.status,
                             m.logging_configuration, m.tracing_configuration)
                     for m in machines},
        "last_version": contents.last_version,
        "aliases": contents.aliases,
    }


async def _change_everything(sfn: StepFunctions) -> str:
    """Every kind of catalog change, through the API operations; the kept machine's ARN."""
    machine, _ = await sfn.create_state_machine("kept", _machine(1), role_arn=ROLE,
                                                logging=LOGGING)
    arn = machine.arn
    await sfn.update_state_machine(arn, definition=_machine(2))
    v1 = await sfn.publish_version(arn, description="first")
    await sfn.update_state_machine(arn, definition=_machine(3), tracing=TRACING)
    v2 = await sfn.publish_version(arn)
    await sfn.update_state_machine(arn, definition=_machine(4))
    v3 = await sfn.publish_version(arn)
    await sfn.create_alias("stable", [Route(version_arn=v1.arn, weight=100)],
                           description="the first")
    split = await sfn.create_alias("split", [Route(version_arn=v1.arn, weight=50),
                                             Route(version_arn=v2.arn, weight=50)])
    await sfn.update_alias(split.arn, routes=[Route(version_arn=v2.arn, weight=100)])
    doomed = await sfn.create_alias("doomed", [Route(version_arn=v2.arn, weight=100)])
    await sfn.delete_alias(doomed.arn)
    await sfn.delete_state_machine(v3.arn)
    await sfn.update_state_machine(arn, logging={**LOGGING, "level": "ERROR"})
    gone, gone_version = await sfn.create_state_machine("gone", _machine(0), role_arn=ROLE,
                                                        publish=True)
    assert gone_version is not None
    await sfn.create_alias("a", [Route(version_arn=gone_version.arn, weight=100)])
    await sfn.delete_state_machine(gone.arn)
    await sfn.create_activity("worker")
    await sfn.delete_activity((await sfn.create_activity("retired")).arn)
    return arn


@pytest.mark.anyio
async def test_catalog_changes_made_through_the_api_survive_a_restart(tmp_path: Path) -> None:
    async with Runtime(clock="virtual", store=tmp_path) as rt:
        arn = await _change_everything(StepFunctions(rt))
        before = _view(rt.catalog)
        activities = rt.activities.list()
    async with Runtime(clock="virtual", store=tmp_path) as rt:
        assert _view(rt.catalog) == before
        assert rt.activities.list() == activities
        machine = rt.catalog.get(arn)
        assert (machine.logging_configuration or {})["level"] == "ERROR"
        assert machine.tracing_configuration == TRACING
        assert [a.name for a in rt.catalog.aliases(arn)] == ["stable", "split"]
        assert [v.version for v in rt.catalog.versions(arn)] == [2, 1]
        assert not rt.catalog.has(arn.replace(":kept", ":gone"))
        # A version number deleted before the restart is not used again (as AWS does).
        published = await StepFunctions(rt).publish_version(arn)
        assert published.arn == f"{arn}:4"


@pytest.mark.anyio
async def test_a_runtime_reopened_on_the_same_memory_log_has_the_same_catalog() -> None:
    log = MemoryEventLog()
    async with Runtime(clock="virtual", event_log=log) as rt:
        await _change_everything(StepFunctions(rt))
        before = _view(rt.catalog)
    async with Runtime(clock="virtual", event_log=log) as rt:
        assert _view(rt.catalog) == before
    types = {event.type for event in await log.read(stored.CATALOG_STREAM)}
    assert types == {"StateMachineCreated", "StateMachineChanged", "StateMachineDeleted",
                     "VersionPublished", "VersionDeleted", "AliasSaved", "AliasDeleted",
                     "ActivityCreated", "ActivityDeleted"}


@pytest.mark.anyio
async def test_reads_and_unchanged_configurations_record_nothing() -> None:
    async with Runtime(clock="virtual") as rt:
        sfn = StepFunctions(rt)
        machine, _ = await sfn.create_state_machine("m", _machine(1), role_arn=ROLE)
        await sfn.publish_version(machine.arn)
        recorded = await rt.event_log.version(stored.CATALOG_STREAM)
        await sfn.publish_version(machine.arn)  # nothing changed: the same version
        await sfn.list_versions(machine.arn, None, None)
        await sfn.create_state_machine("m", _machine(1), role_arn=ROLE)
        assert await rt.event_log.version(stored.CATALOG_STREAM) == recorded


@pytest.mark.anyio
async def test_a_failed_change_records_nothing_and_changes_nothing() -> None:
    async with Runtime(clock="virtual") as rt:
        sfn = StepFunctions(rt)
        _, version = await sfn.create_state_machine("m", _machine(1), role_arn=ROLE,
                                                    publish=True)
        assert version is not None
        await sfn.create_alias("live", [Route(version_arn=version.arn, weight=100)])
        recorded = await rt.event_log.version(stored.CATALOG_STREAM)
        before = _view(rt.catalog)
        with pytest.raises(Exception, match="referenced by an alias"):
            await sfn.delete_version(version.arn)
        assert _view(rt.catalog) == before
        assert await rt.event_log.version(stored.CATALOG_STREAM) == recorded


@pytest.mark.anyio
async def test_executions_started_on_a_version_or_an_alias_resume_with_its_definition(
        tmp_path: Path) -> None:
    async with Runtime(clock="virtual", store=tmp_path) as rt:
        sfn = StepFunctions(rt)
        activity = await sfn.create_activity("approve")
        machine, v1 = await sfn.create_state_machine(
            "m", _machine("v1", activity.arn), role_arn=ROLE, publish=True)
        assert v1 is not None
        alias = await sfn.create_alias("live", [Route(version_arn=v1.arn, weight=100)])
        await sfn.update_state_machine(machine.arn, definition=_machine("v2", activity.arn))
        v2 = await sfn.publish_version(machine.arn)
        on_version = await sfn.start_execution(v2.arn)
        on_alias = await sfn.start_execution(alias.arn)
        for started in (on_version, on_alias):
            await _scheduled(rt, started.execution_arn)
    async with Runtime(clock="virtual", store=tmp_path) as rt:
        for _ in range(2):
            task = await rt.get_activity_task(activity.arn, timeout=1)
            assert task is not None
            rt.send_task_success(task[0], {})
        results = {arn: await rt.wait(arn) for arn in (on_version.execution_arn,
                                                       on_alias.execution_arn)}
    assert [(e.status, e.output) for e in results.values()] == [("SUCCEEDED", "v2"),
                                                                ("SUCCEEDED", "v1")]
    assert results[on_version.execution_arn].state_machine_arn == v2.arn
    assert results[on_alias.execution_arn].state_machine_arn == v1.arn
