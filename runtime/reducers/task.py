"""Task: schedule an effect, then turn its outcome (or a timeout) into the state's output or
into Retry/Catch.

Three integration patterns, as AWS defines them: request-response (the integration's answer is
the result), callback (`.waitForTaskToken` and `.sync`: the answer only submits the task, the
result comes with SendTaskSuccess/SendTaskFailure or the child execution's end), and activities
(workers poll for the task and answer with its token).
"""

from __future__ import annotations

from runtime import errors
from runtime import events as ev
from runtime.dataflow.scope import JSON
from runtime.effects import StartTimer, WatchExecution
from runtime.errors import StatesError
from runtime.program import TaskNode, is_activity_arn
from runtime.reducers.recovery import handle_error
from runtime.reducers.turn import HEARTBEAT_SUFFIX, Turn, effects_for, too_large
from runtime.state import Waiting
from runtime.sync_results import START_EXECUTION
from runtime.tokens import make_token

DEFAULT_REGION = "us-east-1"
CALLBACK_SUFFIXES = (".waitForTaskToken", ".sync", ".sync:2")


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


def is_callback(resource: str) -> bool:
    return resource.endswith(CALLBACK_SUFFIXES)


def is_lambda_function(resource: str) -> bool:
    """A bare function ARN: AWS records LambdaFunction* events instead of Task* ones."""
    parts = resource.split(":")
    return len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function"


def _family(node: TaskNode, waiting: Waiting) -> str:
    if waiting.activity is not None:
        return "Activity"
    return "LambdaFunction" if is_lambda_function(node.resource) else "Task"


def run_task(turn: Turn, frame_id: str, node: TaskNode) -> None:
    """Schedule the task (also on every retry)."""
    frame = turn.frame(frame_id)
    activity = is_activity_arn(node.resource)
    # The token names the waiting the scheduling event is about to open (its id is next).
    token = make_token(turn.work.execution_arn, f"{frame_id}@{turn.work.last_event_id + 1}") \
        if activity or is_callback(node.resource) else ""
    scope = turn.scope(frame, task_token=token or None)
    try:
        parameters = node.effective_input(scope)
        timeout = node.timeout_seconds(scope) if node.timeout_seconds is not None else None
        heartbeat = node.heartbeat_seconds(scope) if node.heartbeat_seconds is not None else None
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    timeout_s = int(timeout) if timeout is not None else None
    heartbeat_s = int(heartbeat) if heartbeat is not None else None
    if activity and not turn.activity_exists(node.resource):
        # AWS: no ActivityScheduled; the execution fails (States.Runtime).
        turn.fail_state(frame_id, node, StatesError(
            errors.RUNTIME, f"The activity {node.resource} does not exist."))
        return
    if activity:
        turn.emit("ActivityScheduled", frame_id, ev.ActivityScheduledDetails(
            resource=node.resource, input=parameters, timeout_in_seconds=timeout_s,
            heartbeat_in_seconds=heartbeat_s, token=token))
    elif is_lambda_function(node.resource):
        turn.emit("LambdaFunctionScheduled", frame_id, ev.LambdaScheduledDetails(
            resource=node.resource, input=parameters, timeout_in_seconds=timeout_s,
            heartbeat_in_seconds=heartbeat_s))
        turn.emit("LambdaFunctionStarted", frame_id)
    else:
        resource_type, resource, region = resource_parts(node.resource)
        turn.emit("TaskScheduled", frame_id, ev.TaskScheduledDetails(
            resource_type=resource_type, resource=resource, region=region,
            parameters=parameters, timeout_in_seconds=timeout_s,
            heartbeat_in_seconds=heartbeat_s, resource_arn=node.resource, token=token))
        turn.emit("TaskStarted", frame_id, ev.TaskResourceDetails(
            resource_type=resource_type, resource=resource))
    waiting = turn.frame(frame_id).waiting
    assert waiting is not None
    turn.effects.extend(effects_for(turn.work, turn.frame(frame_id), waiting))


def task_answered(turn: Turn, frame_id: str, node: TaskNode, waiting: Waiting, result: JSON
                  ) -> None:
    """The integration answered: the result, or (callback tasks) the submission."""
    if waiting.callback:
        resource_type, resource, _ = resource_parts(node.resource)
        turn.emit("TaskSubmitted", frame_id, ev.TaskResourceDetails(
            resource_type=resource_type, resource=resource, output=result, has_output=True))
        submitted = turn.frame(frame_id).waiting
        assert submitted is not None
        held = submitted.held
        if held is not None and held.failed:
            task_failed(turn, frame_id, node, submitted, held.error, held.cause)
        elif held is not None:
            task_succeeded(turn, frame_id, node, submitted, held.output)
        else:
            turn.effects.extend(e for e in effects_for(turn.work, turn.frame(frame_id), submitted)
                                if isinstance(e, WatchExecution))
        return
    task_succeeded(turn, frame_id, node, waiting, result)


def answers_early(node: TaskNode, waiting: Waiting) -> bool:
    """A `.sync` task's child answered before the start call did: on the cluster another
    worker may run the child to its end before the start's own answer is delivered."""
    return not waiting.submitted and waiting.activity is None \
        and node.resource.startswith(START_EXECUTION) and ".sync" in node.resource


def task_succeeded(turn: Turn, frame_id: str, node: TaskNode, waiting: Waiting, result: JSON
                   ) -> None:
    if too_large(result):
        # AWS fails the task itself (a catchable TaskFailed), naming the integration
        # ('lambda') or the resource ARN (conformance: error_handling/test_states_errors).
        resource_type, _, _ = resource_parts(node.resource)
        label = node.resource if _family(node, waiting) != "Task" else resource_type
        task_failed(turn, frame_id, node, waiting, errors.DATA_LIMIT_EXCEEDED,
                    f"The state/task '{label}' returned a result with a size exceeding the "
                    "maximum number of bytes service limit.")
        return
    family = _family(node, waiting)
    if family != "Task":
        turn.emit(f"{family}Succeeded", frame_id, ev.OutcomeDetails(
            output=result, has_output=True))
    else:
        resource_type, resource, _ = resource_parts(node.resource)
        turn.emit("TaskSucceeded", frame_id, ev.TaskResourceDetails(
            resource_type=resource_type, resource=resource, output=result, has_output=True))
    turn.complete_state(frame_id, node, result)


def task_failed(turn: Turn, frame_id: str, node: TaskNode, waiting: Waiting, error: str | None,
                cause: str | None, *, timed_out: bool = False) -> None:
    error = error or errors.TASK_FAILED
    family = _family(node, waiting)
    if family != "Task":
        turn.emit(f"{family}TimedOut" if timed_out else f"{family}Failed", frame_id,
                  ev.OutcomeDetails(error=error, cause=cause))
    else:
        resource_type, resource, _ = resource_parts(node.resource)
        turn.emit("TaskTimedOut" if timed_out else "TaskFailed", frame_id,
                  ev.TaskResourceDetails(resource_type=resource_type, resource=resource,
                                         error=error, cause=cause))
    handle_error(turn, frame_id, node, error, cause)


def heartbeat(turn: Turn, frame_id: str, waiting: Waiting) -> None:
    """SendTaskHeartbeat: the heartbeat timeout starts again."""
    seconds = waiting.task.heartbeat_seconds if waiting.task is not None else None
    if not seconds:
        return
    turn.emit(ev.HEARTBEAT_RECORDED, frame_id, ev.HeartbeatDetails(due=turn.at + seconds))
    renewed = turn.frame(frame_id).waiting
    assert renewed is not None
    turn.effects.extend(_heartbeat_timers(turn, frame_id, renewed))


def activity_started(turn: Turn, frame_id: str, worker_name: str | None) -> None:
    turn.emit("ActivityStarted", frame_id, ev.ActivityStartedDetails(worker_name=worker_name))
    started = turn.frame(frame_id).waiting
    assert started is not None
    turn.effects.extend(_heartbeat_timers(turn, frame_id, started))


def _heartbeat_timers(turn: Turn, frame_id: str, waiting: Waiting) -> list[StartTimer]:
    return [e for e in effects_for(turn.work, turn.frame(frame_id), waiting)
            if isinstance(e, StartTimer) and e.key.endswith(HEARTBEAT_SUFFIX)]

