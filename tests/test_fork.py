"""Runtime-level time travel: state_at, replay against a changed definition, and fork (a new
execution from any point of an old one, with another definition or input)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime import Runtime

DEFINITION: dict[str, Any] = {"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Result": {"x": 1}, "Assign": {"seen": "A"}, "Next": "W"},
    "W": {"Type": "Wait", "Seconds": 60, "Next": "T"},
    "T": {"Type": "Task", "Resource": "inc", "End": True}}}


def inc(value: dict[str, int]) -> dict[str, int]:
    return {"x": value["x"] + 1}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _event_id(rt: Runtime, arn: str, event_type: str) -> int:
    return next(e["id"] for e in rt.get_execution_history(arn) if e["type"] == event_type)


@pytest.mark.anyio
async def test_state_at_shows_the_state_input_and_variables_at_an_event() -> None:
    async with Runtime(clock="virtual", tasks={"inc": inc}) as rt:
        done = await rt.run(DEFINITION, {})
        view = rt.state_at(done.execution_arn, _event_id(rt, done.execution_arn,
                                                         "WaitStateEntered"))
        top = view.frames[""]
        assert (view.status, top.state, top.input, top.variables) == (
            "RUNNING", "W", {"x": 1}, {"seen": "A"})


@pytest.mark.anyio
async def test_fork_with_a_new_input_reuses_the_history_prefix() -> None:
    async with Runtime(clock="virtual", tasks={"inc": inc}) as rt:
        done = await rt.run(DEFINITION, {})
        at = _event_id(rt, done.execution_arn, "WaitStateEntered")
        fork = await rt.fork(done.execution_arn, at, input={"x": 41}, name="what-if")
        forked = await rt.wait(fork)
        assert (forked.name, forked.status, forked.output) == ("what-if", "SUCCEEDED", {"x": 42})
        original = rt.get_execution_history(done.execution_arn)
        copy = rt.get_execution_history(fork)
        assert [e["type"] for e in copy[:at]] == [e["type"] for e in original[:at]]
        assert rt.describe_execution(done.execution_arn).output == {"x": 2}


@pytest.mark.anyio
async def test_replay_reports_where_a_changed_definition_parts_and_fork_runs_it() -> None:
    changed = {**DEFINITION, "States": {**DEFINITION["States"],
                                        "T": {"Type": "Pass", "Result": "patched", "End": True}}}
    async with Runtime(clock="virtual", tasks={"inc": inc}) as rt:
        done = await rt.run(DEFINITION, {})
        assert rt.replay(done.execution_arn).divergence is None
        divergence = rt.replay(done.execution_arn, definition=changed).divergence
        assert divergence is not None
        assert divergence.event_id == _event_id(rt, done.execution_arn, "TaskStateEntered")
        assert divergence.produced is not None and divergence.produced.type == "PassStateEntered"
        fork = await rt.fork(done.execution_arn, _event_id(rt, done.execution_arn,
                                                           "WaitStateEntered"),
                             definition=changed)
        assert (await rt.wait(fork)).output == "patched"


@pytest.mark.anyio
async def test_a_forks_new_input_is_recorded_and_survives_a_restart(tmp_path: Path) -> None:
    async with Runtime(clock="system", store=tmp_path, tasks={"inc": inc}) as rt:
        machine = await rt.create_state_machine("m", DEFINITION)
        arn = await rt.start_execution(machine, {}, name="original")
        waiting = _event_id(rt, arn, "WaitStateEntered")
        fork = await rt.fork(arn, waiting, input={"x": 41}, name="fork")
        assert rt.replay(fork).divergence is None
    async with Runtime(clock="virtual", store=tmp_path, tasks={"inc": inc}) as rt:
        done = await rt.wait(fork)
        assert (done.status, done.output) == ("SUCCEEDED", {"x": 42})
