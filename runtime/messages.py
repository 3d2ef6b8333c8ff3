"""Inputs to an execution actor. Each carries `at`, the clock reading the actor stamped it
with: reducers never read a clock, so a replay sees the same times."""

from __future__ import annotations

from typing import Any

import msgspec

JSON = Any


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


class RedriveExecution(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Restart a FAILED/TIMED_OUT/ABORTED execution from its unsuccessful states."""

    at: float


Message = (StartExecution | TaskCompleted | TimerFired | StopExecution | RedriveExecution
           | TaskCallback | TaskHeartbeat | ActivityStarted)
