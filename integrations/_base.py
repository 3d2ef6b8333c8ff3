"""The seam between a Task state and the work it names.

An `Integration` performs one task call. The runtime resolves a Task's `Resource` to an
integration with the `IntegrationSource`s given at construction (an explicit list, no global
registry), so AWS service integrations, nested executions and Python callables plug in the
same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import msgspec

JSON = Any


class TaskCall(msgspec.Struct, frozen=True, kw_only=True):
    """One invocation of a Task state's resource."""

    #: The Task state's `Resource`, as written.
    resource: str
    #: The effective parameters (after InputPath + Parameters, or JSONata Arguments).
    parameters: JSON
    execution_arn: str
    state_name: str
    #: Retries made of this state before this call.
    retry_count: int = 0
    #: Stable across re-issues of the same call after a crash: handlers that must not act
    #: twice (at-least-once delivery) deduplicate on it.
    idempotency_key: str = ""
    #: Call it to report progress when the Task state sets HeartbeatSeconds.
    heartbeat: Callable[[], None] | None = None
    #: The task token of a callback task (`.waitForTaskToken`, `.sync`): `$$.Task.Token`.
    task_token: str | None = None


class TaskError(Exception):
    """A task failed with an error name matched by Retry/Catch, as AWS reports it."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class Integration(Protocol):
    async def invoke(self, call: TaskCall) -> JSON:
        """Perform the call and return its JSON result.

        Raises:
            TaskError: the task failed; `error` is the name Retry/Catch match on.
        """
        ...


class IntegrationSource(Protocol):
    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        """The integration serving `resource` called with `parameters`, or None if this
        source does not serve it."""
        ...
