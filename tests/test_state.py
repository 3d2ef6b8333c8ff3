"""Execution state as a fold of events: `apply`/`evolve`/`project`, and effects re-derived from
state on resume (`pending_effects`)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.effects import InvokeTask, StartTimer
from runtime.messages import TaskCompleted
from runtime.reducers import pending_effects
from runtime.state import evolve, project
from tests.reducers import (
    EXECUTION_ARN,
    STATE_MACHINE_ARN,
    T0,
    Run,
    compile_definition,
    drive,
    encoded,
    fresh_state,
    start,
)

WAIT_THEN_TASK: dict[str, Any] = {"StartAt": "W", "TimeoutSeconds": 5000, "States": {
    "W": {"Type": "Wait", "Seconds": 60, "Next": "T"},
    "T": {"Type": "Task", "Resource": "fn", "TimeoutSeconds": 30, "End": True,
          "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1, "IntervalSeconds": 10}]}}}

FANOUT: dict[str, Any] = {"StartAt": "M", "States": {
    "M": {"Type": "Map", "MaxConcurrency": 2, "Next": "P", "ItemProcessor": {
        "StartAt": "W", "States": {
            "W": {"Type": "Wait", "SecondsPath": "$", "Next": "T"},
            "T": {"Type": "Task", "Resource": "fn", "End": True}}}},
    "P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"x": 1}, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "fn", "End": True}}}]}}}


def _fail_first(effect: InvokeTask, at: float) -> TaskCompleted:
    if effect.context["RetryCount"] == 0:
        return TaskCompleted(at=at, key=effect.key, failed=True, error="E")
    return TaskCompleted(at=at, key=effect.key, output={"done": True})


RUNS = {
    "wait-task-retry": lambda: drive(compile_definition(WAIT_THEN_TASK), {}, task=_fail_first),
    "map-parallel": lambda: drive(compile_definition(FANOUT), [3, 1, 2]),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_decision_state_is_its_events_folded_into_the_input_state(name: str) -> None:
    run: Run = RUNS[name]()
    assert run.state.status == "SUCCEEDED"
    state = fresh_state()
    for decision in run.decisions:
        assert encoded(project(decision.events, state)) == encoded(decision.state)
        state = decision.state


@pytest.mark.parametrize("name", sorted(RUNS))
def test_projecting_the_whole_history_rebuilds_the_final_state(name: str) -> None:
    run: Run = RUNS[name]()
    assert encoded(project(run.events, fresh_state())) == encoded(run.state)


def test_evolve_one_event_at_a_time_equals_project() -> None:
    run = RUNS["map-parallel"]()
    state = fresh_state()
    for event in run.events:
        state = evolve(state, event)
    assert encoded(state) == encoded(project(run.events, fresh_state()))


def test_project_and_evolve_leave_their_input_state_alone() -> None:
    run = RUNS["map-parallel"]()
    middle = run.decisions[1].state
    snapshot = encoded(middle)
    later = [e for d in run.decisions[2:] for e in d.events]
    project(later, middle)
    evolve(middle, later[0])
    assert encoded(middle) == snapshot


def test_terminal_events_set_status_times_output_and_clear_frames() -> None:
    run = RUNS["wait-task-retry"]()
    state = run.state
    assert (state.execution_arn, state.state_machine_arn, state.name) == (
        EXECUTION_ARN, STATE_MACHINE_ARN, "run")
    assert state.start_time == T0
    # 60 s wait, a failed attempt, a 10 s retry interval
    assert state.stop_time == T0 + 70
    assert state.output == {"done": True}
    assert state.frames == {}
    assert state.version == len(run.events)
    assert state.last_event_id == max(e.id for e in run.events)


def test_state_mid_run_records_what_each_frame_waits_for() -> None:
    started = start(compile_definition(FANOUT), [3, 1, 2])
    frames = started.state.frames
    root, first, second = frames[""], frames["/0"], frames["/1"]
    assert root.state == "M" and root.fanout is not None
    assert (root.fanout.total, root.fanout.started, root.fanout.running) == (3, 2, 2)
    assert "/2" not in frames  # MaxConcurrency 2
    assert first.waiting is not None and first.waiting.kind == "timer"
    assert (first.waiting.due, second.waiting and second.waiting.due) == (T0 + 3, T0 + 1)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_pending_effects_reissue_exactly_what_the_run_still_waits_for(name: str) -> None:
    """After a crash, effects are re-derived from state alone: every effect issued so far whose
    key the state still waits on, plus the execution deadline."""
    run: Run = RUNS[name]()
    program = compile_definition(WAIT_THEN_TASK if name == "wait-task-retry" else FANOUT)
    for turns in range(1, len(run.decisions)):
        state = project([e for d in run.decisions[:turns] for e in d.events], fresh_state())
        waiting = {frame.waiting.key for frame in state.frames.values() if frame.waiting}
        issued = [e for d in run.decisions[:turns] for e in d.effects]
        expected = [e for e in issued
                    if e.key.removesuffix("!timeout") in waiting or e.key == "execution-timeout"]
        assert sorted(map(encoded, pending_effects(program, state))) == sorted(
            map(encoded, expected))


def test_pending_effects_of_a_finished_execution_are_empty() -> None:
    run = RUNS["wait-task-retry"]()
    assert pending_effects(compile_definition(WAIT_THEN_TASK), run.state) == []


def test_a_waiting_task_is_reissued_with_its_timeout_timer() -> None:
    program = compile_definition({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "fn", "TimeoutSeconds": 30, "End": True}}})
    started = start(program, {"a": 1})
    effects = pending_effects(program, project(started.events, fresh_state()))
    invoke = next(e for e in effects if isinstance(e, InvokeTask))
    timer = next(e for e in effects if isinstance(e, StartTimer))
    assert invoke.parameters == {"a": 1}
    assert (timer.key, timer.due) == (invoke.key + "!timeout", T0 + 30)
