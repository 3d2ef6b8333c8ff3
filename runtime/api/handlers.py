"""One handler per operation: request JSON -> `StepFunctions` call -> response JSON.

Timestamps go out as epoch seconds (JSON numbers), as the JSON protocol encodes them; `None`
values are dropped by the encoder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import msgspec

from runtime.api import arns
from runtime.api.service import Origin, StepFunctions
from runtime.catalog import Alias, Route, StateMachine
from runtime.engine import Execution
from runtime.errors import AslError
from runtime.logging import execution_log_config
from runtime.teststate_wire import request_from_body

Body = dict[str, Any]
Handler = Callable[[StepFunctions, Body], Awaitable[Body]]
_DEFAULT_LOGGING: Final = {"level": "OFF", "includeExecutionData": False}
_DEFAULT_TRACING: Final = {"enabled": False}
_EXECUTION_STATUSES: Final = frozenset(
    {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"})


def _required(body: Body, key: str) -> Any:
    value = body.get(key)
    if value is None:
        raise AslError("ValidationException",
                       f"1 validation error detected: Value null at '{key}' failed to satisfy "
                       f"constraint: Member must not be null")
    return value


def _string(body: Body, key: str) -> str:
    value = _required(body, key)
    if not isinstance(value, str):
        raise AslError("SerializationException", f"'{key}' must be a string")
    return value


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _tags(items: Any) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value", "")) for t in items or ()
            if isinstance(t, dict)}


def _routes(items: Any) -> list[Route]:
    return [Route(version_arn=str(r.get("stateMachineVersionArn", "")),
                  weight=int(r.get("weight", 0))) for r in items or () if isinstance(r, dict)]


def _machine(machine: StateMachine) -> Body:
    return {
        "stateMachineArn": machine.arn, "name": machine.name, "status": machine.status,
        "definition": machine.definition, "roleArn": machine.role_arn, "type": machine.type,
        "creationDate": machine.created, "revisionId": machine.revision_id,
        "description": machine.description,
        "loggingConfiguration": machine.logging_configuration or _DEFAULT_LOGGING,
        "tracingConfiguration": machine.tracing_configuration or _DEFAULT_TRACING,
    }


def _execution_item(execution: Execution, origin: Origin) -> Body:
    version = origin.machine.arn if origin.machine.version is not None else None
    return {
        "executionArn": execution.execution_arn,
        "stateMachineArn": arns.unqualified(execution.state_machine_arn),
        "name": execution.name, "status": execution.status,
        "startDate": execution.start_date, "stopDate": execution.stop_date,
        "stateMachineVersionArn": version, "stateMachineAliasArn": origin.alias_arn,
        "redriveCount": execution.redrive_count, "redriveDate": execution.redrive_date,
        "mapRunArn": execution.map_run_arn or None,
    }


_REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")


def _alias(alias: Alias) -> Body:
    return {
        "stateMachineAliasArn": alias.arn, "name": alias.name,
        "description": alias.description,
        "routingConfiguration": [{"stateMachineVersionArn": r.version_arn, "weight": r.weight}
                                 for r in alias.routes],
        "creationDate": alias.created, "updateDate": alias.updated,
    }


# -- state machines ------------------------------------------------------------------------


def _logging(body: Body) -> Any:
    """loggingConfiguration, checked as AWS checks it (the level must be one AWS has)."""
    configuration = body.get("loggingConfiguration")
    if configuration is not None:
        level = configuration.get("level") if isinstance(configuration, dict) else None
        try:
            execution_log_config(configuration if isinstance(configuration, dict) else None)
        except ValueError:
            raise AslError(
                "ValidationException",
                f"1 validation error detected: Value '{level}' at 'loggingConfiguration.level' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                "[ALL, ERROR, FATAL, OFF]") from None
    return configuration


async def create_state_machine(api: StepFunctions, body: Body) -> Body:
    machine, version = await api.create_state_machine(
        _string(body, "name"), _string(body, "definition"), role_arn=_string(body, "roleArn"),
        type=body.get("type") or "STANDARD", logging=_logging(body),
        tracing=body.get("tracingConfiguration"), tags=_tags(body.get("tags")),
        publish=bool(body.get("publish")), version_description=body.get("versionDescription"))
    return {"stateMachineArn": machine.arn, "creationDate": machine.created,
            "stateMachineVersionArn": version.arn if version else None}


async def describe_state_machine(api: StepFunctions, body: Body) -> Body:
    return _machine(await api.describe_state_machine(_string(body, "stateMachineArn")))


async def update_state_machine(api: StepFunctions, body: Body) -> Body:
    machine, version = await api.update_state_machine(
        _string(body, "stateMachineArn"), definition=body.get("definition"),
        role_arn=body.get("roleArn"), logging=_logging(body),
        tracing=body.get("tracingConfiguration"), publish=bool(body.get("publish")),
        version_description=body.get("versionDescription"))
    return {"updateDate": machine.updated, "revisionId": machine.revision_id,
            "stateMachineVersionArn": version.arn if version else None}


async def delete_state_machine(api: StepFunctions, body: Body) -> Body:
    await api.delete_state_machine(_string(body, "stateMachineArn"))
    return {}


async def list_state_machines(api: StepFunctions, body: Body) -> Body:
    page = await api.list_state_machines(body.get("maxResults"), body.get("nextToken"))
    return {"stateMachines": [{"stateMachineArn": m.arn, "name": m.name, "type": m.type,
                               "creationDate": m.created} for m in page.items],
            "nextToken": page.next_token}


async def validate_state_machine_definition(api: StepFunctions, body: Body) -> Body:
    found = api.validate(_string(body, "definition"), type=body.get("type") or "STANDARD")
    if body.get("severity") == "ERROR":
        found = [d for d in found if d.severity == "ERROR"]
    limit = body.get("maxResults") or 100
    shown = found[:limit]
    return {
        "result": "FAIL" if any(d.severity == "ERROR" for d in found) else "OK",
        "diagnostics": [{"severity": d.severity, "code": d.code, "message": d.message,
                         "location": d.location} for d in shown],
        "truncated": len(found) > len(shown),
    }


# -- versions and aliases ------------------------------------------------------------------


async def publish_state_machine_version(api: StepFunctions, body: Body) -> Body:
    version = await api.publish_version(_string(body, "stateMachineArn"),
                                        revision_id=body.get("revisionId"),
                                        description=body.get("description"))
    return {"creationDate": version.created, "stateMachineVersionArn": version.arn}


async def list_state_machine_versions(api: StepFunctions, body: Body) -> Body:
    page = await api.list_versions(_string(body, "stateMachineArn"), body.get("maxResults"),
                                   body.get("nextToken"))
    return {"stateMachineVersions": [{"stateMachineVersionArn": v.arn,
                                      "creationDate": v.created} for v in page.items],
            "nextToken": page.next_token}


async def delete_state_machine_version(api: StepFunctions, body: Body) -> Body:
    await api.delete_version(_string(body, "stateMachineVersionArn"))
    return {}


async def create_state_machine_alias(api: StepFunctions, body: Body) -> Body:
    alias = await api.create_alias(_string(body, "name"),
                                   _routes(_required(body, "routingConfiguration")),
                                   description=body.get("description"))
    return {"stateMachineAliasArn": alias.arn, "creationDate": alias.created}


async def describe_state_machine_alias(api: StepFunctions, body: Body) -> Body:
    return _alias(await api.alias(_string(body, "stateMachineAliasArn")))


async def update_state_machine_alias(api: StepFunctions, body: Body) -> Body:
    routes = body.get("routingConfiguration")
    alias = await api.update_alias(_string(body, "stateMachineAliasArn"),
                                   routes=_routes(routes) if routes is not None else None,
                                   description=body.get("description"))
    return {"updateDate": alias.updated}


async def delete_state_machine_alias(api: StepFunctions, body: Body) -> Body:
    await api.delete_alias(_string(body, "stateMachineAliasArn"))
    return {}


async def list_state_machine_aliases(api: StepFunctions, body: Body) -> Body:
    page = await api.list_aliases(_string(body, "stateMachineArn"), body.get("maxResults"),
                                  body.get("nextToken"))
    return {"stateMachineAliases": [{"stateMachineAliasArn": a.arn,
                                     "creationDate": a.created} for a in page.items],
            "nextToken": page.next_token}


# -- tags ----------------------------------------------------------------------------------


async def tag_resource(api: StepFunctions, body: Body) -> Body:
    api.tag(_string(body, "resourceArn"), _tags(_required(body, "tags")))
    return {}


async def untag_resource(api: StepFunctions, body: Body) -> Body:
    api.untag(_string(body, "resourceArn"), [str(k) for k in _required(body, "tagKeys")])
    return {}


async def list_tags_for_resource(api: StepFunctions, body: Body) -> Body:
    tags = api.tags(_string(body, "resourceArn"))
    return {"tags": [{"key": k, "value": v} for k, v in tags.items()]}


# -- executions ----------------------------------------------------------------------------


async def start_execution(api: StepFunctions, body: Body) -> Body:
    execution = await api.start_execution(_string(body, "stateMachineArn"),
                                          input_json=body.get("input"), name=body.get("name"))
    return {"executionArn": execution.execution_arn, "startDate": execution.start_date}


async def describe_execution(api: StepFunctions, body: Body) -> Body:
    execution, origin = await api.describe_execution(_string(body, "executionArn"))
    out = _execution_item(execution, origin)
    out["input"] = _json(execution.input)
    out["inputDetails"] = {"included": True}
    if execution.status == "SUCCEEDED":
        out["output"] = _json(execution.output)
        out["outputDetails"] = {"included": True}
    out["error"] = execution.error
    out["cause"] = execution.cause
    if execution.status in _REDRIVABLE:
        out["redriveStatus"] = "REDRIVABLE"
    else:
        out["redriveStatus"] = "NOT_REDRIVABLE"
        out["redriveStatusReason"] = f"Execution is {execution.status}"
    return out


async def stop_execution(api: StepFunctions, body: Body) -> Body:
    execution = await api.stop_execution(_string(body, "executionArn"),
                                         error=body.get("error"), cause=body.get("cause"))
    return {"stopDate": execution.stop_date}


async def redrive_execution(api: StepFunctions, body: Body) -> Body:
    execution = await api.redrive_execution(_string(body, "executionArn"))
    return {"redriveDate": execution.redrive_date}


async def start_sync_execution(api: StepFunctions, body: Body) -> Body:
    """StartSyncExecution (EXPRESS): runs the execution to its end within the request."""
    machine_arn = _string(body, "stateMachineArn")
    if (await api.describe_state_machine(machine_arn)).type != "EXPRESS":
        raise AslError("StateMachineTypeNotSupported",
                       "This operation is not supported by this type of state machine")
    started = await api.start_execution(machine_arn, input_json=body.get("input"),
                                        name=body.get("name"))
    done = await api.wait(started.execution_arn)
    out: Body = {
        "executionArn": done.execution_arn, "stateMachineArn": done.state_machine_arn,
        "name": done.name, "startDate": done.start_date, "stopDate": done.stop_date,
        "status": done.status, "input": _json(done.input), "inputDetails": {"included": True},
        "billingDetails": {"billedMemoryUsedInMB": 64,
                           "billedDurationInMilliseconds":
                           int(((done.stop_date or done.start_date) - done.start_date) * 1000)},
    }
    if done.status == "SUCCEEDED":
        out["output"] = _json(done.output)
        out["outputDetails"] = {"included": True}
    else:
        out["error"] = done.error
        out["cause"] = done.cause
    return out


async def list_map_runs(api: StepFunctions, body: Body) -> Body:
    """The Map Runs that the execution's Distributed Map states started."""
    arn = _string(body, "executionArn")
    return {"mapRuns": [{"executionArn": arn, "mapRunArn": run.arn,
                         "stateMachineArn": run.arn.rsplit(":", 1)[0].replace(
                             ":mapRun:", ":stateMachine:"),
                         "startDate": run.started, "stopDate": run.stopped}
                        for run in await api.map_runs(arn)]}


async def describe_map_run(api: StepFunctions, body: Body) -> Body:
    execution_arn, run = await api.describe_map_run(_string(body, "mapRunArn"))
    running = run.total - run.succeeded - run.failed if run.status == "RUNNING" else 0
    counts = {"pending": 0, "running": running, "succeeded": run.succeeded,
              "failed": run.failed, "timedOut": 0, "aborted": 0, "total": run.total,
              "resultsWritten": run.succeeded + run.failed if run.status != "RUNNING" else 0,
              "failuresNotRedrivable": 0, "pendingRedrive": 0}
    out: Body = {"mapRunArn": run.arn, "executionArn": execution_arn, "status": run.status,
                 "startDate": run.started, "maxConcurrency": run.max_concurrency,
                 "toleratedFailurePercentage": float(run.tolerated_percentage or 0),
                 "toleratedFailureCount": int(run.tolerated_count or 0),
                 "itemCounts": counts, "executionCounts": counts, "redriveCount": 0}
    if run.stopped is not None:
        out["stopDate"] = run.stopped
    return out


async def update_map_run(api: StepFunctions, body: Body) -> Body:
    await api.update_map_run(
        _string(body, "mapRunArn"), max_concurrency=_optional_number(body, "maxConcurrency"),
        tolerated_failure_count=_optional_number(body, "toleratedFailureCount"),
        tolerated_failure_percentage=_optional_number(body, "toleratedFailurePercentage"))
    return {}


def _optional_number(body: Body, key: str) -> Any:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise AslError("ValidationException", f"Invalid value for '{key}': {value!r}")
    return value


# -- callbacks and activities --------------------------------------------------------------


async def send_task_success(api: StepFunctions, body: Body) -> Body:
    await api.send_task_success(_string(body, "taskToken"), _string(body, "output"))
    return {}


async def send_task_failure(api: StepFunctions, body: Body) -> Body:
    await api.send_task_failure(_string(body, "taskToken"), error=body.get("error"),
                                cause=body.get("cause"))
    return {}


async def send_task_heartbeat(api: StepFunctions, body: Body) -> Body:
    await api.send_task_heartbeat(_string(body, "taskToken"))
    return {}


async def create_activity(api: StepFunctions, body: Body) -> Body:
    activity = await api.create_activity(_string(body, "name"))
    return {"activityArn": activity.arn, "creationDate": activity.created}


async def describe_activity(api: StepFunctions, body: Body) -> Body:
    activity = await api.activity(_string(body, "activityArn"))
    return {"activityArn": activity.arn, "name": activity.name,
            "creationDate": activity.created}


async def list_activities(api: StepFunctions, body: Body) -> Body:
    return {"activities": [{"activityArn": a.arn, "name": a.name, "creationDate": a.created}
                           for a in await api.activities()]}


async def delete_activity(api: StepFunctions, body: Body) -> Body:
    await api.delete_activity(_string(body, "activityArn"))
    return {}


async def get_activity_task(api: StepFunctions, body: Body) -> Body:
    """Long poll: AWS holds the request up to 60 seconds and answers without a token when no
    task arrived."""
    task = await api.get_activity_task(_string(body, "activityArn"),
                                       worker_name=body.get("workerName"), timeout=60)
    if task is None:
        return {}
    token, value = task
    return {"taskToken": token, "input": _json(value)}


async def describe_state_machine_for_execution(api: StepFunctions, body: Body) -> Body:
    execution, origin = await api.describe_execution(_string(body, "executionArn"))
    machine = origin.machine
    return {
        "stateMachineArn": machine.arn, "name": machine.name,
        "definition": machine.definition, "roleArn": machine.role_arn,
        "updateDate": machine.updated or machine.created, "revisionId": machine.revision_id,
        "loggingConfiguration": machine.logging_configuration or _DEFAULT_LOGGING,
        "tracingConfiguration": machine.tracing_configuration or _DEFAULT_TRACING,
        "label": origin.label, "mapRunArn": execution.map_run_arn or None,
    }


async def list_executions(api: StepFunctions, body: Body) -> Body:
    status = body.get("statusFilter")
    if status is not None and status not in _EXECUTION_STATUSES:
        raise AslError("ValidationException",
                       f"1 validation error detected: Value '{status}' at 'statusFilter' "
                       f"failed to satisfy constraint: Member must satisfy enum value set: "
                       f"[{', '.join(sorted(_EXECUTION_STATUSES))}]")
    map_run = body.get("mapRunArn")
    if map_run is not None and body.get("stateMachineArn") is not None:
        raise AslError("ValidationException",
                       "Only one of stateMachineArn or mapRunArn can be specified")
    if isinstance(map_run, str):
        page = await api.list_map_run_executions(map_run, status, body.get("maxResults"),
                                                 body.get("nextToken"))
    else:
        page = await api.list_executions(_string(body, "stateMachineArn"), status,
                                         body.get("maxResults"), body.get("nextToken"))
    return {"executions": [_execution_item(e, await api.origin(e)) for e in page.items],
            "nextToken": page.next_token}


async def get_execution_history(api: StepFunctions, body: Body) -> Body:
    page = await api.history(_string(body, "executionArn"),
                             max_results=body.get("maxResults"), token=body.get("nextToken"),
                             reverse=bool(body.get("reverseOrder")),
                             include_data=body.get("includeExecutionData", True) is not False)
    return {"events": [{**e, "timestamp": e["timestamp"].timestamp()} for e in page.items],
            "nextToken": page.next_token}


# -- TestState -----------------------------------------------------------------------------


async def test_state(api: StepFunctions, body: Body) -> Body:
    return msgspec.to_builtins(  # type: ignore[no-any-return]
        await api.test_state(request_from_body(body)))


ACTIONS: Final[Mapping[str, Handler]] = {
    "CreateStateMachine": create_state_machine,
    "DescribeStateMachine": describe_state_machine,
    "UpdateStateMachine": update_state_machine,
    "DeleteStateMachine": delete_state_machine,
    "ListStateMachines": list_state_machines,
    "ValidateStateMachineDefinition": validate_state_machine_definition,
    "PublishStateMachineVersion": publish_state_machine_version,
    "ListStateMachineVersions": list_state_machine_versions,
    "DeleteStateMachineVersion": delete_state_machine_version,
    "CreateStateMachineAlias": create_state_machine_alias,
    "DescribeStateMachineAlias": describe_state_machine_alias,
    "UpdateStateMachineAlias": update_state_machine_alias,
    "DeleteStateMachineAlias": delete_state_machine_alias,
    "ListStateMachineAliases": list_state_machine_aliases,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "StartExecution": start_execution,
    "DescribeExecution": describe_execution,
    "StopExecution": stop_execution,
    "RedriveExecution": redrive_execution,
    "DescribeStateMachineForExecution": describe_state_machine_for_execution,
    "ListExecutions": list_executions,
    "GetExecutionHistory": get_execution_history,
    "TestState": test_state,
    "SendTaskSuccess": send_task_success,
    "SendTaskFailure": send_task_failure,
    "SendTaskHeartbeat": send_task_heartbeat,
    "CreateActivity": create_activity,
    "DescribeActivity": describe_activity,
    "ListActivities": list_activities,
    "DeleteActivity": delete_activity,
    "GetActivityTask": get_activity_task,
    "StartSyncExecution": start_sync_execution,
    "ListMapRuns": list_map_runs,
    "DescribeMapRun": describe_map_run,
    "UpdateMapRun": update_map_run,
}
