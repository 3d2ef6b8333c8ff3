"""Outputs of a reducer: descriptions of work for the actor shell, never the work itself.

Every effect carries the key of the waiting that asked for it; a result arriving for a key the
execution no longer waits on (a cancelled branch, a timed-out task) is ignored, which makes
re-issuing effects after a crash safe.
"""

from __future__ import annotations

from typing import Any

import msgspec

from runtime.messages import Message, StartExecution

JSON = Any


class InvokeTask(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    key: str
    resource: str
    parameters: JSON
    #: Context given to the task handler (execution ARN, state name, attempt, ...).
    context: JSON = None
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None
    #: The task token of a callback task (`$$.Task.Token`).
    token: str | None = None


class OfferActivityTask(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Make an activity task available to workers polling GetActivityTask."""

    key: str
    activity_arn: str
    input: JSON
    token: str


class WatchExecution(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Report a `.sync` child execution's end to the task waiting on it."""

    key: str
    execution_arn: str
    token: str
    #: `.sync:2`: Input/Output as JSON values rather than strings.
    json_values: bool = False


class StartChildExecution(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Start a Map Run's child execution (one iteration of a Distributed Map), running the
    parent's definition from sub-machine `machine`; its end comes back to the parent as a
    `ChildExecutionEnded` for `key`. Starting one that exists already starts nothing (and
    reports its end again if it has ended: the parent may have missed it in a crash)."""

    key: str
    execution_arn: str
    state_machine_arn: str
    input: JSON
    machine: str
    map_run_arn: str
    parent_arn: str
    #: The parent's redrive: redrive the child if it ended unsuccessfully.
    redrive: bool = False

    def start_message(self, *, at: float, role_arn: str, definition_id: str, seed: int
                      ) -> StartExecution:
        """The child's StartExecution: the parent's definition (`definition_id`) run from
        the child's sub-machine, answering the parent's waiting key when it ends."""
        return StartExecution(
            at=at, input=self.input, role_arn=role_arn, seed=seed, definition_id=definition_id,
            machine=self.machine, map_run_arn=self.map_run_arn, parent_arn=self.parent_arn,
            parent_key=self.key)


class Deliver(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Tell another execution `message` (a child its stop or redrive, a parent a child's
    end). Delivered also when the sending execution has just ended."""

    key: str
    execution_arn: str
    message: Message


class StartTimer(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    key: str
    #: Epoch seconds.
    due: float


Effect = (InvokeTask | StartTimer | OfferActivityTask | WatchExecution | StartChildExecution
          | Deliver)
