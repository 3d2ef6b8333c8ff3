"""One actor turn: a message is decided, then every state that can run without waiting runs in
a plain loop (run to quiescence), and the events and effects of the whole turn come out at once.

`Turn` owns a working copy of the execution state; every event it emits is applied to that copy
with `state.apply`, the same function replay uses, so a replayed state equals the live one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from runtime import errors
from runtime import events as ev
from runtime.dataflow.scope import JSON, Scope
from runtime.dataflow.variables import check_assignment
from runtime.effects import (
    Deliver,
    Effect,
    InvokeTask,
    OfferActivityTask,
    StartChildExecution,
    StartTimer,
    WatchExecution,
)
from runtime.errors import StatesError
from runtime.map_runs import child_state_machine_arn
from runtime.messages import ChildExecutionEnded, StopExecution, TaskCallback
from runtime.program import Node, Program
from runtime.state import ExecutionState, Frame, Waiting, apply, begin_turn
from runtime.sync_results import failure_cause, sync_result

MAX_PAYLOAD_BYTES: Final = 256 * 1024
EXECUTION_TIMEOUT_KEY: Final = "execution-timeout"
TIMEOUT_SUFFIX: Final = "!timeout"
HEARTBEAT_SUFFIX: Final = "!heartbeat"


def iso_time(epoch: float) -> str:
    """AWS's context-object timestamp format: millisecond precision, `Z`."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def arn_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


class Turn:
    __slots__ = ("at", "effects", "events", "known_activity", "program", "queue",
                 "unknown_activities", "work")

    def __init__(self, program: Program, state: ExecutionState, at: float,
                 known_activity: Callable[[str], bool] = lambda activity_arn: True) -> None:
        self.program = program
        self.work = begin_turn(state)
        self.at = at
        self.known_activity = known_activity
        self.events: list[ev.HistoryEvent] = []
        self.effects: list[Effect] = []
        #: States to enter: (frame id, state name, input).
        self.queue: deque[tuple[str, str, JSON]] = deque()
        #: Activities asked about that do not exist (recorded with the turn's message).
        self.unknown_activities: list[str] = []

    def activity_exists(self, activity_arn: str) -> bool:
        """Whether the activity exists now: the one fact a reducer takes from outside the
        message; the turn records each miss, so a replay gets the same answer."""
        if self.known_activity(activity_arn):
            return True
        self.unknown_activities.append(activity_arn)
        return False

    # -- events ---------------------------------------------------------------------------

    def emit(self, type_: str, frame_id: str, details: ev.Details | None = None
             ) -> ev.HistoryEvent:
        work = self.work
        internal = type_ in ev.INTERNAL_TYPES
        frame = work.frames.get(frame_id)
        event = ev.HistoryEvent(
            id=0 if internal else work.last_event_id + 1,
            previous_event_id=frame.last_event_id if frame is not None else work.last_event_id,
            timestamp=self.at, type=type_, details=details, frame=frame_id,
        )
        if type_ in ev.TERMINAL_TYPES:
            self._stop_children()
        apply(work, event)
        self.events.append(event)
        if type_ in ev.TERMINAL_TYPES and work.parent_arn:
            self._report_to_parent()
        return event

    def _stop_children(self) -> None:
        """The execution ends: the Map Run child executions it waits for are stopped (AWS
        aborts a Map Run's children with their parent)."""
        for frame in self.work.frames.values():
            waiting = frame.waiting
            if waiting is not None and waiting.kind == "child" and waiting.child is not None:
                self.stop_child(waiting.key, waiting.child)

    def stop_child(self, key: str, execution_arn: str) -> None:
        self.effects.append(Deliver(key=key, execution_arn=execution_arn,
                                    message=StopExecution(at=self.at)))

    def _report_to_parent(self) -> None:
        """A child execution's end, told to the parent waiting on it: a Map Run's child
        reports its outcome; a `.sync` child answers the parent's task as AWS does."""
        work = self.work
        key = work.parent_key
        message: ChildExecutionEnded | TaskCallback
        if work.sync_version:
            result = sync_result(
                execution_arn=work.execution_arn, state_machine_arn=work.state_machine_arn,
                name=work.name, status=work.status, input=work.input, output=work.output,
                error=work.error, cause=work.cause, start=work.start_time, stop=work.stop_time,
                json_values=work.sync_version == 2)
            message = TaskCallback(at=self.at, key=key, output=result) \
                if work.status == "SUCCEEDED" else TaskCallback(
                    at=self.at, key=key, failed=True, error=errors.TASK_FAILED,
                    cause=failure_cause(result))
        else:
            message = ChildExecutionEnded(at=self.at, key=key, status=work.status,
                                          output=work.output, error=work.error,
                                          cause=work.cause)
        self.effects.append(Deliver(key=key, execution_arn=work.parent_arn, message=message))

    @property
    def running(self) -> bool:
        return self.work.status == "RUNNING"

    def frame(self, frame_id: str) -> Frame:
        return self.work.frames[frame_id]

    def node(self, frame: Frame) -> Node:
        assert frame.state is not None
        return self.program.machines[frame.machine].states[frame.state]

    # -- evaluation -----------------------------------------------------------------------

    def scope(self, frame: Frame, value: JSON | None = None, *,
              item: tuple[int, JSON] | None = None, task_token: str | None = None) -> Scope:
        work = self.work

        def context() -> JSON:
            state: dict[str, Any] = {"Name": frame.state, "EnteredTime": iso_time(frame.entered_at)}
            node = self.node(frame) if frame.state is not None else None
            if node is not None and node.kind == "Task":
                state["RetryCount"] = frame.retry_count
            ctx: dict[str, Any] = {
                "Execution": {
                    "Id": work.execution_arn, "Input": work.input,
                    "StartTime": iso_time(work.start_time), "Name": work.name,
                    "RoleArn": work.role_arn, "RedriveCount": work.redrive_count,
                },
                "StateMachine": {"Id": work.state_machine_arn,
                                 "Name": arn_name(work.state_machine_arn)},
                "State": state,
            }
            if item is not None:
                ctx["Map"] = {"Item": {"Index": item[0], "Value": item[1]}}
            if task_token is not None:
                ctx["Task"] = {"Token": task_token}
            return ctx

        return Scope(
            frame.value if value is None else value,
            variables=frame.variables,
            context=context,
            seed=(work.seed * 1_000_003 + frame.entered_event_id * 7919 + len(self.events))
            & 0xFFFFFFFF,
        )

    # -- running states -------------------------------------------------------------------

    def run(self) -> None:
        from runtime.reducers.dispatch import run_state

        queue = self.queue
        frames = self.work.frames
        while queue and self.running:
            frame_id, name, value = queue.popleft()
            frame = frames.get(frame_id)
            if frame is None or frame.done:
                continue
            node = self.program.machines[frame.machine].states[name]
            self.emit(f"{node.kind}StateEntered", frame_id,
                      ev.StateEnteredDetails(name=name, input=value))
            run_state(self, frame_id, node)

    def exit_state(self, frame_id: str, node: Node, output: JSON,
                   assigned: dict[str, JSON] | None, next_state: str | None) -> None:
        """Emit `<Kind>StateExited`, then go to `next_state` or finish the frame."""
        if assigned:
            try:
                check_assignment(assigned, self.frame(frame_id).variables)
            except StatesError as failure:
                self.fail_state(frame_id, node, failure, prefixed=False)
                return
        if too_large(output):
            self.fail_state(frame_id, node, StatesError(
                errors.DATA_LIMIT_EXCEEDED,
                f"The state/task '{node.name}' returned a result with a size exceeding the "
                f"maximum number of bytes service limit.",
            ), prefixed=False)
            return
        end = next_state is None
        self.emit(f"{node.kind}StateExited", frame_id, ev.StateExitedDetails(
            name=node.name, output=output, assigned_variables=assigned or None, end=end,
        ))
        if next_state is not None:
            self.queue.append((frame_id, next_state, output))
        else:
            self.finish_frame(frame_id, output)

    def complete_state(self, frame_id: str, node: Node, result: JSON) -> None:
        """The state produced `result`: its output and variables, then on to `Next`."""
        scope = self.scope(self.frame(frame_id))
        try:
            output = node.output(scope, result)
            assigned = node.assign(scope, result)
        except StatesError as failure:
            self.fail_state(frame_id, node, failure)
            return
        self.exit_state(frame_id, node, output, assigned, node.next)

    def finish_frame(self, frame_id: str, output: JSON) -> None:
        from runtime.reducers import fanout

        frame = self.frame(frame_id)
        if frame.parent is None:
            self.emit("ExecutionSucceeded", "", ev.ExecutionSucceededDetails(output=output))
            return
        parent = self.frame(frame.parent)
        assert parent.fanout is not None and parent.state is not None
        if parent.fanout.kind == "map":
            self.emit("MapIterationSucceeded", parent.id,
                      ev.MapIterationDetails(name=parent.state, index=frame.index))
        fanout.progress(self, parent.id)

    def fail_frame(self, frame_id: str, error: str | None, cause: str | None) -> None:
        """The frame's current state failed and nothing caught it."""
        from runtime.reducers import fanout

        frame = self.frame(frame_id)
        if frame.parent is None:
            self.emit("ExecutionFailed", "", ev.ErrorDetails(error=error, cause=cause))
            return
        parent = self.frame(frame.parent)
        assert parent.fanout is not None and parent.state is not None
        if parent.fanout.kind == "map":
            self.emit("MapIterationFailed", parent.id, ev.MapIterationDetails(
                name=parent.state, index=frame.index, error=error, cause=cause))
            fanout.progress(self, parent.id, (error, cause))
        else:
            fanout.fail_parallel(self, parent.id, error, cause)

    def fail_state(self, frame_id: str, node: Node, failure: StatesError, *,
                   prefixed: bool = True, recoverable: bool = True) -> None:
        """A data-flow or state error: States.Runtime ends the execution at once; anything else
        goes through the state's Retry/Catch like a task error."""
        from runtime.reducers import recovery

        frame = self.frame(frame_id)
        cause = failure.cause
        if prefixed:
            cause = (f"An error occurred while executing the state '{node.name}' (entered at the "
                     f"event id #{frame.entered_event_id}). {cause}")
        if failure.error == errors.RUNTIME:
            self.emit("ExecutionFailed", "", ev.ErrorDetails(error=failure.error, cause=cause))
            return
        if failure.error == errors.QUERY_EVALUATION_ERROR:
            self.emit("EvaluationFailed", frame_id, ev.ErrorDetails(
                error=failure.error, cause=cause, state=node.name))
        if recoverable:
            recovery.handle_error(self, frame_id, node, failure.error, cause)
        else:
            self.fail_frame(frame_id, failure.error, cause)

    # -- waiting ---------------------------------------------------------------------------

    def start_timer(self, frame_id: str, due: float, purpose: str) -> None:
        self.emit("TimerStarted", frame_id, ev.TimerStartedDetails(due=due, purpose=purpose))
        waiting = self.frame(frame_id).waiting
        assert waiting is not None
        self.effects.extend(effects_for(self.work, self.frame(frame_id), waiting))


def effects_for(state: ExecutionState, frame: Frame, waiting: Waiting) -> list[Effect]:
    """The effects that serve `waiting`: also used to re-issue them after a crash."""
    if waiting.kind == "timer":
        assert waiting.due is not None
        return [StartTimer(key=waiting.key, due=waiting.due)]
    if waiting.kind == "child":
        assert waiting.child is not None and frame.parent is not None
        fan = state.frames[frame.parent].fanout
        assert fan is not None
        return [StartChildExecution(
            key=waiting.key, execution_arn=waiting.child,
            state_machine_arn=child_state_machine_arn(fan.map_run), input=frame.value,
            machine=frame.machine, map_run_arn=fan.map_run, parent_arn=state.execution_arn,
            redrive=waiting.purpose == "redrive")]
    task = waiting.task
    assert task is not None
    out: list[Effect] = []
    if waiting.activity is not None:
        if not waiting.submitted:
            out.append(OfferActivityTask(key=waiting.key, activity_arn=waiting.activity,
                                         input=task.parameters, token=waiting.token))
    elif not waiting.submitted:
        out.append(InvokeTask(
            key=waiting.key, resource=task.resource, parameters=task.parameters,
            timeout_seconds=task.timeout_seconds,
            # A callback task's heartbeats come as SendTaskHeartbeat, timed by the reducer.
            heartbeat_seconds=None if waiting.callback else task.heartbeat_seconds,
            token=waiting.token or None,
            context={"ExecutionArn": state.execution_arn, "StateName": frame.state,
                     "RetryCount": frame.retry_count, "IdempotencyKey":
                     f"{state.execution_arn}/{waiting.key}"},
        ))
    elif waiting.child is not None:
        out.append(WatchExecution(key=waiting.key, execution_arn=waiting.child,
                                  token=waiting.token,
                                  json_values=task.resource.endswith(".sync:2")))
    if waiting.due is not None:
        out.append(StartTimer(key=waiting.key + TIMEOUT_SUFFIX, due=waiting.due))
    if waiting.heartbeat_due is not None:
        out.append(StartTimer(key=waiting.key + HEARTBEAT_SUFFIX, due=waiting.heartbeat_due))
    return out


def too_large(value: JSON) -> bool:
    """Over the 256 KiB payload limit, as UTF-8 JSON."""
    if value is None or isinstance(value, (bool, int, float)):
        return False
    if isinstance(value, str):
        return len(value) * 4 > MAX_PAYLOAD_BYTES and len(value.encode()) + 2 > MAX_PAYLOAD_BYTES
    return len(msgspec.json.encode(value)) > MAX_PAYLOAD_BYTES
