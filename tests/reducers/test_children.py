"""Child executions in the pure core: a Distributed Map's iterations and `.sync` children
answer their parent with a message the parent's reducer decides like any other."""

from __future__ import annotations

from typing import Any

from runtime import events as ev
from runtime.effects import Deliver, InvokeTask, StartChildExecution
from runtime.messages import (
    ChildExecutionEnded,
    StartExecution,
    StopExecution,
    TaskCallback,
    TaskCompleted,
)
from runtime.reducers import decide
from runtime.state import new_state
from tests.reducers import T0, compile_definition, internal, start, visible

CHILD = "arn:aws:states:us-east-1:123456789012:execution:child:c1"
PARENT = "arn:aws:states:us-east-1:123456789012:execution:sm:run"


def _sync_task(resource: str = "arn:aws:states:::states:startExecution.sync") -> Any:
    return compile_definition({"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": resource, "End": True,
        "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:"
                                          "stateMachine:child"}}}})


def test_a_sync_child_answering_before_its_start_is_held_until_task_submitted() -> None:
    """AWS orders TaskSubmitted before TaskSucceeded; on the cluster the child may end (and
    answer) before the start call's own answer is delivered."""
    program = _sync_task()
    started = start(program, {})
    (call,) = [e for e in started.effects if isinstance(e, InvokeTask)]
    early = decide(program, started.state, TaskCallback(at=T0 + 1, key=call.key,
                                                         output={"Status": "SUCCEEDED"}))
    assert visible(early.events) == []
    assert len(internal(early.events, ev.CALLBACK_HELD)) == 1
    answered = decide(program, early.state, TaskCompleted(
        at=T0 + 2, key=call.key, output={"ExecutionArn": CHILD}))
    assert visible(answered.events) == ["TaskSubmitted", "TaskSucceeded", "TaskStateExited",
                                        "ExecutionSucceeded"]
    assert answered.state.output == {"Status": "SUCCEEDED"}


def test_a_sync_child_reports_its_end_as_the_parent_tasks_answer() -> None:
    program = compile_definition({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Result": {"r": 1}, "End": True}}})
    done = decide(program, new_state(CHILD, "arn:child-machine", "c1"), StartExecution(
        at=T0, input={"in": 1}, parent_arn=PARENT, parent_key="@4", sync_version=2))
    (report,) = [e for e in done.effects if isinstance(e, Deliver)]
    assert report.execution_arn == PARENT
    assert isinstance(report.message, TaskCallback) and report.message.key == "@4"
    assert report.message.output["Output"] == {"r": 1}  # .sync:2: JSON values
    assert report.message.output["Input"] == {"in": 1}


def test_a_map_run_child_that_fails_reports_its_error() -> None:
    program = compile_definition({"StartAt": "F", "States": {"F": {
        "Type": "Fail", "Error": "E", "Cause": "C"}}})
    done = decide(program, new_state(CHILD, "arn:child-machine", "c1"), StartExecution(
        at=T0, input={}, parent_arn=PARENT, parent_key="/0@9", map_run_arn="arn:run"))
    (report,) = [e for e in done.effects if isinstance(e, Deliver)]
    assert report.message == ChildExecutionEnded(at=T0, key="/0@9", status="FAILED",
                                                 error="E", cause="C")


def test_a_distributed_map_starts_children_and_stops_them_when_the_parent_is_stopped() -> None:
    program = compile_definition({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}}}}})
    started = start(program, [1, 2])
    children = [e for e in started.effects if isinstance(e, StartChildExecution)]
    assert [c.input for c in children] == [1, 2]
    assert {c.parent_arn for c in children} == {PARENT}
    stopped = decide(program, started.state, StopExecution(at=T0 + 1))
    stops = [e for e in stopped.effects if isinstance(e, Deliver)]
    assert sorted(s.execution_arn for s in stops) == sorted(c.execution_arn for c in children)
    assert all(isinstance(s.message, StopExecution) for s in stops)
