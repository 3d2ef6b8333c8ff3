"""Step Functions calling itself: `arn:aws:states:::states:startExecution` (and `.sync`,
`.sync:2`) starts a child execution on the same runtime, and the `aws-sdk:sfn:*` actions an
execution uses to talk to its own service (task tokens, activities, executions) are served
in-process rather than over the network, answered as AWS's integrations answer."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from integrations._base import Integration, TaskCall, TaskError
from runtime.errors import AslError

if TYPE_CHECKING:
    from runtime.engine import Execution, Runtime

JSON = Any
START_EXECUTION = "arn:aws:states:::states:startExecution"
SDK_SFN = "arn:aws:states:::aws-sdk:sfn:"


def sdk_metadata(request_id: str, length: int) -> dict[str, JSON]:
    """The `SdkHttpMetadata`/`SdkResponseMetadata` AWS's Java SDK adds to a response."""
    headers = {"Content-Length": str(length), "Content-Type": "application/x-amz-json-1.0",
               "x-amzn-RequestId": request_id}
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


class NestedExecutions:
    """An `IntegrationSource` for the Step Functions integration, bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        if resource.startswith(START_EXECUTION):
            return self
        if resource.startswith(SDK_SFN):
            action = resource[len(SDK_SFN):].split(".", 1)[0]
            if action in SDK_ACTIONS:
                return SdkStepFunctions(self.runtime, action)
        return None

    async def invoke(self, call: TaskCall) -> JSON:
        params = call.parameters if isinstance(call.parameters, dict) else {}
        machine_arn = params.get("StateMachineArn")
        raw_input = params.get("Input")
        try:
            if not isinstance(machine_arn, str):
                raise AslError("ValidationException", "StateMachineArn is required")
            if isinstance(raw_input, str):
                arn = await self.runtime.start_execution(machine_arn, input_json=raw_input,
                                                         name=params.get("Name"))
            else:
                arn = await self.runtime.start_execution(
                    machine_arn, {} if raw_input is None else raw_input, name=params.get("Name"))
        except AslError as error:
            raise service_error(error) from None
        started = self.runtime.describe_execution(arn).start_date or self.runtime.clock.now()
        body = {"executionArn": arn, "startDate": started}
        request_id = str(uuid.uuid4())
        return {"ExecutionArn": arn, "StartDate": int(started * 1000),
                **sdk_metadata(request_id, len(json.dumps(body)))}


SDK_ACTIONS = frozenset({"startExecution", "describeExecution", "stopExecution",
                         "sendTaskSuccess", "sendTaskFailure", "sendTaskHeartbeat",
                         "getActivityTask"})


class SdkStepFunctions:
    """One `aws-sdk:sfn:<action>`, with the SDK's PascalCase shapes and error naming."""

    def __init__(self, runtime: Runtime, action: str) -> None:
        self.runtime = runtime
        self.action = action

    async def invoke(self, call: TaskCall) -> JSON:
        params = call.parameters if isinstance(call.parameters, dict) else {}
        try:
            return await self._call(params)
        except AslError as error:
            raise TaskError(
                f"Sfn.{error.code}Exception",
                f"{error.message} (Service: Sfn, Status Code: 400, Request ID: {uuid.uuid4()})"
                " (SDK Attempt Count: 1)") from None

    async def _call(self, params: dict[str, JSON]) -> JSON:
        rt = self.runtime
        match self.action:
            case "startExecution":
                raw = params.get("Input")
                arn = await rt.start_execution(
                    _text(params, "StateMachineArn"),
                    input_json=raw if isinstance(raw, str) else json.dumps(
                        {} if raw is None else raw),
                    name=params.get("Name"))
                started = rt.describe_execution(arn).start_date or rt.clock.now()
                return {"ExecutionArn": arn, "StartDate": _iso(started)}
            case "describeExecution":
                return _described(rt.describe_execution(_text(params, "ExecutionArn")))
            case "stopExecution":
                stopped = await rt.stop_execution(_text(params, "ExecutionArn"),
                                                  error=params.get("Error"),
                                                  cause=params.get("Cause"))
                return {"StopDate": _iso(stopped.stop_date or rt.clock.now())}
            case "sendTaskSuccess":
                output = params.get("Output")
                try:
                    value = json.loads(output) if isinstance(output, str) else output
                except ValueError:
                    raise AslError("InvalidOutput", f"Invalid Output: '{output}'") from None
                rt.send_task_success(_text(params, "TaskToken"), value)
                return {}
            case "sendTaskFailure":
                rt.send_task_failure(_text(params, "TaskToken"), error=params.get("Error"),
                                     cause=params.get("Cause"))
                return {}
            case "sendTaskHeartbeat":
                rt.send_task_heartbeat(_text(params, "TaskToken"))
                return {}
            case _:  # getActivityTask: AWS long-polls for 60 seconds
                task = await rt.get_activity_task(_text(params, "ActivityArn"),
                                                  worker_name=params.get("WorkerName"))
                if task is None:
                    return {}
                token, value = task
                return {"Input": json.dumps(value, separators=(",", ":")), "TaskToken": token}


def _text(params: dict[str, JSON], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str):
        raise AslError("ValidationException",
                       f"1 validation error detected: Value null at '{key[0].lower()}"
                       f"{key[1:]}' failed to satisfy constraint: Member must not be null")
    return value


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def _described(execution: Execution) -> JSON:
    out: dict[str, JSON] = {
        "ExecutionArn": execution.execution_arn, "StateMachineArn": execution.state_machine_arn,
        "Name": execution.name, "Status": execution.status,
        "StartDate": _iso(execution.start_date),
        "Input": json.dumps(execution.input, separators=(",", ":")),
    }
    if execution.stop_date is not None:
        out["StopDate"] = _iso(execution.stop_date)
    if execution.status == "SUCCEEDED":
        out["Output"] = json.dumps(execution.output, separators=(",", ":"))
    if execution.error is not None:
        out["Error"] = execution.error
    if execution.cause is not None:
        out["Cause"] = execution.cause
    return out


def service_error(error: AslError) -> TaskError:
    """An API error as the Step Functions integration reports it to Retry/Catch."""
    code = error.code
    return TaskError(
        f"StepFunctions.{code}Exception",
        f"{error.message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)",
    )


def sync_result(execution: Execution, *, json_values: bool) -> JSON:
    """What `.sync` (strings) or `.sync:2` (JSON values) returns for an ended child."""
    def value(data: JSON) -> JSON:
        return data if json_values else json.dumps(data, separators=(",", ":"))

    out: dict[str, JSON] = {
        "ExecutionArn": execution.execution_arn,
        "Input": value(execution.input), "InputDetails": {"Included": True},
        "Name": execution.name,
        "StartDate": int(execution.start_date * 1000),
        "StateMachineArn": execution.state_machine_arn,
        "Status": execution.status,
    }
    if execution.stop_date is not None:
        out["StopDate"] = int(execution.stop_date * 1000)
    if execution.status == "SUCCEEDED":
        out["Output"] = value(execution.output)
        out["OutputDetails"] = {"Included": True}
    else:
        if execution.error is not None:
            out["Error"] = execution.error
        if execution.cause is not None:
            out["Cause"] = execution.cause
    return dict(sorted(out.items()))
