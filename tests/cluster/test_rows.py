from __future__ import annotations

from typing import Any

import msgspec
import pytest

from runtime import events as ev
from runtime.cluster.rows import (
    TASK_KIND,
    decode_task,
    encode_message,
    inbox_message,
    plan_commit,
)
from runtime.cluster.wakeup import Backoff
from runtime.effects import (
    Deliver,
    Effect,
    InvokeTask,
    OfferActivityTask,
    StartChildExecution,
    StartTimer,
    WatchExecution,
)
from runtime.messages import StartExecution, StopExecution, TaskCompleted, TimerFired
from runtime.state import ExecutionState, Status, new_state

ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e"


def _event(type_: str) -> ev.HistoryEvent:
    return ev.HistoryEvent(id=0, previous_event_id=0, timestamp=1.0, type=type_, details=None)


def _state(status: Status = "RUNNING", **changes: Any) -> ExecutionState:
    return msgspec.structs.replace(new_state(ARN, "arn:sm", "e"), status=status, **changes)


def test_events_get_dense_versions_after_the_expected_one() -> None:
    commit = plan_commit(7, [_event("PassStateEntered"), _event("PassStateExited")], [],
                         _state(), "definition-1")
    assert (commit.expected, commit.head, commit.versions) == (7, 9, [8, 9])
    assert commit.types == ["PassStateEntered", "PassStateExited"]
    assert ev.EVENT_DECODER.decode(commit.data[1]).type == "PassStateExited"


def test_timers_become_rows_and_a_later_start_of_a_key_replaces_the_earlier() -> None:
    effects = [StartTimer(key="a", due=5.0), StartTimer(key="b", due=6.0),
               StartTimer(key="a", due=9.0)]
    commit = plan_commit(0, [], effects, _state(), "definition-1")
    assert dict(zip(commit.timer_keys, commit.timer_dues, strict=True)) == {"a": 9.0, "b": 6.0}
    assert commit.outbox_keys == []


def test_other_effects_go_to_the_outbox_by_kind_and_key() -> None:
    task = InvokeTask(key="@3", resource="arn:aws:lambda:us-east-1:1:function:f",
                      parameters={"x": 1})
    offer = OfferActivityTask(key="@5", activity_arn="arn:activity", input={}, token="t")
    commit = plan_commit(0, [], [task, offer], _state(), "definition-1")
    assert commit.outbox_kinds == [TASK_KIND, "OfferActivityTask"]
    assert commit.outbox_keys == ["@3", "@5"]
    assert decode_task(commit.outbox_effects[0]) == task


def test_a_sync_child_is_not_watched_it_answers_its_parent_itself() -> None:
    watch = WatchExecution(key="@3", execution_arn="arn:child", token="t")
    commit = plan_commit(0, [], [watch], _state(), "definition-1")
    assert (commit.outbox_kinds, commit.relay_arns) == ([], [])


def test_a_finished_execution_schedules_nothing_and_records_its_outcome() -> None:
    effects: list[Effect] = [StartTimer(key="a", due=5.0),
                             InvokeTask(key="@3", resource="r", parameters=None)]
    commit = plan_commit(3, [_event("ExecutionSucceeded")], effects,
                         _state("SUCCEEDED", output={"a": [1]}, stop_time=4.5), "definition-1")
    assert (commit.timer_keys, commit.outbox_keys) == ([], [])
    assert (commit.status, commit.output, commit.stop_date) == ("SUCCEEDED", '{"a":[1]}', 4.5)


def test_a_failed_execution_records_error_and_cause_but_no_output() -> None:
    commit = plan_commit(3, [], [], _state("FAILED", error="E", cause="C",
                                           stop_time=2.0), "definition-1")
    assert (commit.output, commit.error, commit.cause) == (None, "E", "C")


def test_a_running_execution_has_no_outcome_yet() -> None:
    commit = plan_commit(0, [], [], _state(error="stale"), "definition-1")
    assert (commit.stop_date, commit.output, commit.error) == (None, None, None)


def test_messages_to_others_are_relayed_even_from_a_finished_execution() -> None:
    stop = Deliver(key="/0@4", execution_arn="arn:child", message=StopExecution(at=4.0))
    commit = plan_commit(3, [_event("ExecutionFailed")], [stop], _state("FAILED"),
                         "definition-1")
    assert commit.relay_arns == ["arn:child"]
    assert inbox_message(commit.relay_messages[0], None, None) == StopExecution(at=4.0)


def test_a_map_run_child_is_spawned_with_the_parents_definition() -> None:
    spawn = StartChildExecution(
        key="/0@5", execution_arn="arn:aws:states:r:1:execution:sm/L:c0",
        state_machine_arn="arn:aws:states:r:1:stateMachine:sm/L", input={"n": 1},
        machine="M", map_run_arn="arn:run", parent_arn=ARN)
    commit = plan_commit(4, [_event("MapRunStarted")], [spawn, spawn], _state(),
                         "definition-1")
    assert commit.spawn_arns == [spawn.execution_arn]
    assert (commit.spawn_names, commit.spawn_inputs) == (["c0"], ['{"n":1}'])
    started = inbox_message(commit.spawn_messages[0], None, None)
    assert isinstance(started, StartExecution)
    assert (started.definition_id, started.machine, started.parent_arn, started.parent_key) \
        == ("definition-1", "M", ARN, "/0@5")
    assert commit.spawn_redrives == [None]


def test_inbox_rows_hold_encoded_messages_or_fired_timers() -> None:
    message = TaskCompleted(at=3.0, key="@4", output={"ok": True})
    assert inbox_message(encode_message(message), None, None) == message
    assert inbox_message(None, "#7", 12.5) == TimerFired(at=12.5, key="#7")


def test_backoff_doubles_while_idle_up_to_its_bound_and_restarts_when_busy() -> None:
    backoff = Backoff(0.1, 0.5)
    assert [backoff.idle() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.busy()
    assert backoff.idle() == 0.1
    with pytest.raises(ValueError):
        Backoff(0.5, 0.1)
