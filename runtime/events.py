"""History events, named as AWS `HistoryEventType` and shaped like `GetExecutionHistory`.

One `HistoryEvent` struct carries the AWS envelope (id, previousEventId, timestamp, type) and a
tagged details struct. The event `type` is exactly AWS's (PassStateEntered, TaskScheduled, ...);
the details struct is shared by the types AWS gives the same details shape. Fields AWS does not
have (the frame a branch event belongs to, Map items, timer due times) are routing data for
`state.apply`; `history.render` leaves them out, so histories diff cleanly against AWS's.

Internal events (`INTERNAL_TYPES`) have id 0 and never appear in a rendered history: they
record what AWS keeps to itself. `MessageReceived` opens every turn with the message that
caused it (so a replay can re-run the reducers on the recorded inputs and compare), and
`TimerStarted` records a retry or Wait timer.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from runtime.messages import Message

JSON = Any


class _Details(msgspec.Struct, frozen=True, kw_only=True, tag=True, omit_defaults=True,
               gc=False):
    """Events never form reference cycles, so the cyclic collector need not track them: a
    long history would otherwise make every collection walk it (about 30% of throughput)."""


class ExecutionStartedDetails(_Details, frozen=True):
    input: JSON
    role_arn: str
    #: Seed of every random draw in the execution (MathRandom, UUID): replays draw the same.
    seed: int
    state_machine_arn: str = ""
    #: Routing: content id of the definition (resume compiles it again).
    definition_id: str = ""
    #: Routing: the mock test case (resume binds it again).
    test_case: str | None = None
    #: Routing: the sub-machine the execution runs ("" the whole definition; a Distributed
    #: Map's child execution runs its ItemProcessor).
    machine: str = ""
    #: Routing: a Map Run's child execution: its Map Run, and the parent execution and
    #: waiting key its end is reported to.
    map_run_arn: str = ""
    parent_arn: str = ""
    parent_key: str = ""
    #: Routing: a `.sync` child: the result shape its end gives the parent (see messages).
    sync_version: int = 0


class ExecutionSucceededDetails(_Details, frozen=True):
    output: JSON


class ErrorDetails(_Details, frozen=True):
    """ExecutionFailed/Aborted/TimedOut, EvaluationFailed and friends."""

    error: str | None = None
    cause: str | None = None
    #: EvaluationFailed only.
    state: str | None = None
    location: str | None = None


class StateEnteredDetails(_Details, frozen=True):
    name: str
    input: JSON


class StateExitedDetails(_Details, frozen=True):
    name: str
    output: JSON
    assigned_variables: dict[str, JSON] | None = None
    #: Routing: this state ended its (sub)machine.
    end: bool = False


class TaskScheduledDetails(_Details, frozen=True):
    resource_type: str
    resource: str
    region: str
    parameters: JSON
    timeout_in_seconds: int | None = None
    heartbeat_in_seconds: int | None = None
    #: Routing: the Task state's `Resource` as written, which the effect runner resolves.
    resource_arn: str = ""
    #: Routing: the task token of a callback (`.waitForTaskToken`, `.sync`) task.
    token: str = ""


class ActivityScheduledDetails(_Details, frozen=True):
    resource: str
    input: JSON
    timeout_in_seconds: int | None = None
    heartbeat_in_seconds: int | None = None
    #: Routing: the task token workers answer with.
    token: str = ""


class LambdaScheduledDetails(_Details, frozen=True):
    """LambdaFunctionScheduled: a Task whose Resource is a bare Lambda function ARN."""

    resource: str
    input: JSON
    timeout_in_seconds: int | None = None
    heartbeat_in_seconds: int | None = None


class ActivityStartedDetails(_Details, frozen=True):
    worker_name: str | None = None


class OutcomeDetails(_Details, frozen=True):
    """Activity/LambdaFunction Succeeded, Failed, TimedOut."""

    output: JSON = None
    has_output: bool = False
    error: str | None = None
    cause: str | None = None


class HeartbeatDetails(_Details, frozen=True):
    """Internal: a worker reported progress; the heartbeat timeout moves to `due`."""

    due: float


class TaskResourceDetails(_Details, frozen=True):
    """TaskStarted, TaskSucceeded, TaskSubmitted, TaskFailed, TaskTimedOut."""

    resource_type: str
    resource: str
    output: JSON = None
    has_output: bool = False
    error: str | None = None
    cause: str | None = None


class MapStateStartedDetails(_Details, frozen=True):
    length: int
    #: Routing: the items iterations run on (after ItemsPath/Items).
    items: list[JSON] = msgspec.field(default_factory=list)


class MapIterationDetails(_Details, frozen=True):
    name: str
    index: int
    #: Routing: a failed iteration's error, which the Map state fails with.
    error: str | None = None
    cause: str | None = None


class ChildStartedDetails(_Details, frozen=True):
    """A Map Run iteration's child execution was asked for."""

    index: int
    execution_arn: str
    input: JSON


class ChildEndedDetails(_Details, frozen=True):
    """A Map Run iteration's child execution ended (or was aborted with its Map: ABORTED)."""

    index: int
    status: str
    output: JSON = None
    error: str | None = None
    cause: str | None = None


class InputReplacedDetails(_Details, frozen=True):
    """The frame's current state goes on with `input` instead of the one it was given."""

    input: JSON


class MapRunStartedDetails(_Details, frozen=True):
    map_run_arn: str
    #: Routing: the Map Run's limits as it started (None: a tolerance not set).
    max_concurrency: int = 0
    tolerated_count: float | None = None
    tolerated_percentage: float | None = None


class MapRunUpdatedDetails(_Details, frozen=True):
    """UpdateMapRun: the limits it changed (None: unchanged)."""

    max_concurrency: int | None = None
    tolerated_count: float | None = None
    tolerated_percentage: float | None = None


class MapRunEndedDetails(_Details, frozen=True):
    """MapRunSucceeded, MapRunFailed."""

    error: str | None = None
    cause: str | None = None


class TaskRequestDetails(_Details, frozen=True):
    """Internal: the runtime calls a resource for a state's own needs (a Distributed Map's
    ItemReader or ResultWriter), outside the history AWS shows."""

    resource: str
    parameters: JSON
    purpose: str


class ItemsLoadedDetails(_Details, frozen=True):
    """Internal: the items a Distributed Map's ItemReader produced."""

    items: list[JSON]


class FanoutDetails(_Details, frozen=True):
    """ParallelStateStarted (with the branch input) and the bare Map/Parallel outcome events."""

    input: JSON = None
    #: ParallelStateStarted: the number of branches.
    length: int = 0
    error: str | None = None
    cause: str | None = None


class MessageDetails(_Details, frozen=True):
    """Internal: the message a turn decided (MessageReceived), or a callback held for later
    (CallbackHeld)."""

    message: Message
    #: Activities the turn found missing (so a replay decides it the same way).
    unknown_activities: tuple[str, ...] = ()


class ExecutionRedrivenDetails(_Details, frozen=True):
    redrive_count: int
    #: Routing: a Map Run child redriven by its parent's redrive reports its end to this key.
    parent_key: str = ""


class FrameRedrivenDetails(_Details, frozen=True):
    """Internal: this frame's unsuccessful work starts again (RedriveExecution): a frame
    between states re-enters its state; a Map/Parallel frame restarts its failed, aborted
    and unfinished children."""


class TimerStartedDetails(_Details, frozen=True):
    """Internal: a Wait state, or a retry interval, waits until `due` (epoch seconds)."""

    due: float
    purpose: str


Details = (
    ExecutionStartedDetails
    | ExecutionSucceededDetails
    | ErrorDetails
    | StateEnteredDetails
    | StateExitedDetails
    | TaskScheduledDetails
    | TaskResourceDetails
    | MapStateStartedDetails
    | MapIterationDetails
    | FanoutDetails
    | TimerStartedDetails
    | MessageDetails
    | ExecutionRedrivenDetails
    | FrameRedrivenDetails
    | ActivityScheduledDetails
    | LambdaScheduledDetails
    | ActivityStartedDetails
    | OutcomeDetails
    | HeartbeatDetails
    | MapRunStartedDetails
    | MapRunEndedDetails
    | ChildStartedDetails
    | ChildEndedDetails
    | MapRunUpdatedDetails
    | InputReplacedDetails
    | TaskRequestDetails
    | ItemsLoadedDetails
)


class HistoryEvent(msgspec.Struct, frozen=True, kw_only=True, array_like=True, gc=False):
    #: AWS event id, 1-based and dense over the non-internal events; 0 for internal events.
    id: int
    previous_event_id: int
    #: Epoch seconds, from the clock message that caused the event.
    timestamp: float
    type: str
    details: Details | None = None
    #: Routing: the frame (root, Parallel branch or Map iteration) this event belongs to.
    frame: str = ""


MESSAGE_RECEIVED: Final = "MessageReceived"
FRAME_REDRIVEN: Final = "FrameRedriven"
HEARTBEAT_RECORDED: Final = "HeartbeatRecorded"
TASK_REQUESTED: Final = "TaskRequested"
ITEMS_LOADED: Final = "ItemsLoaded"
#: A Distributed Map's iteration started as a child execution, or ended (AWS records these
#: only in the child executions themselves).
CHILD_STARTED: Final = "ChildExecutionStarted"
CHILD_ENDED: Final = "ChildExecutionEnded"
MAP_RUN_UPDATED: Final = "MapRunUpdated"
#: A `.sync` child answered before its start did (workers ran it meanwhile): the answer is
#: kept until the start's TaskSubmitted, as AWS's history always orders them.
CALLBACK_HELD: Final = "CallbackHeld"
#: A fork given another input for the state it starts in (see `timetravel.replaced_input`).
INPUT_REPLACED: Final = "StateInputReplaced"
INTERNAL_TYPES: Final = frozenset({"TimerStarted", MESSAGE_RECEIVED, FRAME_REDRIVEN,
                                   HEARTBEAT_RECORDED, TASK_REQUESTED, ITEMS_LOADED,
                                   CHILD_STARTED, CHILD_ENDED, MAP_RUN_UPDATED,
                                   CALLBACK_HELD, INPUT_REPLACED})

TERMINAL_TYPES: Final = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
)

EVENT_CODEC: Final = msgspec.msgpack.Encoder()
EVENT_DECODER: Final = msgspec.msgpack.Decoder(HistoryEvent)
