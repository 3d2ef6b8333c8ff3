"""`decide` per state type: events (as AWS names them), effects and outputs. Pure: no event loop.

Internal events (MessageReceived, TimerStarted) are left out of the AWS-visible sequences
(`visible`) and checked on their own where they matter.
"""

from __future__ import annotations

from typing import Any

import pytest

from runtime import errors
from runtime.effects import InvokeTask, StartTimer
from runtime.messages import StopExecution, TaskCompleted, TimerFired
from runtime.reducers import decide
from runtime.reducers.turn import EXECUTION_TIMEOUT_KEY, TIMEOUT_SUFFIX
from tests.reducers import (
    T0,
    TaskOutcome,
    compile_definition,
    drive,
    encoded,
    internal,
    start,
    visible,
)

END: dict[str, Any] = {"Type": "Succeed"}


def machine(states: dict[str, Any], start_at: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"StartAt": start_at or next(iter(states)), "States": states, **extra}


def task(next_state: str | None = None, **fields: Any) -> dict[str, Any]:
    ending = {"Next": next_state} if next_state else {"End": True}
    return {"Type": "Task", "Resource": "fn", **ending, **fields}


def failing(error: str, cause: str | None = "it broke") -> TaskOutcome:
    return lambda effect, at: TaskCompleted(at=at, key=effect.key, failed=True, error=error,
                                            cause=cause)


def the(effects: tuple[Any, ...], kind: type[Any]) -> Any:
    found = [effect for effect in effects if isinstance(effect, kind)]
    assert len(found) == 1, effects
    return found[0]


# -- Pass, Succeed, Fail, Choice ----------------------------------------------------------------


def test_pass_result_lands_at_result_path_in_one_turn() -> None:
    program = compile_definition(machine({
        "P": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "End": True}}))
    decision = start(program, {"a": 1})
    assert visible(decision.events) == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert decision.effects == ()
    assert decision.state.status == "SUCCEEDED"
    assert decision.state.output == {"a": 1, "r": {"x": 1}}


def test_event_ids_are_dense_and_previous_ids_chain() -> None:
    program = compile_definition(machine({
        "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}))
    shown = [e for e in start(program, {}).events if e.id]
    assert [e.id for e in shown] == list(range(1, len(shown) + 1))
    assert [e.previous_event_id for e in shown] == list(range(0, len(shown)))


def test_pass_parameters_build_the_result() -> None:
    program = compile_definition(machine({
        "P": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, 2)"}, "End": True}}))
    assert start(program, {"a": 1}).state.output == {"sum": 3}


def test_succeed_applies_input_and_output_paths() -> None:
    program = compile_definition(machine({
        "S": {"Type": "Succeed", "InputPath": "$.in", "OutputPath": "$.x"}}))
    decision = start(program, {"in": {"x": 5}})
    assert visible(decision.events) == [
        "ExecutionStarted", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]
    assert decision.state.output == 5


def test_fail_state_fails_the_execution_with_its_error_and_cause() -> None:
    program = compile_definition(machine({"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}))
    decision = start(program, {})
    assert visible(decision.events) == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    assert (decision.state.status, decision.state.error, decision.state.cause) == (
        "FAILED", "E", "C")


CHOICE = machine({
    "C": {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
        {"Variable": "$.n", "NumericEquals": 0, "Next": "Zero"}],
        "Default": "Small"},
    "Big": {"Type": "Pass", "Result": "big", "End": True},
    "Zero": {"Type": "Pass", "Result": "zero", "End": True},
    "Small": {"Type": "Pass", "Result": "small", "End": True},
})


@pytest.mark.parametrize(("n", "expected"), [(11, "big"), (0, "zero"), (5, "small")])
def test_choice_takes_the_first_matching_rule_else_default(n: int, expected: str) -> None:
    decision = start(compile_definition(CHOICE), {"n": n})
    assert visible(decision.events) == [
        "ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited", "PassStateEntered",
        "PassStateExited", "ExecutionSucceeded"]
    assert decision.state.output == expected


def test_choice_without_match_or_default_fails_with_no_choice_matched() -> None:
    program = compile_definition(machine({
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericEquals": 1, "Next": "X"}]},
        "X": END}))
    decision = start(program, {"n": 2})
    assert visible(decision.events) == ["ExecutionStarted", "ChoiceStateEntered", "ExecutionFailed"]
    assert decision.state.error == errors.NO_CHOICE_MATCHED


# -- Wait -------------------------------------------------------------------------------------


def test_wait_starts_a_timer_due_at_message_time_plus_seconds() -> None:
    program = compile_definition(machine({"W": {"Type": "Wait", "Seconds": 10, "End": True}}))
    started = start(program, {"a": 1}, at=T0)
    assert visible(started.events) == ["ExecutionStarted", "WaitStateEntered"]
    assert len(internal(started.events, "TimerStarted")) == 1
    timer = the(started.effects, StartTimer)
    assert timer.due == T0 + 10
    assert started.state.status == "RUNNING"

    fired = decide(program, started.state, TimerFired(at=T0 + 10, key=timer.key))
    assert visible(fired.events) == ["WaitStateExited", "ExecutionSucceeded"]
    assert all(e.timestamp == T0 + 10 for e in fired.events)
    assert fired.state.output == {"a": 1}


def test_wait_timestamp_and_seconds_path_compute_the_due_time() -> None:
    at_timestamp = compile_definition(machine({
        "W": {"Type": "Wait", "Timestamp": "2030-01-01T00:00:10Z", "End": True}}))
    assert the(start(at_timestamp, {}).effects, StartTimer).due == 1893456010.0
    by_path = compile_definition(machine({
        "W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}))
    assert the(start(by_path, {"s": 7}, at=T0).effects, StartTimer).due == T0 + 7


def test_timer_fired_with_an_unknown_key_changes_nothing() -> None:
    program = compile_definition(machine({"W": {"Type": "Wait", "Seconds": 10, "End": True}}))
    started = start(program, {})
    ignored = decide(program, started.state, TimerFired(at=T0 + 10, key="#999"))
    assert ignored.events == () and ignored.effects == ()
    assert encoded(ignored.state) == encoded(started.state)


# -- Task -------------------------------------------------------------------------------------


def test_task_schedules_an_invoke_with_its_effective_parameters() -> None:
    program = compile_definition(machine({"T": task(
        Resource="arn:aws:states:::lambda:invoke",
        Parameters={"FunctionName": "f", "Payload.$": "$.body"})}))
    decision = start(program, {"body": {"n": 1}})
    assert visible(decision.events) == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted"]
    invoke = the(decision.effects, InvokeTask)
    assert invoke.resource == "arn:aws:states:::lambda:invoke"
    assert invoke.parameters == {"FunctionName": "f", "Payload": {"n": 1}}
    scheduled = next(e for e in decision.events if e.type == "TaskScheduled")
    assert invoke.key.endswith(f"@{scheduled.id}")
    assert decision.effects == (invoke,)  # no timeout, so no timer


def test_task_result_goes_through_result_selector_and_result_path() -> None:
    program = compile_definition(machine({"T": task(
        ResultSelector={"v.$": "$.value"}, ResultPath="$.out")}))
    started = start(program, {"a": 1})
    invoke = the(started.effects, InvokeTask)
    done = decide(program, started.state,
                  TaskCompleted(at=T0 + 1, key=invoke.key, output={"value": 42, "junk": 0}))
    assert visible(done.events) == ["TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    assert done.state.output == {"a": 1, "out": {"v": 42}}


def test_task_failure_without_retry_or_catch_fails_the_execution() -> None:
    program = compile_definition(machine({"T": task()}))
    run = drive(program, {}, task=failing("Oops", "bad thing"))
    assert visible(run.events)[-2:] == ["TaskFailed", "ExecutionFailed"]
    assert (run.state.error, run.state.cause) == ("Oops", "bad thing")


def test_task_failure_without_error_name_is_states_task_failed() -> None:
    program = compile_definition(machine({"T": task()}))
    run = drive(program, {}, task=lambda effect, at: TaskCompleted(
        at=at, key=effect.key, failed=True))
    assert run.state.error == errors.TASK_FAILED


def test_a_result_for_a_stale_key_is_ignored() -> None:
    program = compile_definition(machine({"T": task("U"), "U": task()}))
    started = start(program, {})
    first = the(started.effects, InvokeTask)
    stale = decide(program, started.state, TaskCompleted(at=T0, key="@999", output=1))
    assert stale.events == () and stale.effects == ()
    after_first = decide(program, started.state, TaskCompleted(at=T0, key=first.key, output=1))
    # the same result delivered twice (a re-issued effect): the second finds nobody waiting
    duplicate = decide(program, after_first.state, TaskCompleted(at=T0, key=first.key, output=2))
    assert duplicate.events == () and duplicate.effects == ()
    assert encoded(duplicate.state) == encoded(after_first.state)


RETRY = {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "BackoffRate": 2.5,
         "MaxAttempts": 4, "MaxDelaySeconds": 10}


def test_retry_timers_follow_backoff_rate_capped_by_max_delay() -> None:
    program = compile_definition(machine({"T": task(Retry=[RETRY])}))
    run = drive(program, {}, task=failing("X"))
    timers = [e for e in run.effects if isinstance(e, StartTimer)]
    invokes = [e for e in run.effects if isinstance(e, InvokeTask)]
    # 3, 3*2.5=7.5, 18.75 -> 10, 46.875 -> 10; each interval counts from the failure time
    assert [t.due - T0 for t in timers] == [3.0, 10.5, 20.5, 30.5]
    assert len(invokes) == 5
    assert [i.context["RetryCount"] for i in invokes] == [0, 1, 2, 3, 4]
    # a retry re-schedules the task without re-entering the state (as AWS records it)
    shown = visible(run.events)
    assert shown.count("TaskStateEntered") == 1
    assert shown.count("TaskScheduled") == 5 and shown.count("TaskFailed") == 5
    assert shown[-1] == "ExecutionFailed" and run.state.error == "X"


def test_retry_then_success_continues_normally() -> None:
    program = compile_definition(machine({"T": task(Retry=[{"ErrorEquals": ["Flaky"]}])}))
    attempts: list[int] = []

    def flaky_once(effect: InvokeTask, at: float) -> TaskCompleted:
        attempts.append(effect.context["RetryCount"])
        if len(attempts) == 1:
            return TaskCompleted(at=at, key=effect.key, failed=True, error="Flaky")
        return TaskCompleted(at=at, key=effect.key, output="ok")

    run = drive(program, {}, task=flaky_once)
    assert attempts == [0, 1]
    assert run.state.status == "SUCCEEDED" and run.state.output == "ok"
    # default IntervalSeconds is 1
    assert [e.due for e in run.effects if isinstance(e, StartTimer)] == [T0 + 1]


def test_retriers_count_attempts_separately_and_max_attempts_zero_never_retries() -> None:
    program = compile_definition(machine({"T": task(Retry=[
        {"ErrorEquals": ["A"], "MaxAttempts": 0},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 5},
    ])}))
    assert visible(drive(program, {}, task=failing("A")).events).count("TaskScheduled") == 1
    assert visible(drive(program, {}, task=failing("B")).events).count("TaskScheduled") == 2


def test_catch_puts_the_error_output_at_result_path_and_goes_on() -> None:
    program = compile_definition(machine({
        "T": task("After",
                  Catch=[{"ErrorEquals": ["Oops"], "ResultPath": "$.error", "Next": "Handler"}]),
        "After": END,
        "Handler": {"Type": "Pass", "End": True}}))
    run = drive(program, {"a": 1}, task=failing("Oops", "why"))
    assert visible(run.events)[-5:] == [
        "TaskFailed", "TaskStateExited", "PassStateEntered", "PassStateExited",
        "ExecutionSucceeded"]
    assert run.state.output == {"a": 1, "error": {"Error": "Oops", "Cause": "why"}}


def test_retry_is_exhausted_before_catch() -> None:
    program = compile_definition(machine({
        "T": task("Done",
                  Retry=[{"ErrorEquals": ["Oops"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                  Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Done"}]),
        "Done": END}))
    run = drive(program, {}, task=failing("Oops"))
    assert visible(run.events).count("TaskFailed") == 3
    assert run.state.status == "SUCCEEDED"


def test_task_timeout_seconds_times_out_with_states_timeout() -> None:
    program = compile_definition(machine({"T": task(TimeoutSeconds=30)}))
    started = start(program, {}, at=T0)
    invoke = the(started.effects, InvokeTask)
    timer = the(started.effects, StartTimer)
    assert invoke.timeout_seconds == 30
    assert (timer.key, timer.due) == (invoke.key + TIMEOUT_SUFFIX, T0 + 30)

    timed_out = decide(program, started.state, TimerFired(at=T0 + 30, key=timer.key))
    assert visible(timed_out.events) == ["TaskTimedOut", "ExecutionFailed"]
    assert timed_out.state.error == errors.TIMEOUT
    # the late result of the timed-out call finds nobody waiting
    late = decide(program, timed_out.state, TaskCompleted(at=T0 + 31, key=invoke.key, output=1))
    assert late.events == ()


def test_a_timeout_timer_after_the_task_finished_is_ignored() -> None:
    program = compile_definition(machine({"T": task("W", TimeoutSeconds=30),
                                          "W": {"Type": "Wait", "Seconds": 100, "End": True}}))
    started = start(program, {})
    invoke, timer = the(started.effects, InvokeTask), the(started.effects, StartTimer)
    done = decide(program, started.state, TaskCompleted(at=T0 + 1, key=invoke.key, output={}))
    late = decide(program, done.state, TimerFired(at=T0 + 30, key=timer.key))
    assert late.events == ()


def test_states_task_failed_does_not_catch_a_timeout() -> None:
    # AWS: States.TaskFailed matches any task error except States.Timeout.
    program = compile_definition(machine({
        "T": task("Done", TimeoutSeconds=5,
                  Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Done"}]),
        "Done": END}))
    run = drive(program, {}, task=lambda effect, at: None)
    assert visible(run.events)[-2:] == ["TaskTimedOut", "ExecutionFailed"]
    caught = compile_definition(machine({
        "T": task("Done", TimeoutSeconds=5,
                  Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "Done"}]),
        "Done": END}))
    assert drive(caught, {}, task=lambda effect, at: None).state.status == "SUCCEEDED"


def test_states_runtime_is_not_caught_by_states_all() -> None:
    # AWS: States.ALL cannot catch States.Runtime; the execution fails at once.
    program = compile_definition(machine({
        "T": task("Done", InputPath="$.missing",
                  Retry=[{"ErrorEquals": ["States.ALL"]}],
                  Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Done"}]),
        "Done": END}))
    decision = start(program, {"a": 1})
    assert visible(decision.events) == ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]
    assert decision.state.error == errors.RUNTIME
    assert decision.effects == ()


def test_an_oversized_task_result_fails_the_task_and_states_all_catches_it() -> None:
    # conformance (recorded on AWS): a result over 256 KiB is a TaskFailed with
    # States.DataLimitExceeded, caught by a States.ALL catcher.
    program = compile_definition(machine({
        "T": task("Done", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Done"}]),
        "Done": END}))
    run = drive(program, {}, task=lambda effect, at: TaskCompleted(
        at=at, key=effect.key, output="x" * 300_000))
    assert run.state.status == "SUCCEEDED"
    assert run.state.output["Error"] == errors.DATA_LIMIT_EXCEEDED
    assert "TaskFailed" in [e.type for e in run.events]


# -- execution-level ----------------------------------------------------------------------------


def test_execution_timeout_seconds_times_out_the_execution() -> None:
    program = compile_definition(machine(
        {"W": {"Type": "Wait", "Seconds": 100, "End": True}}, TimeoutSeconds=10))
    started = start(program, {}, at=T0)
    deadline = [e for e in started.effects if e.key == EXECUTION_TIMEOUT_KEY]
    assert deadline == [StartTimer(key=EXECUTION_TIMEOUT_KEY, due=T0 + 10)]
    timed_out = decide(program, started.state, TimerFired(at=T0 + 10, key=EXECUTION_TIMEOUT_KEY))
    assert visible(timed_out.events) == ["ExecutionTimedOut"]
    assert (timed_out.state.status, timed_out.state.error) == ("TIMED_OUT", errors.TIMEOUT)
    wait_timer = next(e for e in started.effects if e.key != EXECUTION_TIMEOUT_KEY)
    assert decide(program, timed_out.state, TimerFired(at=T0 + 100, key=wait_timer.key)
                  ).events == ()


def test_stop_execution_aborts_and_later_messages_are_ignored() -> None:
    program = compile_definition(machine({"T": task()}))
    started = start(program, {})
    stopped = decide(program, started.state, StopExecution(at=T0 + 5, error="E", cause="C"))
    assert visible(stopped.events) == ["ExecutionAborted"]
    assert (stopped.state.status, stopped.state.error, stopped.state.stop_time) == (
        "ABORTED", "E", T0 + 5)
    invoke = the(started.effects, InvokeTask)
    assert decide(program, stopped.state, TaskCompleted(at=T0 + 6, key=invoke.key)).events == ()


# -- Parallel -----------------------------------------------------------------------------------


def test_parallel_runs_every_branch_on_the_same_input_and_collects_results_in_order() -> None:
    program = compile_definition(machine({"P": {"Type": "Parallel", "End": True, "Branches": [
        machine({"A": {"Type": "Pass", "Result": "a", "End": True}}),
        machine({"B1": {"Type": "Pass", "Next": "B2"},
                 "B2": {"Type": "Pass", "InputPath": "$.x", "End": True}}),
    ]}}))
    decision = start(program, {"x": 1})
    shown = visible(decision.events)
    assert shown[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert shown[-2:] == ["ParallelStateExited", "ExecutionSucceeded"]
    assert shown.count("PassStateEntered") == 3 and shown.count("PassStateExited") == 3
    assert decision.state.output == ["a", 1]


def test_parallel_branch_failure_fails_the_state_and_catch_handles_it() -> None:
    program = compile_definition(machine({
        "P": {"Type": "Parallel", "Next": "Done", "Branches": [
            machine({"W": {"Type": "Wait", "Seconds": 5, "End": True}}),
            machine({"F": {"Type": "Fail", "Error": "Boom", "Cause": "bad"}}),
        ], "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Done"}]},
        "Done": END}))
    started = start(program, {"a": 1})
    assert visible(started.events) == [
        "ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted", "WaitStateEntered",
        "FailStateEntered", "ParallelStateFailed", "ParallelStateExited", "SucceedStateEntered",
        "SucceedStateExited", "ExecutionSucceeded"]
    assert started.state.output == {"a": 1, "err": {"Error": "Boom", "Cause": "bad"}}


def test_parallel_branch_failure_uncaught_fails_the_execution() -> None:
    program = compile_definition(machine({"P": {"Type": "Parallel", "End": True, "Branches": [
        machine({"T": task()}),
        machine({"F": {"Type": "Fail", "Error": "Boom"}}),
    ]}}))
    decision = start(program, {})
    assert visible(decision.events)[-2:] == ["ParallelStateFailed", "ExecutionFailed"]
    assert decision.state.error == "Boom"
    # the other branch's task result comes back to nobody
    invoke = the(decision.effects, InvokeTask)
    assert decide(program, decision.state, TaskCompleted(at=T0, key=invoke.key)).events == ()


def test_a_cancelled_branch_timer_is_ignored_after_catch() -> None:
    program = compile_definition(machine({
        "P": {"Type": "Parallel", "Next": "W", "Branches": [
            machine({"Slow": {"Type": "Wait", "Seconds": 5, "End": True}}),
            machine({"F": {"Type": "Fail", "Error": "Boom"}}),
        ], "Catch": [{"ErrorEquals": ["Boom"], "Next": "W"}]},
        "W": {"Type": "Wait", "Seconds": 60, "End": True}}))
    started = start(program, {})
    branch_timer, wait_timer = [e for e in started.effects if isinstance(e, StartTimer)]
    assert branch_timer.due == T0 + 5 and wait_timer.due == T0 + 60
    stale = decide(program, started.state, TimerFired(at=T0 + 5, key=branch_timer.key))
    assert stale.events == ()
    done = decide(program, started.state, TimerFired(at=T0 + 60, key=wait_timer.key))
    assert done.state.status == "SUCCEEDED"


# -- Map ----------------------------------------------------------------------------------------


def test_map_runs_each_item_through_the_processor_with_item_selector() -> None:
    program = compile_definition(machine({"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "k.$": "$.k"},
        "ItemProcessor": machine({"P": {"Type": "Pass", "End": True}})}}))
    decision = start(program, {"items": ["a", "b"], "k": 0})
    assert visible(decision.events) == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted",
        "MapIterationStarted", "MapIterationStarted",
        "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
        "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    assert decision.state.output == [{"v": "a", "i": 0, "k": 0}, {"v": "b", "i": 1, "k": 0}]


def test_map_over_no_items_succeeds_with_an_empty_list() -> None:
    program = compile_definition(machine({"M": {
        "Type": "Map", "End": True, "ItemProcessor": machine({"T": task()})}}))
    decision = start(program, [])
    assert decision.state.output == [] and decision.effects == ()


def test_map_max_concurrency_one_schedules_one_iteration_at_a_time() -> None:
    program = compile_definition(machine({"M": {
        "Type": "Map", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": machine({"T": task()})}}))
    run = drive(program, [10, 20, 30])
    per_turn = [[e.parameters for e in d.effects if isinstance(e, InvokeTask)]
                for d in run.decisions]
    assert per_turn == [[10], [20], [30], []]
    assert run.state.output == [10, 20, 30]


def test_map_without_max_concurrency_schedules_every_iteration_at_once() -> None:
    program = compile_definition(machine({"M": {
        "Type": "Map", "End": True, "ItemProcessor": machine({"T": task()})}}))
    decision = start(program, [1, 2, 3])
    assert [e.parameters for e in decision.effects if isinstance(e, InvokeTask)] == [1, 2, 3]


def _odd_fails(effect: InvokeTask, at: float) -> TaskCompleted:
    if effect.parameters % 2:
        return TaskCompleted(at=at, key=effect.key, failed=True, error="Odd", cause="odd")
    return TaskCompleted(at=at, key=effect.key, output=effect.parameters)


def _tolerant_map(**tolerance: Any) -> dict[str, Any]:
    return machine({"M": {"Type": "Map", "End": True, "MaxConcurrency": 1, **tolerance,
                          "ItemProcessor": machine({"T": task()})}})


def test_map_iteration_failure_fails_the_map_with_the_iteration_error() -> None:
    run = drive(compile_definition(_tolerant_map()), [2, 3, 4], task=_odd_fails)
    assert visible(run.events)[-4:] == [
        "TaskFailed", "MapIterationFailed", "MapStateFailed", "ExecutionFailed"]
    assert (run.state.error, run.state.cause) == ("Odd", "odd")


def test_map_failures_beyond_tolerated_count_fail_with_threshold_error() -> None:
    run = drive(compile_definition(_tolerant_map(ToleratedFailureCount=1)), [1, 2, 3],
                task=_odd_fails)
    assert run.state.status == "FAILED"
    assert run.state.error == errors.EXCEED_TOLERATED_FAILURE_THRESHOLD


def test_map_failures_within_tolerated_count_succeed() -> None:
    run = drive(compile_definition(_tolerant_map(ToleratedFailureCount=1)), [1, 2, 4],
                task=_odd_fails)
    assert run.state.status == "SUCCEEDED"


def test_map_failures_within_tolerated_percentage_succeed() -> None:
    run = drive(compile_definition(_tolerant_map(ToleratedFailurePercentage=50)), [1, 2, 4],
                task=_odd_fails)
    assert run.state.status == "SUCCEEDED"


def test_map_retry_reruns_the_whole_map_without_map_state_failed_in_between() -> None:
    # As recorded by AWS (corpus: scenarios test_map_state_retry): MapIterationFailed is
    # followed straight by MapStateStarted while retries remain.
    program = compile_definition(machine({"M": {
        "Type": "Map", "End": True, "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1}],
        "ItemProcessor": machine({"F": {"Type": "Fail", "Error": "E"}})}}))
    run = drive(program, [1])
    assert visible(run.events) == [
        "ExecutionStarted", "MapStateEntered",
        "MapStateStarted", "MapIterationStarted", "FailStateEntered", "MapIterationFailed",
        "MapStateStarted", "MapIterationStarted", "FailStateEntered", "MapIterationFailed",
        "MapStateFailed", "ExecutionFailed"]


def test_map_item_selector_failure_fails_the_execution_once() -> None:
    program = compile_definition(machine({"M": {
        "Type": "Map", "End": True, "ItemSelector": {"v.$": "$.missing"},
        "ItemProcessor": machine({"P": {"Type": "Pass", "End": True}})}}))
    decision = start(program, [1, 2])
    assert visible(decision.events)[-1] == "ExecutionFailed"
    assert visible(decision.events).count("ExecutionFailed") == 1
    assert decision.state.error == errors.RUNTIME


# -- purity -------------------------------------------------------------------------------------


def test_decide_never_changes_its_input_state() -> None:
    program = compile_definition(machine({
        "M": {"Type": "Map", "MaxConcurrency": 2, "Next": "P", "ItemProcessor": machine({
            "W": {"Type": "Wait", "Seconds": 1, "Next": "T"},
            "T": task(Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}])})},
        "P": {"Type": "Parallel", "End": True, "Branches": [
            machine({"A": {"Type": "Pass", "Assign": {"x": 1}, "End": True}}),
            machine({"B": task(TimeoutSeconds=3)})]}}))
    failed_once: set[Any] = set()

    def fail_first_try(effect: InvokeTask, at: float) -> TaskCompleted | None:
        if effect.timeout_seconds or effect.parameters in failed_once:
            return TaskCompleted(at=at, key=effect.key, output=effect.parameters)
        failed_once.add(effect.parameters)
        return TaskCompleted(at=at, key=effect.key, failed=True, error="E")

    run = drive(program, [1, 2, 3], task=fail_first_try)
    assert run.state.status == "SUCCEEDED"
    before = run.decisions[0].state
    for message, decision in zip(run.messages[1:], run.decisions[1:], strict=True):
        snapshot = encoded(before)
        again = decide(program, before, message)
        assert encoded(before) == snapshot
        assert encoded(again) == encoded(decision)
        before = decision.state
