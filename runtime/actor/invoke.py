"""Running one task invocation (an `InvokeTask` effect), for the single-process runtime and
for cluster workers alike: resolved through a `CallResolver`, with TimeoutSeconds and
HeartbeatSeconds enforced in real time, its outcome a `TaskCompleted` message."""

from __future__ import annotations

import math

import anyio

from integrations._base import TaskCall, TaskError
from integrations.resolve import CallResolver
from runtime.actor.clock import Clock
from runtime.effects import InvokeTask
from runtime.logging import bind_execution_to_task
from runtime.messages import TaskCompleted


async def run_task(resolver: CallResolver, clock: Clock, execution_arn: str,
                   effect: InvokeTask) -> TaskCompleted:
    """Invoke `effect` and return its outcome; a task error or timeout is a failed outcome.

    The call's `idempotency_key` is the same on every delivery of the effect, so a handler
    can recognise a call made again after a worker died mid-call.
    """
    context = effect.context or {}
    started = anyio.current_time()
    timeout_at = started + effect.timeout_seconds if effect.timeout_seconds else math.inf
    heartbeat_s = effect.heartbeat_seconds
    scope = anyio.CancelScope(
        deadline=min(timeout_at, started + heartbeat_s) if heartbeat_s else timeout_at)

    def heartbeat() -> None:
        if heartbeat_s:
            scope.deadline = min(timeout_at, anyio.current_time() + heartbeat_s)

    call = TaskCall(resource=effect.resource, parameters=effect.parameters,
                    execution_arn=execution_arn, state_name=context.get("StateName", ""),
                    retry_count=context.get("RetryCount", 0),
                    idempotency_key=context.get("IdempotencyKey", effect.key),
                    heartbeat=heartbeat, task_token=effect.token)
    # The task's log lines (integrations' included) carry the execution and state.
    bind_execution_to_task(execution_arn, call.state_name)
    try:
        with scope:
            integration = resolver.resolve(effect.resource, effect.parameters)
            if integration is None:
                raise TaskError("States.TaskFailed",
                                f"No task handler serves the resource '{effect.resource}'")
            output = await integration.invoke(call)
            return TaskCompleted(at=clock.now(), key=effect.key, output=output)
    except TaskError as failure:
        return TaskCompleted(at=clock.now(), key=effect.key, failed=True,
                             error=failure.error, cause=failure.cause)
    timed_out = anyio.current_time() >= timeout_at
    return TaskCompleted(at=clock.now(), key=effect.key, failed=True, timed_out=True,
                         error="States.Timeout" if timed_out else "States.HeartbeatTimeout")
