"""Nested executions: `arn:aws:states:::states:startExecution` (and `.sync`, `.sync:2`) start
a child execution on the same runtime, answered as AWS's Step Functions integration answers."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from integrations._base import Integration, TaskCall, TaskError
from runtime.errors import AslError

if TYPE_CHECKING:
    from runtime.engine import Execution, Runtime

JSON = Any
START_EXECUTION = "arn:aws:states:::states:startExecution"


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
        return self if resource.startswith(START_EXECUTION) else None

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
