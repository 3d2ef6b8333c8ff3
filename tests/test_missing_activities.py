"""A Task naming an activity that does not exist fails its execution at once, as AWS records
it (conformance: activities/test_activity_task_on_deleted: ExecutionStarted, TaskStateEntered,
ExecutionFailed with States.Runtime; no ActivityScheduled), instead of waiting forever."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import Runtime

MISSING = "arn:aws:states:us-east-1:123456789012:activity:nobody-made-me"


def _machine(activity_arn: str) -> dict[str, object]:
    return {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": activity_arn, "End": True}}}


@pytest.mark.anyio
async def test_a_task_naming_a_missing_activity_fails_the_execution() -> None:
    async with Runtime(clock="virtual") as rt:
        done = await rt.run(_machine(MISSING), {})
        assert (done.status, done.error) == ("FAILED", "States.Runtime")
        assert done.cause == ("An error occurred while executing the state 'Work' (entered at "
                              f"the event id #2). The activity {MISSING} does not exist.")
        types = [e["type"] for e in rt.get_execution_history(done.execution_arn)]
        assert types == ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]
        # The replay decides the same way although nothing is asked of the runtime.
        assert rt.replay(done.execution_arn).divergence is None


@pytest.mark.anyio
async def test_a_deleted_activity_is_missing_and_stays_deleted_after_a_restart(
        tmp_path: Path) -> None:
    async with Runtime(clock="virtual", store=tmp_path) as rt:
        activity = await rt.create_activity("short-lived")
        await rt.delete_activity(activity)
        done = await rt.run(_machine(activity), {})
        assert done.error == "States.Runtime"
    async with Runtime(clock="virtual", store=tmp_path) as rt:
        assert rt.activities.list() == []
