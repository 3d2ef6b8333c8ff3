"""Task: schedule an effect, then turn its outcome (or a timeout) into the state's output or
into Retry/Catch."""

from __future__ import annotations

from runtime import errors
from runtime import events as ev
from runtime.dataflow.scope import JSON
from runtime.errors import StatesError
from runtime.program import TaskNode
from runtime.reducers.recovery import handle_error
from runtime.reducers.turn import Turn, effects_for

DEFAULT_REGION = "us-east-1"


def resource_parts(resource: str) -> tuple[str, str, str]:
    """(resourceType, resource, region) as AWS's TaskScheduled event reports them:
    `arn:aws:states:::lambda:invoke` -> ("lambda", "invoke"); a function or activity ARN ->
    its service and the ARN itself."""
    parts = resource.split(":", 6)
    if len(parts) >= 6 and parts[2] == "states" and parts[3] == "" and parts[4] == "":
        service, _, action = parts[5].partition(":")
        if len(parts) == 7:
            action = f"{action}:{parts[6]}" if action else parts[6]
        return service, action, DEFAULT_REGION
    if len(parts) >= 4:
        return parts[2], resource, parts[3] or DEFAULT_REGION
    return "stepline", resource, DEFAULT_REGION


def run_task(turn: Turn, frame_id: str, node: TaskNode) -> None:
    """Schedule the task (also on every retry)."""
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    try:
        parameters = node.effective_input(scope)
        timeout = node.timeout_seconds(scope) if node.timeout_seconds is not None else None
        heartbeat = node.heartbeat_seconds(scope) if node.heartbeat_seconds is not None else None
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    resource_type, resource, region = resource_parts(node.resource)
    turn.emit("TaskScheduled", frame_id, ev.TaskScheduledDetails(
        resource_type=resource_type, resource=resource, region=region, parameters=parameters,
        timeout_in_seconds=int(timeout) if timeout is not None else None,
        heartbeat_in_seconds=int(heartbeat) if heartbeat is not None else None,
        resource_arn=node.resource,
    ))
    turn.emit("TaskStarted", frame_id, ev.TaskResourceDetails(
        resource_type=resource_type, resource=resource))
    frame = turn.frame(frame_id)
    assert frame.waiting is not None
    turn.effects.extend(effects_for(turn.work, frame, frame.waiting))


def task_succeeded(turn: Turn, frame_id: str, node: TaskNode, result: JSON) -> None:
    resource_type, resource, _ = resource_parts(node.resource)
    turn.emit("TaskSucceeded", frame_id, ev.TaskResourceDetails(
        resource_type=resource_type, resource=resource, output=result, has_output=True))
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    try:
        output = node.output(scope, result)
        assigned = node.assign(scope, result)
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.exit_state(frame_id, node, output, assigned, node.next)


def task_failed(turn: Turn, frame_id: str, node: TaskNode, error: str | None,
                cause: str | None, *, timed_out: bool = False) -> None:
    resource_type, resource, _ = resource_parts(node.resource)
    error = error or errors.TASK_FAILED
    turn.emit("TaskTimedOut" if timed_out else "TaskFailed", frame_id, ev.TaskResourceDetails(
        resource_type=resource_type, resource=resource, error=error, cause=cause))
    handle_error(turn, frame_id, node, error, cause)
