"""On a durable store StartExecution answers once the execution's first turn is in the log: a
runtime closed (or killed) right after the answer resumes the execution instead of forgetting
it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import Runtime

WAITS = {"StartAt": "Wait", "States": {
    "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
    "Done": {"Type": "Pass", "Result": "done", "End": True}}}


@pytest.mark.anyio
async def test_an_execution_started_just_before_the_runtime_closes_resumes(
        tmp_path: Path) -> None:
    async with Runtime(store=tmp_path, durability="fsync") as rt:
        machine = await rt.create_state_machine("Waits", WAITS)
        arn = await rt.start_execution(machine, {"n": 1})
    async with Runtime(store=tmp_path) as rt:
        done = await rt.wait(arn)
        assert (done.status, done.output, done.input) == ("SUCCEEDED", "done", {"n": 1})


@pytest.mark.anyio
async def test_an_execution_that_ends_in_its_first_turn_has_ended_when_started(
        tmp_path: Path) -> None:
    async with Runtime(clock="virtual", store=tmp_path) as rt:
        arn = await rt.start_execution(await rt.create_state_machine("Now", {
            "StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": True}}}))
        described = rt.describe_execution(arn)
        assert (described.status, described.output) == ("SUCCEEDED", 1)
