"""Execution state, and how each history event changes it.

Rules:
1. The state is a fold of the events: `project(events)` rebuilds exactly the state the live
   run had, because the live run builds its state with the same `apply`.
2. `apply` never reads the definition: events carry what it needs (routing fields).
3. Frames are frozen and replaced, never mutated; `ExecutionState.frames` is copied once per
   turn (`begin_turn`), so a caller's state is never changed by a reducer.

A frame is one thread of control: the top level (id ""), a Parallel branch or a Map iteration
(id "<parent>/<index>").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypeVar

import msgspec
from msgspec.structs import replace

from runtime import events as ev
from runtime.map_runs import child_execution_arn
from runtime.messages import TaskCallback

JSON = Any
T = TypeVar("T")
Status = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]


class TaskCall(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to (re)issue a scheduled task after a crash."""

    resource: str
    parameters: JSON
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None


class Waiting(msgspec.Struct, frozen=True, kw_only=True):
    """What a frame is blocked on: a task result or a timer."""

    key: str
    #: "child": a Map Run iteration's child execution (`child`), whose end is awaited.
    kind: Literal["task", "timer", "child"]
    #: Epoch seconds the timer fires, or the task times out (None: no timeout).
    due: float | None = None
    purpose: str = ""
    task: TaskCall | None = None
    #: Callback tasks (`.waitForTaskToken`, `.sync`, activities) end with SendTask*: the
    #: integration's own answer only submits them.
    token: str = ""
    #: The activity ARN, for an activity task.
    activity: str | None = None
    #: The integration's request was made (TaskSubmitted); now only the callback is awaited.
    submitted: bool = False
    #: The child execution a `.sync` task or a Map Run iteration waits for.
    child: str | None = None
    #: Epoch seconds by which a heartbeat must arrive (callback tasks with HeartbeatSeconds).
    heartbeat_due: float | None = None
    #: A `.sync` child's answer that came before the start's own (see events.CALLBACK_HELD).
    held: TaskCallback | None = None

    @property
    def callback(self) -> bool:
        return bool(self.token)


class Fanout(msgspec.Struct, frozen=True, kw_only=True):
    """Bookkeeping of a running Map or Parallel state."""

    kind: Literal["map", "parallel"]
    total: int
    started: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    #: Map: the item values; Parallel: empty (every branch gets `branch_input`).
    items: list[JSON] = msgspec.field(default_factory=list)
    branch_input: JSON = None
    #: Distributed Map: the Map Run its iterations belong to.
    map_run: str = ""


class Frame(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    machine: str
    parent: str | None = None
    index: int = 0
    #: Current state name (None before the first state is entered).
    state: str | None = None
    #: The current state's raw input; after an Exited event, that state's output.
    value: JSON = None
    entered_event_id: int = 0
    entered_at: float = 0.0
    #: Retries made of the current state, in total and per retrier index.
    retry_count: int = 0
    retry_counts: tuple[int, ...] = ()
    variables: dict[str, JSON] = msgspec.field(default_factory=dict)
    waiting: Waiting | None = None
    fanout: Fanout | None = None
    last_event_id: int = 0
    done: bool = False
    #: A finished child that did not succeed (failed, or aborted with its Map/Parallel).
    failed: bool = False
    error: str | None = None
    cause: str | None = None


class MapRun(msgspec.Struct, kw_only=True):
    """What DescribeMapRun reports of a Distributed Map's run."""

    arn: str
    state: str
    started: float
    stopped: float | None = None
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "ABORTED"] = "RUNNING"
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    #: Its limits (None: a tolerance not set), from the definition, changed by UpdateMapRun.
    max_concurrency: int = 0
    tolerated_count: float | None = None
    tolerated_percentage: float | None = None


class ExecutionState(msgspec.Struct, kw_only=True):
    execution_arn: str
    state_machine_arn: str
    name: str
    role_arn: str = ""
    input: JSON = None
    start_time: float = 0.0
    stop_time: float | None = None
    seed: int = 0
    status: Status = "RUNNING"
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    #: Id of the last non-internal event.
    last_event_id: int = 0
    redrive_count: int = 0
    #: When the current attempt (the start, or the last redrive) began.
    attempt_started: float = 0.0
    #: Events applied, internal ones included (the log version of this state).
    version: int = 0
    frames: dict[str, Frame] = msgspec.field(default_factory=dict)
    map_runs: dict[str, MapRun] = msgspec.field(default_factory=dict)
    #: A Map Run's child execution: its Map Run, and the parent (execution and waiting key)
    #: its end is reported to.
    map_run_arn: str = ""
    parent_arn: str = ""
    parent_key: str = ""
    #: A `.sync` child's result shape (1 `.sync`, 2 `.sync:2`); 0 for any other execution.
    sync_version: int = 0


def new_state(execution_arn: str, state_machine_arn: str, name: str) -> ExecutionState:
    return ExecutionState(execution_arn=execution_arn, state_machine_arn=state_machine_arn,
                          name=name)


def begin_turn(state: ExecutionState) -> ExecutionState:
    """A working copy a reducer may apply events to without touching `state`."""
    return replace(state, frames=dict(state.frames))


def evolve(state: ExecutionState, event: ev.HistoryEvent) -> ExecutionState:
    work = begin_turn(state)
    apply(work, event)
    return work


def project(events: Iterable[ev.HistoryEvent], state: ExecutionState) -> ExecutionState:
    """Fold `events` into (a copy of) `state`."""
    work = begin_turn(state)
    for event in events:
        apply(work, event)
    return work


def child_id(parent: str, index: int) -> str:
    return f"{parent}/{index}"


def processor_key(machine: str, state_name: str) -> str:
    """Key of the sub-machine of Map state `state_name` in `machine` (see `Program`)."""
    return f"{machine}/{state_name}" if machine else state_name


def branch_key(machine: str, state_name: str, index: int) -> str:
    return f"{processor_key(machine, state_name)}/{index}"


def apply(work: ExecutionState, event: ev.HistoryEvent) -> None:
    """Apply one event to a working copy (see `begin_turn`)."""
    work.version += 1
    if event.id:
        work.last_event_id = event.id
    frames = work.frames
    details = event.details
    kind = event.type
    frame = frames.get(event.frame)
    match details:
        case ev.StateEnteredDetails(name=name, input=value):
            assert frame is not None
            _clear_children(frames, frame)
            frames[frame.id] = replace(
                frame, state=name, value=value, entered_event_id=event.id,
                entered_at=event.timestamp, retry_count=0, retry_counts=(), waiting=None,
                fanout=None, last_event_id=event.id,
            )
        case ev.StateExitedDetails(output=output, assigned_variables=assigned, end=end):
            assert frame is not None
            _clear_children(frames, frame)
            variables = {**frame.variables, **assigned} if assigned else frame.variables
            frames[frame.id] = replace(
                frame, value=output, variables=variables, waiting=None, fanout=None,
                done=end, last_event_id=event.id,
            )
            if end and frame.parent is not None:
                parent = frames[frame.parent]
                if parent.fanout is not None and parent.fanout.kind == "parallel":
                    _count(frames, parent, succeeded=1)
        case ev.TaskScheduledDetails():
            assert frame is not None
            heartbeat = details.heartbeat_in_seconds
            frames[frame.id] = _scheduled(
                frame, event, details.resource_arn, details.parameters,
                details.timeout_in_seconds, heartbeat, token=details.token,
                heartbeat_due=event.timestamp + heartbeat if heartbeat and details.token
                else None)
        case ev.LambdaScheduledDetails():
            assert frame is not None
            frames[frame.id] = _scheduled(
                frame, event, details.resource, details.input, details.timeout_in_seconds,
                details.heartbeat_in_seconds)
        case ev.ActivityScheduledDetails():
            assert frame is not None
            frames[frame.id] = _scheduled(
                frame, event, details.resource, details.input, details.timeout_in_seconds,
                details.heartbeat_in_seconds, token=details.token, activity=details.resource)
        case ev.ActivityStartedDetails():
            assert frame is not None and frame.waiting is not None
            waiting = frame.waiting
            beat = waiting.task.heartbeat_seconds if waiting.task is not None else None
            frames[frame.id] = replace(frame, last_event_id=event.id, waiting=replace(
                waiting, submitted=True,
                heartbeat_due=event.timestamp + beat if beat else None))
        case ev.HeartbeatDetails(due=due):
            assert frame is not None and frame.waiting is not None
            frames[frame.id] = replace(frame, waiting=replace(frame.waiting, heartbeat_due=due))
        case ev.TaskResourceDetails() | ev.OutcomeDetails():
            assert frame is not None
            if kind == "TaskStarted":
                frames[frame.id] = replace(frame, last_event_id=event.id)
            elif kind == "TaskSubmitted":
                assert frame.waiting is not None
                frames[frame.id] = replace(frame, last_event_id=event.id, waiting=replace(
                    frame.waiting, submitted=True, child=_child_execution(details)))
            else:
                frames[frame.id] = replace(frame, waiting=None, last_event_id=event.id)
        case ev.TimerStartedDetails(due=due, purpose=purpose):
            assert frame is not None
            counts = frame.retry_counts
            if purpose.startswith("retry:"):
                counts = _bump(counts, int(purpose[6:]))
            frames[frame.id] = replace(
                frame, retry_count=sum(counts), retry_counts=counts,
                waiting=Waiting(key=f"{frame.id}#{work.version}", kind="timer", due=due,
                                purpose=purpose),
            )
        case ev.MapStateStartedDetails(length=length, items=items):
            assert frame is not None
            _clear_children(frames, frame)
            frames[frame.id] = replace(
                frame, waiting=None, last_event_id=event.id,
                fanout=Fanout(kind="map", total=length, items=items),
            )
        case ev.MapIterationDetails(index=index, error=error, cause=cause):
            assert frame is not None and frame.fanout is not None
            if kind == "MapIterationStarted":
                child = Frame(id=child_id(frame.id, index), parent=frame.id, index=index,
                              machine=processor_key(frame.machine, frame.state or ""),
                              variables=frame.variables, last_event_id=event.id)
                frames[child.id] = child
                _count(frames, frame, started=1, running=1, last_event_id=event.id)
            elif kind == "MapIterationSucceeded":
                _count(frames, frame, succeeded=1, running=-1)
            elif kind == "MapIterationFailed":
                child_key = child_id(frame.id, index)
                frames[child_key] = replace(frames[child_key], done=True, failed=True,
                                            error=error, cause=cause, waiting=None)
                _count(frames, frame, failed=1, running=-1)
            else:  # MapIterationAborted: the iteration's pending work is abandoned
                child_key = child_id(frame.id, index)
                frames[child_key] = replace(frames[child_key], done=True, failed=True,
                                            waiting=None)
                _count(frames, frame, running=-1)
        case ev.ChildStartedDetails(index=index, execution_arn=arn, input=value):
            assert frame is not None and frame.fanout is not None
            key = child_id(frame.id, index)
            child = Frame(id=key, parent=frame.id, index=index,
                          machine=processor_key(frame.machine, frame.state or ""), value=value,
                          waiting=_awaiting_child(key, work.version, arn))
            frames[child.id] = child
            _count(frames, frame, started=1, running=1)
        case ev.ChildEndedDetails(index=index, status=status):
            assert frame is not None and frame.fanout is not None
            key = child_id(frame.id, index)
            succeeded = status == "SUCCEEDED"
            frames[key] = replace(frames[key], done=True, failed=not succeeded,
                                  value=details.output if succeeded else frames[key].value,
                                  error=details.error, cause=details.cause, waiting=None)
            if succeeded:
                _count(frames, frame, succeeded=1, running=-1)
            elif status == "ABORTED":
                _count(frames, frame, running=-1)
            else:
                _count(frames, frame, failed=1, running=-1)
        case ev.FanoutDetails(input=branch_input) if kind == "ParallelStateStarted":
            assert frame is not None
            total = _branch_count(event)
            frames[frame.id] = replace(
                frame, waiting=None, last_event_id=event.id,
                fanout=Fanout(kind="parallel", total=total, started=total, running=total,
                              branch_input=branch_input),
            )
            for index in range(total):
                child = Frame(id=child_id(frame.id, index), parent=frame.id, index=index,
                              machine=branch_key(frame.machine, frame.state or "", index),
                              variables=frame.variables, value=branch_input,
                              last_event_id=event.id)
                frames[child.id] = child
        case ev.FanoutDetails():
            # Map/Parallel succeeded or failed. Children stay until the state is left (a
            # redrive reruns only the unsuccessful ones); unfinished branches are aborted.
            assert frame is not None
            if kind == "ParallelStateFailed":
                for child in children(work, frame):
                    if not child.done:
                        frames[child.id] = replace(child, done=True, failed=True, waiting=None)
            frames[frame.id] = replace(frame, last_event_id=event.id)
        case ev.MapRunStartedDetails(map_run_arn=arn):
            assert frame is not None and frame.fanout is not None
            frames[frame.id] = replace(frame, last_event_id=event.id,
                                       fanout=replace(frame.fanout, map_run=arn))
            work.map_runs = {**work.map_runs, arn: MapRun(
                arn=arn, state=frame.state or "", started=event.timestamp,
                total=frame.fanout.total, max_concurrency=details.max_concurrency,
                tolerated_count=details.tolerated_count,
                tolerated_percentage=details.tolerated_percentage)}
        case ev.InputReplacedDetails(input=value):
            assert frame is not None
            frames[frame.id] = replace(frame, value=value)
        case ev.MapRunUpdatedDetails():
            assert frame is not None and frame.fanout is not None
            record = work.map_runs[frame.fanout.map_run]
            work.map_runs = {**work.map_runs, record.arn: replace(
                record,
                max_concurrency=_either(details.max_concurrency, record.max_concurrency),
                tolerated_count=_either(details.tolerated_count, record.tolerated_count),
                tolerated_percentage=_either(details.tolerated_percentage,
                                             record.tolerated_percentage))}
        case ev.MapRunEndedDetails():
            assert frame is not None and frame.fanout is not None
            fan = frame.fanout
            record = work.map_runs[fan.map_run]
            work.map_runs = {**work.map_runs, fan.map_run: replace(
                record, stopped=event.timestamp, total=fan.total, succeeded=fan.succeeded,
                failed=fan.failed,
                status="SUCCEEDED" if kind == "MapRunSucceeded" else "FAILED")}
            frames[frame.id] = replace(frame, last_event_id=event.id)
        case ev.TaskRequestDetails(resource=resource, parameters=parameters, purpose=purpose):
            assert frame is not None
            frames[frame.id] = replace(frame, waiting=Waiting(
                key=f"{frame.id}@v{work.version}", kind="task", purpose=purpose,
                task=TaskCall(resource=resource, parameters=parameters)))
        case ev.ItemsLoadedDetails(items=items):
            assert frame is not None and frame.fanout is not None
            frames[frame.id] = replace(frame, waiting=None, fanout=replace(
                frame.fanout, items=items, total=len(items)))
        case ev.FrameRedrivenDetails():
            assert frame is not None
            _redrive_frame(work, frame)
        case ev.ExecutionRedrivenDetails(redrive_count=count):
            if details.parent_key:
                work.parent_key = details.parent_key
            work.status = "RUNNING"
            work.redrive_count = count
            work.attempt_started = event.timestamp
            work.stop_time = None
            work.error = None
            work.cause = None
        case ev.ExecutionStartedDetails():
            work.input = details.input
            work.role_arn = details.role_arn
            work.seed = details.seed
            work.start_time = event.timestamp
            work.attempt_started = event.timestamp
            work.status = "RUNNING"
            work.map_run_arn = details.map_run_arn
            work.parent_arn = details.parent_arn
            work.parent_key = details.parent_key
            work.sync_version = details.sync_version
            frames.clear()
            frames[""] = Frame(id="", machine=details.machine, value=details.input,
                               last_event_id=event.id)
        case ev.ExecutionSucceededDetails(output=output):
            work.status = "SUCCEEDED"
            work.output = output
            work.stop_time = event.timestamp
            frames.clear()
        case ev.ErrorDetails(error=error, cause=cause):
            if kind in ev.TERMINAL_TYPES:
                # Frames stay: RedriveExecution restarts from them.
                work.status = _TERMINAL_STATUS[kind]
                work.error = error
                work.cause = cause
                work.stop_time = event.timestamp
                for key, stuck in list(frames.items()):
                    if stuck.waiting is not None:
                        frames[key] = replace(stuck, waiting=None)
            elif frame is not None:
                frames[frame.id] = replace(frame, last_event_id=event.id)
        case ev.MessageDetails(message=message) if kind == ev.CALLBACK_HELD:
            assert frame is not None and frame.waiting is not None
            assert isinstance(message, TaskCallback)
            frames[frame.id] = replace(frame, waiting=replace(frame.waiting, held=message))
        case ev.MessageDetails():
            pass
        case None:
            if frame is not None:
                frames[frame.id] = replace(frame, last_event_id=event.id)
        case _:
            raise AssertionError(f"unhandled event {kind}")


def _scheduled(frame: Frame, event: ev.HistoryEvent, resource: str, parameters: JSON,
               timeout: int | None, heartbeat: int | None, *, token: str = "",
               activity: str | None = None, heartbeat_due: float | None = None) -> Frame:
    """The frame once a task (of any kind) is scheduled: it waits for its outcome."""
    return replace(frame, last_event_id=event.id, waiting=Waiting(
        key=f"{frame.id}@{event.id}", kind="task",
        due=event.timestamp + timeout if timeout else None,
        task=TaskCall(resource=resource, parameters=parameters, timeout_seconds=timeout,
                      heartbeat_seconds=heartbeat),
        token=token, activity=activity, heartbeat_due=heartbeat_due,
    ))


def _child_execution(details: ev.TaskResourceDetails | ev.OutcomeDetails) -> str | None:
    """The child a `states:startExecution.sync` task submitted (its response names it)."""
    if isinstance(details, ev.TaskResourceDetails) and details.resource_type == "states" \
            and details.resource.startswith("startExecution.sync"):
        output = details.output
        child = output.get("ExecutionArn") if isinstance(output, dict) else None
        if isinstance(child, str):
            return child
    return None


def _redrive_frame(work: ExecutionState, frame: Frame) -> None:
    frames = work.frames
    fanout = frame.fanout
    if fanout is None:
        frames[frame.id] = replace(frame, done=False, failed=False, error=None, cause=None,
                                   waiting=None)
        return
    restarted = 0
    run = fanout.map_run
    for child in children(work, frame):
        if child.failed or not child.done:
            # A Map Run's iteration waits for its child execution, redriven (AWS redrives
            # the Map Run's failed child executions rather than starting new ones).
            waiting = _awaiting_child(child.id, work.version,
                                      child_execution_arn(run, child.index),
                                      purpose="redrive") if run else None
            frames[child.id] = replace(child, done=False, failed=False, error=None, cause=None,
                                       waiting=waiting)
            restarted += 1
    frames[frame.id] = replace(frame, waiting=None, fanout=replace(
        fanout, failed=0, running=restarted,
        succeeded=fanout.succeeded if fanout.kind == "map" else fanout.total - restarted))


def _bump(counts: tuple[int, ...], index: int) -> tuple[int, ...]:
    padded = counts + (0,) * (index + 1 - len(counts))
    return (*padded[:index], padded[index] + 1, *padded[index + 1:])


def _branch_count(event: ev.HistoryEvent) -> int:
    assert isinstance(event.details, ev.FanoutDetails)
    return event.details.length


_TERMINAL_STATUS: dict[str, Status] = {
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


def _count(frames: dict[str, Frame], frame: Frame, **deltas: int) -> None:
    assert frame.fanout is not None
    last = deltas.pop("last_event_id", frame.last_event_id)
    fanout = frame.fanout
    changed = {key: getattr(fanout, key) + delta for key, delta in deltas.items()}
    frames[frame.id] = replace(frame, fanout=replace(fanout, **changed), last_event_id=last)


def _clear_children(frames: dict[str, Frame], frame: Frame) -> None:
    """Drop a finished Map/Parallel state's child frames (and theirs)."""
    if frame.fanout is None:
        return
    prefix = frame.id + "/"
    for key in [k for k in frames if k.startswith(prefix)]:
        del frames[key]


def children(state: ExecutionState, frame: Frame) -> list[Frame]:
    """The direct child frames of a Map/Parallel frame, by index."""
    assert frame.fanout is not None
    found = []
    for index in range(frame.fanout.total):
        child = state.frames.get(child_id(frame.id, index))
        if child is not None:
            found.append(child)
    return found


def _awaiting_child(frame_id: str, version: int, execution_arn: str, purpose: str = ""
                    ) -> Waiting:
    """A Map Run iteration's frame waits for its child execution's end."""
    return Waiting(key=f"{frame_id}@{version}", kind="child", purpose=purpose,
                   child=execution_arn)


def _either(new: T, old: T) -> T:
    return old if new is None else new
