"""Rendering history events as AWS `GetExecutionHistory` returns them.

Inputs and outputs are JSON strings in AWS's shape, encoded here (lazily, only when a history
is read); routing fields and internal events are left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from runtime import events as ev

_encode = msgspec.json.encode

# Detail keys that are not `<lowerCamel(type)>EventDetails`.
_SHARED_KEYS: Final = {
    "StateEntered": "stateEnteredEventDetails",
    "StateExited": "stateExitedEventDetails",
}


def details_key(event_type: str) -> str:
    for suffix, key in _SHARED_KEYS.items():
        if event_type.endswith(suffix):
            return key
    return event_type[0].lower() + event_type[1:] + "EventDetails"


def json_text(value: Any) -> str:
    return _encode(value).decode()


def _payload(value: Any) -> tuple[str, dict[str, bool]]:
    return json_text(value), {"truncated": False}


def render_details(event: ev.HistoryEvent, *, include_data: bool = True) -> dict[str, Any] | None:
    d = event.details
    out: dict[str, Any]
    match d:
        case None:
            return None
        case ev.ExecutionStartedDetails():
            out = {"roleArn": d.role_arn}
            if include_data:
                out["input"], out["inputDetails"] = _payload(d.input)
            if d.state_machine_arn:
                out["stateMachineArn"] = d.state_machine_arn
        case ev.ExecutionSucceededDetails():
            out = {}
            if include_data:
                out["output"], out["outputDetails"] = _payload(d.output)
        case ev.ErrorDetails():
            out = {k: v for k, v in (("error", d.error), ("cause", d.cause), ("location",
                   d.location), ("state", d.state)) if v is not None}
        case ev.StateEnteredDetails():
            out = {"name": d.name}
            if include_data:
                out["input"], out["inputDetails"] = _payload(d.input)
        case ev.StateExitedDetails():
            out = {"name": d.name}
            if include_data:
                out["output"], out["outputDetails"] = _payload(d.output)
            if d.assigned_variables:
                out["assignedVariables"] = {k: json_text(v) for k, v in
                                            d.assigned_variables.items()}
                out["assignedVariablesDetails"] = {"truncated": False}
        case ev.TaskScheduledDetails():
            out = {"resourceType": d.resource_type, "resource": d.resource, "region": d.region,
                   "parameters": json_text(d.parameters)}
            _limits(out, d.timeout_in_seconds, d.heartbeat_in_seconds)
        case ev.TaskResourceDetails():
            out = {"resourceType": d.resource_type, "resource": d.resource}
            _outcome(out, d, include_data)
        case ev.ExecutionRedrivenDetails():
            out = {"redriveCount": d.redrive_count}
        case ev.ActivityScheduledDetails():
            out = {"resource": d.resource}
            if include_data:
                out["input"], out["inputDetails"] = _payload(d.input)
            _limits(out, d.timeout_in_seconds, d.heartbeat_in_seconds)
        case ev.LambdaScheduledDetails():
            out = {"resource": d.resource}
            if include_data:
                out["input"], out["inputDetails"] = _payload(d.input)
            _limits(out, d.timeout_in_seconds, d.heartbeat_in_seconds)
        case ev.ActivityStartedDetails():
            out = {"workerName": d.worker_name} if d.worker_name is not None else {}
        case ev.OutcomeDetails():
            out = {}
            _outcome(out, d, include_data)
        case ev.MapStateStartedDetails():
            out = {"length": d.length}
        case ev.MapRunStartedDetails():
            out = {"mapRunArn": d.map_run_arn}
        case ev.MapRunEndedDetails():
            out = {k: v for k, v in (("error", d.error), ("cause", d.cause)) if v is not None}
            if not out:
                return None
        case ev.MapIterationDetails():
            out = {"name": d.name, "index": d.index}
        case (ev.FanoutDetails() | ev.TimerStartedDetails() | ev.MessageDetails()
              | ev.FrameRedrivenDetails() | ev.HeartbeatDetails() | ev.TaskRequestDetails()
              | ev.ItemsLoadedDetails()):
            return None
    return out


def _limits(out: dict[str, Any], timeout: int | None, heartbeat: int | None) -> None:
    if timeout is not None:
        out["timeoutInSeconds"] = timeout
    if heartbeat is not None:
        out["heartbeatInSeconds"] = heartbeat


def _outcome(out: dict[str, Any], d: ev.TaskResourceDetails | ev.OutcomeDetails,
             include_data: bool) -> None:
    if d.has_output and include_data:
        out["output"], out["outputDetails"] = _payload(d.output)
    if d.error is not None:
        out["error"] = d.error
    if d.cause is not None:
        out["cause"] = d.cause


def render_event(event: ev.HistoryEvent, *, include_data: bool = True) -> dict[str, Any]:
    """One event in AWS's `HistoryEvent` shape (timestamp as an aware datetime)."""
    out: dict[str, Any] = {
        "timestamp": datetime.fromtimestamp(event.timestamp, tz=UTC),
        "type": event.type,
        "id": event.id,
        "previousEventId": event.previous_event_id,
    }
    details = render_details(event, include_data=include_data)
    if details is not None:
        out[details_key(event.type)] = details
    return out


def render_history(events: list[ev.HistoryEvent], *, include_data: bool = True
                   ) -> list[dict[str, Any]]:
    """The execution's history as GetExecutionHistory returns it (no internal events)."""
    return [render_event(e, include_data=include_data) for e in events
            if e.type not in ev.INTERNAL_TYPES]
