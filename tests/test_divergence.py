"""Replaying recorded histories: the same definition re-decides the same events and rebuilds
the live state; a changed definition is reported at the first event that differs."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import pytest

from integrations.python import TaskHandler
from runtime import events as ev
from runtime.engine import Runtime
from runtime.model.machine import decode_machine
from runtime.program import Program, compile_program
from runtime.replay import ReplayError, rebuild, replay, replay_strict, turn_bounds
from runtime.state import ExecutionState, new_state

JSON = Any

LOOP: dict[str, Any] = {
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Result": {"count": 0}, "ResultPath": "$.loop", "Next": "Check"},
        "Check": {"Type": "Choice", "Default": "Done", "Choices": [
            {"Variable": "$.loop.count", "NumericLessThan": 3, "Next": "Increment"}]},
        "Increment": {"Type": "Pass", "ResultPath": "$.loop", "Next": "Pause", "Parameters": {
            "count.$": "States.MathAdd($.loop.count, 1)", "token.$": "States.UUID()"}},
        "Pause": {"Type": "Wait", "Seconds": 10, "Next": "Check"},
        "Done": {"Type": "Pass", "Result": "finished", "ResultPath": "$.status", "End": True},
    },
}

MAP: dict[str, Any] = {
    "StartAt": "Setup",
    "States": {
        "Setup": {"Type": "Pass", "Assign": {"label": "batch"}, "Next": "Fan"},
        "Fan": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Double",
                "States": {
                    "Double": {"Type": "Task", "Resource": "double", "Next": "Label"},
                    "Label": {"Type": "Pass", "Parameters": {"value.$": "$", "label.$": "$label"},
                              "Assign": {"seen.$": "$.value"}, "End": True},
                },
            },
            "Assign": {"count.$": "States.ArrayLength($)"},
            "ResultPath": "$.results", "End": True,
        },
    },
}

PARALLEL: dict[str, Any] = {
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel", "ResultPath": "$.both", "Next": "Done",
            "Branches": [
                {"StartAt": "Double", "States": {
                    "Double": {"Type": "Task", "Resource": "double", "InputPath": "$.n",
                               "End": True}}},
                {"StartAt": "Hold", "States": {
                    "Hold": {"Type": "Wait", "Seconds": 5, "Next": "Tag"},
                    "Tag": {"Type": "Pass", "Result": "tagged", "Assign": {"tag": "t"},
                            "End": True}}},
            ],
        },
        "Done": {"Type": "Succeed"},
    },
}

RETRY: dict[str, Any] = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task", "Resource": "flaky", "End": True,
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 3,
                       "BackoffRate": 2.0}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                       "Next": "Recovered"}],
        },
        "Recovered": {"Type": "Pass", "End": True},
    },
}


class Flaky(Exception):
    pass


def double(value: int) -> int:
    return value * 2


def flaky_task(failures: int) -> TaskHandler:
    """A task that raises `Flaky` on its first `failures` calls, then succeeds."""
    calls = 0

    async def call(value: JSON) -> JSON:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise Flaky(f"attempt {calls} failed")
        return {"ok": True, "attempts": calls}

    return call


class Recorded(NamedTuple):
    program: Program
    events: list[ev.HistoryEvent]
    #: The state the execution started from (`new_state` with its identity).
    initial: ExecutionState
    #: The actor's state when the execution ended.
    live: ExecutionState


async def record(definition: Mapping[str, Any], input: JSON, *,
                 tasks: Mapping[str, TaskHandler] | None = None) -> Recorded:
    """Run `definition` through a real Runtime on the virtual clock and keep its history."""
    async with Runtime(clock="virtual") as runtime:
        for name, handler in (tasks or {}).items():
            runtime.register_task(name, handler)
        machine_arn = await runtime.create_state_machine("machine", definition)
        arn = await runtime.start_execution(machine_arn, input, name="recorded")
        await runtime.wait(arn)
        return Recorded(
            program=runtime.state_machine(machine_arn).program,
            events=list(runtime.history(arn)),
            initial=new_state(arn, machine_arn, "recorded"),
            # No public accessor gives the actor's ExecutionState; the comparison needs it.
            live=runtime._actor(arn).state,
        )


def variant(definition: Mapping[str, Any], edit: Callable[[dict[str, Any]], None]) -> Program:
    """`definition` compiled after `edit` changed a copy of it."""
    changed = copy.deepcopy(dict(definition))
    edit(changed)
    return compile_program(decode_machine(changed))


def find(events: list[ev.HistoryEvent], type_: str, name: str | None = None) -> ev.HistoryEvent:
    """The first event of `type_` (for a state event: of the state `name`)."""
    for event in events:
        details = event.details
        if event.type == type_ and (name is None or getattr(details, "name", None) == name):
            return event
    raise AssertionError(f"no {type_} {name or ''} in the history")


WORKLOADS: dict[str, tuple[dict[str, Any], JSON, Callable[[], dict[str, TaskHandler]]]] = {
    "pass-choice-wait-loop": (LOOP, {"run": 1}, dict),
    "map-of-tasks": (MAP, {"items": [1, 2, 3, 4]}, lambda: {"double": double}),
    "parallel-task-and-wait": (PARALLEL, {"n": 21}, lambda: {"double": double}),
    "task-retry-then-success": (RETRY, {}, lambda: {"flaky": flaky_task(2)}),
    "task-retries-exhausted-then-caught": (RETRY, {}, lambda: {"flaky": flaky_task(9)}),
}


@pytest.mark.anyio
@pytest.mark.parametrize("workload", list(WORKLOADS))
async def test_same_definition_replays_without_divergence(workload: str) -> None:
    definition, input, tasks = WORKLOADS[workload]
    run = await record(definition, input, tasks=tasks())
    assert run.live.status == "SUCCEEDED"

    result = replay(run.program, run.events, state=run.initial)

    assert result.divergence is None
    assert result.state == run.live
    assert replay_strict(run.program, run.events, state=run.initial) == run.live


@pytest.mark.anyio
@pytest.mark.parametrize("workload", list(WORKLOADS))
async def test_rebuild_equals_the_live_state(workload: str) -> None:
    definition, input, tasks = WORKLOADS[workload]
    run = await record(definition, input, tasks=tasks())

    assert rebuild(run.events, state=run.initial) == run.live


@pytest.mark.anyio
async def test_history_read_back_through_the_log_codec_replays_alike() -> None:
    run = await record(MAP, {"items": [1, 2, 3]}, tasks={"double": double})
    stored = [ev.EVENT_DECODER.decode(ev.EVENT_CODEC.encode(event)) for event in run.events]

    result = replay(run.program, stored, state=run.initial)

    assert result.divergence is None
    assert result.state == run.live == rebuild(stored, state=run.initial)


@pytest.mark.anyio
async def test_rebuild_continues_from_a_state_at_a_turn_boundary() -> None:
    run = await record(LOOP, {}, tasks={})
    _, first_turn_end = turn_bounds(run.events, 0)
    head = rebuild(run.events[:first_turn_end], state=run.initial)

    assert rebuild(run.events[first_turn_end:], state=head) == run.live
    assert replay(run.program, run.events[first_turn_end:], state=head).state == run.live


@pytest.mark.anyio
async def test_changed_pass_result_diverges_at_that_states_exit() -> None:
    run = await record(LOOP, {}, tasks={})
    program = variant(LOOP, lambda d: d["States"]["Done"].update(Result="complete"))
    recorded_exit = find(run.events, "PassStateExited", "Done")

    result = replay(program, run.events, state=run.initial)

    divergence = result.divergence
    assert divergence is not None
    assert divergence.event_id == recorded_exit.id
    assert divergence.event_index == run.events.index(recorded_exit)
    assert divergence.expected == recorded_exit
    assert divergence.produced is not None
    assert isinstance(divergence.produced.details, ev.StateExitedDetails)
    assert divergence.produced.details.output["status"] == "complete"
    # The Done state runs in the turn the last Wait timer opened: the state handed back is the
    # one before that turn.
    turn_start, _ = turn_bounds(run.events, divergence.event_index)
    assert divergence.message == run.events[turn_start].details.message  # type: ignore[union-attr]
    assert result.state == rebuild(run.events[:turn_start], state=run.initial)


@pytest.mark.anyio
async def test_renamed_state_diverges_where_it_is_first_entered() -> None:
    run = await record(LOOP, {}, tasks={})

    def rename(definition: dict[str, Any]) -> None:
        states = definition["States"]
        states["Bump"] = states.pop("Increment")
        states["Check"]["Choices"][0]["Next"] = "Bump"

    result = replay(variant(LOOP, rename), run.events, state=run.initial)

    divergence = result.divergence
    assert divergence is not None
    assert divergence.expected == find(run.events, "PassStateEntered", "Increment")
    assert divergence.produced is not None
    assert divergence.produced.type == "PassStateEntered"
    assert divergence.produced.details == ev.StateEnteredDetails(
        name="Bump", input=divergence.expected.details.input)  # type: ignore[union-attr]
    assert divergence.event_id == divergence.expected.id
    assert result.state == run.initial  # the very first turn diverged


@pytest.mark.anyio
async def test_flipped_choice_diverges_at_the_state_it_chooses() -> None:
    run = await record(LOOP, {}, tasks={})

    def flip(definition: dict[str, Any]) -> None:
        rule = definition["States"]["Check"]["Choices"][0]
        rule["NumericGreaterThanEquals"] = rule.pop("NumericLessThan")

    divergence = replay(variant(LOOP, flip), run.events, state=run.initial).divergence

    # The Choice's own exit records no branch: the first difference is the next entry.
    assert divergence is not None
    assert divergence.expected == find(run.events, "PassStateEntered", "Increment")
    assert divergence.produced is not None
    assert divergence.produced.details.name == "Done"  # type: ignore[union-attr]
    assert divergence.event_id == find(run.events, "ChoiceStateExited").id + 1


@pytest.mark.anyio
async def test_lower_retry_max_attempts_diverges_where_a_retry_timer_was_recorded() -> None:
    run = await record(RETRY, {}, tasks={"flaky": flaky_task(2)})
    program = variant(RETRY, lambda d: d["States"]["Call"]["Retry"][0].update(MaxAttempts=1))
    timers = [e for e in run.events if e.type == "TimerStarted"]
    assert len(timers) == 2

    divergence = replay(program, run.events, state=run.initial).divergence

    # After the second failure the recorded run waited to retry; the new one gives up and the
    # Catch takes the state out: the produced event is a visible one, and names the id.
    assert divergence is not None
    assert divergence.expected == timers[1]
    assert divergence.produced is not None
    assert divergence.produced.type == "TaskStateExited"
    assert divergence.event_id == divergence.produced.id == run.events[
        divergence.event_index - 1].id + 1
    assert divergence.produced.details.output["error"]["Error"] == "Flaky"  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_changed_wait_seconds_diverges_at_an_internal_timer_event() -> None:
    run = await record(LOOP, {}, tasks={})
    program = variant(LOOP, lambda d: d["States"]["Pause"].update(Seconds=20))

    divergence = replay(program, run.events, state=run.initial).divergence

    assert divergence is not None
    assert divergence.expected == find(run.events, "TimerStarted")
    assert divergence.produced is not None and divergence.produced.type == "TimerStarted"
    assert divergence.event_id == 0
    assert "internal event at index" in divergence.describe()


@pytest.mark.anyio
async def test_an_event_missing_on_either_side_is_a_divergence() -> None:
    run = await record(LOOP, {}, tasks={})
    last = run.events[-1]
    assert last.type == "ExecutionSucceeded"

    truncated = replay(run.program, run.events[:-1], state=run.initial).divergence
    assert truncated is not None
    assert (truncated.event_index, truncated.event_id) == (len(run.events) - 1, last.id)
    assert truncated.expected is None and truncated.produced == last

    extra = ev.HistoryEvent(id=last.id + 1, previous_event_id=last.id,
                            timestamp=last.timestamp, type="ExecutionSucceeded",
                            details=last.details)
    padded = replay(run.program, [*run.events, extra], state=run.initial).divergence
    assert padded is not None
    assert (padded.event_index, padded.event_id) == (len(run.events), extra.id)
    assert padded.expected == extra and padded.produced is None


@pytest.mark.anyio
async def test_replay_strict_raises_with_event_id_type_and_both_sides() -> None:
    run = await record(LOOP, {}, tasks={})
    program = variant(LOOP, lambda d: d["States"]["Done"].update(Result="complete"))
    exit_id = find(run.events, "PassStateExited", "Done").id

    with pytest.raises(ReplayError) as raised:
        replay_strict(program, run.events, state=run.initial)

    text = str(raised.value)
    assert text.startswith(f"history diverges at event #{exit_id} (PassStateExited): recorded ")
    assert '"finished"' in text and '"complete"' in text
    assert raised.value.divergence.event_id == exit_id


def test_history_that_does_not_start_a_turn_is_rejected() -> None:
    event = ev.HistoryEvent(id=1, previous_event_id=0, timestamp=0.0, type="PassStateEntered",
                            details=ev.StateEnteredDetails(name="A", input={}))
    with pytest.raises(ValueError, match="does not start a turn"):
        replay(compile_program(decode_machine(LOOP)), [event],
               state=new_state("arn:execution", "arn:machine", "x"))
