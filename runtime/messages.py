"""Inputs to an execution actor. Each carries `at`, the clock reading the actor stamped it
with: reducers never read a clock, so a replay sees the same times."""

from __future__ import annotations

from typing import Any

import msgspec

JSON = Any


class ParentLink(msgspec.Struct, frozen=True, kw_only=True):
    """The parent execution, and the key its task waits on, that a `.sync` child answers
    when it ends (`sync_version` 1: `.sync`, 2: `.sync:2`)."""

    execution_arn: str
    key: str
    sync_version: int


class StartExecution(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    at: float
    input: JSON
    role_arn: str = ""
    #: Seed of every random draw of the execution, chosen by the actor.
    seed: int = 0
    #: Content id of the definition the execution runs (see runtime/store.py).
    definition_id: str = ""
    #: The mock configuration's test case the execution runs under, if any.
    test_case: str | None = None
    #: A Map Run's child execution: the sub-machine it runs (the Map's ItemProcessor), its
    #: Map Run, and the parent execution and waiting key its end is reported to.
    machine: str = ""
    map_run_arn: str = ""
    parent_arn: str = ""
    parent_key: str = ""
    #: A `states:startExecution.sync` child: 1 (`.sync`) or 2 (`.sync:2`), the shape of the
    #: result its end gives the parent's task.
    sync_version: int = 0


class TaskCompleted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A task effect finished: `output` on success, or `error`/`cause` on failure."""

    at: float
    key: str
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    failed: bool = False
    #: The failure is a timeout (States.Timeout / States.HeartbeatTimeout): TaskTimedOut.
    timed_out: bool = False


class TaskCallback(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """SendTaskSuccess/SendTaskFailure for a callback task (`.waitForTaskToken`, an
    activity, a `.sync` child execution)."""

    at: float
    key: str
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    failed: bool = False


class TaskHeartbeat(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """SendTaskHeartbeat."""

    at: float
    key: str


class ActivityStarted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A worker took the activity task (GetActivityTask)."""

    at: float
    key: str
    worker_name: str | None = None


class TimerFired(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    at: float
    key: str


class StopExecution(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    at: float
    error: str | None = None
    cause: str | None = None


class ChildExecutionEnded(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A Map Run's child execution ended (its status: SUCCEEDED, FAILED, TIMED_OUT,
    ABORTED), told to the parent waiting on `key`."""

    at: float
    key: str
    status: str
    output: JSON = None
    error: str | None = None
    cause: str | None = None


class UpdateMapRun(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """UpdateMapRun for one of the execution's running Map Runs (None: unchanged)."""

    at: float
    map_run_arn: str
    max_concurrency: int | None = None
    tolerated_count: float | None = None
    tolerated_percentage: float | None = None


class RedriveExecution(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Restart a FAILED/TIMED_OUT/ABORTED execution from its unsuccessful states."""

    at: float
    #: A Map Run child redriven with its parent: the parent's new waiting key. (A child that
    #: succeeded meanwhile reports its success to it instead.)
    parent_key: str = ""


Message = (StartExecution | TaskCompleted | TimerFired | StopExecution | RedriveExecution
           | TaskCallback | TaskHeartbeat | ActivityStarted | ChildExecutionEnded
           | UpdateMapRun)
