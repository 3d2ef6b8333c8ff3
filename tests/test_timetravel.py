"""Time travel: the state just after any event of a recorded run, and forks taken at the end of
a turn that continue like the original (or with a replaced input)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from msgspec.structs import replace

from runtime import events as ev
from runtime.effects import InvokeTask, StartTimer
from runtime.engine import Runtime
from runtime.messages import TaskCompleted, TimerFired
from runtime.reducers import decide, pending_effects
from runtime.replay import rebuild, turn_bounds
from runtime.state import ExecutionState, evolve, new_state
from runtime.timetravel import FrameView, fork_point, replaced_input, state_at
from tests.test_divergence import LOOP, MAP, PARALLEL, Recorded, double, find, record

JSON = Any
FORK_ARN = "arn:aws:states:us-east-1:123456789012:execution:machine:fork"


def with_input(state: ExecutionState, frame_id: str, value: JSON) -> ExecutionState:
    """`state` after the event replacing frame `frame_id`'s input (a fork's new input)."""
    return evolve(state, replaced_input(state, frame_id, value, at=0.0))


def forked(run: Recorded, event_id: int) -> ExecutionState:
    """A fork of `run` at `event_id`, under a new execution identity."""
    return replace(fork_point(run.events, event_id, state=run.initial),
                   execution_arn=FORK_ARN, name="fork")


def by_frame(events: list[ev.HistoryEvent], type_: str, frame: str) -> ev.HistoryEvent:
    return next(e for e in events if e.type == type_ and e.frame == frame)


@pytest.fixture
async def map_run() -> Recorded:
    return await record(MAP, {"items": [1, 2, 3, 4]}, tasks={"double": double})


@pytest.mark.anyio
async def test_state_at_map_run_shows_frames_inputs_outputs_and_variables(
        map_run: Recorded) -> None:
    events, initial = map_run.events, map_run.initial
    items = {"items": [1, 2, 3, 4]}

    setup_exit = find(events, "PassStateExited", "Setup")
    view = state_at(events, setup_exit.id, state=initial)
    assert view.status == "RUNNING" and view.event_type == "PassStateExited"
    assert view.frames == {"": FrameView(id="", parent=None, state="Setup", input=items,
                                         exited=True, output=items,
                                         variables={"label": "batch"})}

    second_start = [e for e in events if e.type == "MapIterationStarted"][1]
    view = state_at(events, second_start.id, state=initial)
    assert list(view.frames) == ["", "/0", "/1"]
    assert view.frames[""].state == "Fan" and view.frames[""].input == items
    assert not view.frames[""].exited
    assert view.frames["/1"] == FrameView(id="/1", parent="", state=None, input=None,
                                          variables={"label": "batch"})

    label_exit = by_frame(events, "PassStateExited", "/0")
    view = state_at(events, label_exit.id, state=initial)
    assert view.frames["/0"] == FrameView(
        id="/0", parent="", state="Label", input=2, exited=True,
        output={"value": 2, "label": "batch"}, variables={"label": "batch", "seen": 2},
        done=True)
    # An iteration's Assign stays in the iteration (AWS variable scoping).
    assert view.frames[""].variables == {"label": "batch"}

    map_exit = find(events, "MapStateExited", "Fan")
    view = state_at(events, map_exit.id, state=initial)
    results = [{"value": n * 2, "label": "batch"} for n in (1, 2, 3, 4)]
    assert view.frames == {"": FrameView(
        id="", parent=None, state="Fan", input=items, exited=True,
        output={**items, "results": results}, variables={"label": "batch", "count": 4},
        done=True)}

    view = state_at(events, events[-1].id, state=initial)
    assert (view.status, view.frames, view.output) == (
        "SUCCEEDED", {}, {**items, "results": results})


@pytest.mark.anyio
async def test_state_at_parallel_run_shows_each_branch() -> None:
    run = await record(PARALLEL, {"n": 21}, tasks={"double": double})
    events = run.events

    started = find(events, "ParallelStateStarted")
    view = state_at(events, started.id, state=run.initial)
    assert [(f.id, f.state, f.input) for f in view.frames.values()] == [
        ("", "Both", {"n": 21}), ("/0", None, {"n": 21}), ("/1", None, {"n": 21})]

    hold = find(events, "WaitStateEntered", "Hold")
    view = state_at(events, hold.id, state=run.initial)
    assert view.frames["/1"].state == "Hold" and view.frames["/1"].input == {"n": 21}
    assert view.frames["/0"].state == "Double"

    tag_exit = find(events, "PassStateExited", "Tag")
    branch = state_at(events, tag_exit.id, state=run.initial).frames["/1"]
    assert (branch.state, branch.output, branch.variables, branch.done) == (
        "Tag", "tagged", {"tag": "t"}, True)

    both_exit = find(events, "ParallelStateExited", "Both")
    top = state_at(events, both_exit.id, state=run.initial).frames[""]
    assert top.output == {"n": 21, "both": [42, "tagged"]}


@pytest.mark.anyio
async def test_unknown_event_ids_are_rejected(map_run: Recorded) -> None:
    last = map_run.events[-1].id
    for bad in (0, -1, last + 1):
        with pytest.raises(ValueError, match=f"no event #{bad} "):
            state_at(map_run.events, bad, state=map_run.initial)
        with pytest.raises(ValueError, match=f"its events are #1 to #{last}"):
            fork_point(map_run.events, bad, state=map_run.initial)


@pytest.mark.anyio
async def test_fork_in_a_wait_starts_at_the_end_of_its_turn_and_continues_alike() -> None:
    run = await record(LOOP, {}, tasks={})
    wait_entered = find(run.events, "WaitStateEntered", "Pause")
    index = run.events.index(wait_entered)
    _, turn_end = turn_bounds(run.events, index)

    fork = fork_point(run.events, wait_entered.id, state=run.initial)

    assert fork == rebuild(run.events[:turn_end], state=run.initial)
    # Any event of the same turn forks from the same point.
    assert fork_point(run.events, find(run.events, "PassStateEntered", "Init").id,
                      state=run.initial) == fork
    waiting = fork.frames[""].waiting
    assert waiting is not None and waiting.kind == "timer"
    due = wait_entered.timestamp + 10
    renamed = forked(run, wait_entered.id)
    assert pending_effects(run.program, renamed) == [StartTimer(key=waiting.key, due=due)]

    decision = decide(run.program, renamed, TimerFired(at=due, key=waiting.key))

    _, next_end = turn_bounds(run.events, turn_end)
    assert list(decision.events) == run.events[turn_end:next_end]


@pytest.mark.anyio
async def test_fork_in_a_wait_with_a_replaced_input() -> None:
    run = await record(LOOP, {}, tasks={})
    wait_entered = find(run.events, "WaitStateEntered", "Pause")
    fork = with_input(forked(run, wait_entered.id), "", {"loop": {"count": 3}})
    (timer,) = pending_effects(run.program, fork)
    assert isinstance(timer, StartTimer)

    decision = decide(run.program, fork, TimerFired(at=timer.due, key=timer.key))

    assert find(list(decision.events), "WaitStateExited").details == ev.StateExitedDetails(
        name="Pause", output={"loop": {"count": 3}})
    assert decision.state.status == "SUCCEEDED"
    assert decision.state.output == {"loop": {"count": 3}, "status": "finished"}


SLOW: dict[str, Any] = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"order.$": "$.order"}, "Next": "Slow"},
        "Slow": {"Type": "Task", "Resource": "slow", "ResultPath": "$.result", "End": True},
    },
}


@pytest.mark.anyio
async def test_fork_in_a_running_task_reissues_the_task_call() -> None:
    started, release = anyio.Event(), anyio.Event()

    async def slow(value: JSON) -> JSON:
        started.set()
        await release.wait()
        return {"shipped": value["order"]}

    async with Runtime(clock="virtual") as runtime:
        runtime.register_task("slow", slow)
        machine_arn = await runtime.create_state_machine("machine", SLOW)
        arn = await runtime.start_execution(machine_arn, {"order": 7, "noise": 1}, name="live")
        await started.wait()
        events = list(runtime.history(arn))
        program = runtime.state_machine(machine_arn).program
        release.set()
        await runtime.wait(arn)
    initial = new_state(arn, machine_arn, "live")
    scheduled = find(events, "TaskScheduled")

    fork = replace(fork_point(events, scheduled.id, state=initial),
                   execution_arn=FORK_ARN, name="fork")

    assert fork.status == "RUNNING"
    (call,) = pending_effects(program, fork)
    assert isinstance(call, InvokeTask)
    assert (call.resource, call.parameters) == ("slow", {"order": 7})
    assert call.context["ExecutionArn"] == FORK_ARN
    done = decide(program, fork, TaskCompleted(at=scheduled.timestamp + 1, key=call.key,
                                               output={"shipped": 7}))
    assert done.state.output == {"order": 7, "result": {"shipped": 7}}

    # A replaced input is what the task's ResultPath merges into.
    replaced = with_input(fork, "", {"order": 8})
    done = decide(program, replaced, TaskCompleted(at=scheduled.timestamp + 1, key=call.key,
                                                   output={"shipped": 7}))
    assert done.state.output == {"order": 8, "result": {"shipped": 7}}


@pytest.mark.anyio
async def test_with_state_input_only_replaces_a_waiting_or_between_states_frame(
        map_run: Recorded) -> None:
    events, initial = map_run.events, map_run.initial
    fork = fork_point(events, by_frame(events, "TaskScheduled", "/0").id, state=initial)

    assert with_input(fork, "/0", 5).frames["/0"].value == 5
    assert fork.frames["/0"].value == 1  # the fork itself is unchanged
    with pytest.raises(ValueError, match="not waiting or between states"):
        with_input(fork, "", {})  # running its Map
    with pytest.raises(KeyError, match="/9"):
        with_input(fork, "/9", {})

    entered = events.index(find(events, "PassStateEntered", "Setup"))
    mid_state = rebuild(events[:entered + 1], state=initial)
    with pytest.raises(ValueError, match="not waiting or between states"):
        with_input(mid_state, "", {})
    between = rebuild(events[:entered + 2], state=initial)
    assert with_input(between, "", {"items": []}).frames[""].value == {"items": []}
