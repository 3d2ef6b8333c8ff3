"""The pure core: `decide(program, state, message) -> Decision`.

A reducer never reads a clock, the environment or global randomness: time comes from the
message, randomness from the seed recorded in ExecutionStarted. Failures of the user's
definition or data become events (ExecutionFailed, TaskFailed, ...), never exceptions.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from runtime import errors
from runtime import events as ev
from runtime.effects import Deliver, Effect, StartTimer
from runtime.messages import (
    ActivityStarted,
    ChildExecutionEnded,
    Message,
    RedriveExecution,
    StartExecution,
    StopExecution,
    TaskCallback,
    TaskCompleted,
    TaskHeartbeat,
    TimerFired,
    UpdateMapRun,
)
from runtime.program import MapNode, Program, TaskNode, WaitNode
from runtime.reducers import fanout, task, wait
from runtime.reducers.dispatch import rerun_state
from runtime.reducers.turn import (
    EXECUTION_TIMEOUT_KEY,
    HEARTBEAT_SUFFIX,
    TIMEOUT_SUFFIX,
    Turn,
    effects_for,
)
from runtime.state import ExecutionState, children


class Decision(msgspec.Struct, frozen=True):
    #: Events of this turn, in order; the log appends them as one batch.
    events: tuple[ev.HistoryEvent, ...]
    #: Work for the actor shell.
    effects: tuple[Effect, ...]
    #: The state after the events (equal to folding them into the input state).
    state: ExecutionState


def decide(program: Program, state: ExecutionState, message: Message, *,
           known_activity: Callable[[str], bool] = lambda activity_arn: True) -> Decision:
    """Every non-empty decision starts with a `MessageReceived` event recording `message`
    (and the activities `known_activity` said do not exist, if a Task state named one)."""
    turn = Turn(program, state, message.at, known_activity)
    if isinstance(message, RedriveExecution) and state.status == "SUCCEEDED" \
            and message.parent_key and state.parent_arn:
        return Decision((), (_report_success(state, message),), state)
    if state.status == "RUNNING" or isinstance(message, StartExecution) or (
            isinstance(message, RedriveExecution) and state.status in REDRIVABLE):
        turn.emit(ev.MESSAGE_RECEIVED, "", ev.MessageDetails(message=message))
        _receive(turn, message)
        if len(turn.events) == 1:  # nothing waited for this message: leave no trace
            return Decision((), (), state)
        turn.run()
        if turn.unknown_activities:
            received = turn.events[0]
            turn.events[0] = msgspec.structs.replace(received, details=ev.MessageDetails(
                message=message, unknown_activities=tuple(turn.unknown_activities)))
    return Decision(tuple(turn.events), tuple(turn.effects), turn.work)


def _receive(turn: Turn, message: Message) -> None:
    match message:
        case StartExecution():
            turn.emit("ExecutionStarted", "", ev.ExecutionStartedDetails(
                input=message.input, role_arn=message.role_arn, seed=message.seed,
                state_machine_arn=turn.work.state_machine_arn,
                definition_id=message.definition_id, test_case=message.test_case,
                machine=message.machine, map_run_arn=message.map_run_arn,
                parent_arn=message.parent_arn, parent_key=message.parent_key,
                sync_version=message.sync_version))
            machine = turn.program.machines[message.machine]
            turn.queue.append(("", machine.start_at, message.input))
            # TimeoutSeconds is the whole definition's, not a Map Run child's.
            if turn.program.timeout_seconds and not message.machine:
                turn.effects.append(StartTimer(
                    key=EXECUTION_TIMEOUT_KEY, due=message.at + turn.program.timeout_seconds))
        case TaskCompleted() | TaskCallback() | TaskHeartbeat() | ActivityStarted():
            _task_message(turn, message)
        case TimerFired():
            _timer_fired(turn, message)
        case ChildExecutionEnded():
            _child_ended(turn, message)
        case UpdateMapRun():
            fanout.update_map_run(turn, message)
        case StopExecution():
            turn.emit("ExecutionAborted", "", ev.ErrorDetails(
                error=message.error, cause=message.cause))
        case RedriveExecution():
            turn.emit("ExecutionRedriven", "", ev.ExecutionRedrivenDetails(
                redrive_count=turn.work.redrive_count + 1, parent_key=message.parent_key))
            _redrive(turn, "")
            if turn.program.timeout_seconds and not turn.frame("").machine:
                turn.effects.append(StartTimer(
                    key=EXECUTION_TIMEOUT_KEY, due=message.at + turn.program.timeout_seconds))


REDRIVABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def _report_success(state: ExecutionState, redrive: RedriveExecution) -> Deliver:
    """A Map Run child whose parent redrives it had succeeded after all (its stop came too
    late): the parent hears of its success under the key it waits on now."""
    return Deliver(key=redrive.parent_key, execution_arn=state.parent_arn,
                   message=ChildExecutionEnded(at=redrive.at, key=redrive.parent_key,
                                               status=state.status, output=state.output))


def _redrive(turn: Turn, frame_id: str) -> None:
    """Restart the unsuccessful work of a frame: its current state, or the failed, aborted
    and unfinished children of its Map/Parallel state (AWS reruns only those)."""
    turn.emit(ev.FRAME_REDRIVEN, frame_id, ev.FrameRedrivenDetails())
    frame = turn.frame(frame_id)
    if frame.fanout is None:
        state_name = frame.state or turn.program.machines[frame.machine].start_at
        turn.queue.append((frame_id, state_name, frame.value))
        return
    restarted = [child for child in children(turn.work, frame) if not child.done]
    for child in restarted:
        if child.waiting is not None:  # a Map Run's child execution, redriven
            turn.effects.extend(effects_for(turn.work, child, child.waiting))
        else:
            _redrive(turn, child.id)
    if not restarted:
        fanout.progress(turn, frame_id)


def _child_ended(turn: Turn, message: ChildExecutionEnded) -> None:
    frame = turn.work.frames.get(message.key.rpartition("@")[0])
    waiting = frame.waiting if frame is not None else None
    if frame is None or waiting is None or waiting.key != message.key or frame.parent is None:
        return
    parent = turn.frame(frame.parent)
    node = turn.node(parent)
    assert isinstance(node, MapNode)
    fanout.child_ended(turn, parent.id, node, frame.index, message)


def _task_message(turn: Turn,
                  message: TaskCompleted | TaskCallback | TaskHeartbeat | ActivityStarted) -> None:
    frame_id = message.key.rpartition("@")[0]
    frame = turn.work.frames.get(frame_id)
    waiting = frame.waiting if frame is not None else None
    if frame is None or waiting is None or waiting.key != message.key:
        return  # nobody waits for this any more (cancelled branch, timed out, answered)
    node = turn.node(frame)
    if waiting.purpose in ("items", "results"):
        assert isinstance(node, MapNode) and isinstance(message, TaskCompleted)
        fanout.request_answered(turn, frame_id, node, waiting.purpose, message.output,
                                message.error, message.cause, message.failed)
        return
    assert isinstance(node, TaskNode)
    match message:
        case TaskCompleted(failed=True):
            task.task_failed(turn, frame_id, node, waiting, message.error, message.cause,
                             timed_out=message.timed_out)
        case TaskCompleted():
            task.task_answered(turn, frame_id, node, waiting, message.output)
        case TaskCallback() if waiting.callback and task.answers_early(node, waiting):
            turn.emit(ev.CALLBACK_HELD, frame_id, ev.MessageDetails(message=message))
        case TaskCallback() if waiting.callback:
            if message.failed:
                task.task_failed(turn, frame_id, node, waiting, message.error, message.cause)
            else:
                task.task_succeeded(turn, frame_id, node, waiting, message.output)
        case TaskHeartbeat() if waiting.callback:
            task.heartbeat(turn, frame_id, waiting)
        case ActivityStarted() if waiting.activity is not None and not waiting.submitted:
            task.activity_started(turn, frame_id, message.worker_name)
        case _:
            return


def _timer_fired(turn: Turn, message: TimerFired) -> None:
    if message.key == EXECUTION_TIMEOUT_KEY:
        turn.emit("ExecutionTimedOut", "", ev.ErrorDetails(
            error=errors.TIMEOUT, cause="The execution timed out."))
        return
    if message.key.endswith((TIMEOUT_SUFFIX, HEARTBEAT_SUFFIX)):
        _task_timer(turn, message)
        return
    frame_id = message.key.rpartition("#")[0]
    frame = turn.work.frames.get(frame_id)
    if frame is None or frame.waiting is None or frame.waiting.key != message.key:
        return
    node = turn.node(frame)
    if frame.waiting.purpose == "wait":
        assert isinstance(node, WaitNode)
        wait.finish_wait(turn, frame_id, node)
    else:
        rerun_state(turn, frame_id, node)


def _task_timer(turn: Turn, message: TimerFired) -> None:
    heartbeat = message.key.endswith(HEARTBEAT_SUFFIX)
    key = message.key.removesuffix(HEARTBEAT_SUFFIX if heartbeat else TIMEOUT_SUFFIX)
    frame = turn.work.frames.get(key.rpartition("@")[0])
    waiting = frame.waiting if frame is not None else None
    if frame is None or waiting is None or waiting.key != key:
        return
    if heartbeat and (waiting.heartbeat_due is None or waiting.heartbeat_due > message.at):
        return  # a heartbeat arrived after this timer was set
    node = turn.node(frame)
    assert isinstance(node, TaskNode)
    # AWS records a callback task's missed heartbeat as TaskTimedOut with States.Timeout
    # (conformance: timeouts/test_heartbeats).
    task.task_failed(turn, frame.id, node, waiting, errors.TIMEOUT, None, timed_out=True)


def pending_effects(program: Program, state: ExecutionState) -> list[Effect]:
    """Effects a resumed execution must (re)issue: every waiting task and timer."""
    if state.status != "RUNNING":
        return []
    out: list[Effect] = []
    if program.timeout_seconds:
        out.append(StartTimer(key=EXECUTION_TIMEOUT_KEY,
                              due=state.attempt_started + program.timeout_seconds))
    for frame in state.frames.values():
        if frame.waiting is not None:
            out.extend(effects_for(state, frame, frame.waiting))
    return out
