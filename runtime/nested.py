"""Step Functions calling itself: `arn:aws:states:::states:startExecution` (and `.sync`,
`.sync:2`) starts a child execution on the engine the parent runs on (the single-process
runtime or the cluster), and the `aws-sdk:sfn:*` actions an execution uses to talk to its own
service (task tokens, activities, executions) are served there rather than over the network,
answered as AWS's integrations answer. A `.sync` child answers its parent's task itself when it
ends (see `runtime.sync_results`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from integrations._base import Integration, TaskCall, TaskError
from runtime.dataflow.items import READ_ATHENA_MANIFEST, READ_INVENTORY
from runtime.errors import AslError
from runtime.manifests import ManifestReader
from runtime.map_runs import child_execution_arn, child_state_machine_arn
from runtime.messages import ParentLink
from runtime.sync_results import START_EXECUTION
from runtime.tokens import read_token

if TYPE_CHECKING:  # both import this module
    from runtime.api.backend import Backend
    from runtime.engine import Execution

JSON = Any
SDK_SFN = "arn:aws:states:::aws-sdk:sfn:"
WRITE_MAP_RESULTS = "arn:aws:states:::stepline:writeMapResults"


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


Resolve = Callable[[str, JSON], Integration | None]


class NestedExecutions:
    """An `IntegrationSource` for the Step Functions integration, served by the engine the
    execution runs on (`backend`: the single-process runtime, or the cluster); `resolve`
    finds the other integrations (S3 for Map Run items and results)."""

    def __init__(self, backend: Backend, resolve: Resolve) -> None:
        self.backend = backend
        self.resolve = resolve

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        match served_as(resource):
            case "start":
                return self
            case "results":
                return MapResultWriter(self.resolve)
            case "items":
                return ManifestReader(self.resolve)
            case "sdk":
                return SdkStepFunctions(self.backend, _sdk_action(resource))
            case None:
                return None

    async def invoke(self, call: TaskCall) -> JSON:
        params = call.parameters if isinstance(call.parameters, dict) else {}
        machine_arn = params.get("StateMachineArn")
        raw_input = params.get("Input")
        try:
            if not isinstance(machine_arn, str):
                raise AslError("ValidationException", "StateMachineArn is required")
            arn = await self.backend.start_execution(
                machine_arn, input_json=_input_text(raw_input), name=params.get("Name"),
                test_case=None, parent=_parent_link(call))
            started = (await self.backend.describe_execution(arn)).start_date \
                or self.backend.now()
        except AslError as error:
            raise service_error(error) from None
        body = {"executionArn": arn, "startDate": started}
        request_id = str(uuid.uuid4())
        return {"ExecutionArn": arn, "StartDate": int(started * 1000),
                **sdk_metadata(request_id, len(json.dumps(body)))}


def served_as(resource: str) -> Literal["start", "results", "items", "sdk"] | None:
    """Which of this module's integrations serves `resource` (None: none of them)."""
    if resource.startswith(START_EXECUTION):
        return "start"
    if resource == WRITE_MAP_RESULTS:
        return "results"
    if resource in (READ_INVENTORY, READ_ATHENA_MANIFEST):
        return "items"
    if resource.startswith(SDK_SFN) and _sdk_action(resource) in SDK_ACTIONS:
        return "sdk"
    return None


def _sdk_action(resource: str) -> str:
    return resource[len(SDK_SFN):].split(".", 1)[0]


def _parent_link(call: TaskCall) -> ParentLink | None:
    """The parent a `.sync` / `.sync:2` child answers when it ends (its task's token names the
    waiting); None for a plain start."""
    version = 2 if call.resource.endswith(".sync:2") else 1 if call.resource.endswith(
        ".sync") else 0
    if not version or call.task_token is None:
        return None
    parent_arn, key = read_token(call.task_token)
    return ParentLink(execution_arn=parent_arn, key=key, sync_version=version)


SDK_ACTIONS = frozenset({"startExecution", "describeExecution", "stopExecution",
                         "sendTaskSuccess", "sendTaskFailure", "sendTaskHeartbeat",
                         "getActivityTask"})


class SdkStepFunctions:
    """One `aws-sdk:sfn:<action>`, with the SDK's PascalCase shapes and error naming."""

    def __init__(self, backend: Backend, action: str) -> None:
        self.backend = backend
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
        backend = self.backend
        match self.action:
            case "startExecution":
                arn = await backend.start_execution(
                    _text(params, "StateMachineArn"), input_json=_input_text(params.get("Input")),
                    name=params.get("Name"), test_case=None)
                started = (await backend.describe_execution(arn)).start_date or backend.now()
                return {"ExecutionArn": arn, "StartDate": _iso(started)}
            case "describeExecution":
                return _described(await backend.describe_execution(_text(params, "ExecutionArn")))
            case "stopExecution":
                stopped = await backend.stop_execution(_text(params, "ExecutionArn"),
                                                       error=params.get("Error"),
                                                       cause=params.get("Cause"))
                return {"StopDate": _iso(stopped.stop_date or backend.now())}
            case "sendTaskSuccess":
                output = params.get("Output")
                token = _text(params, "TaskToken")
                await backend.check_task_token(token)  # AWS checks the token first
                try:
                    value = json.loads(output) if isinstance(output, str) else output
                except ValueError:
                    raise AslError("InvalidOutput", f"Invalid Output: '{output}'") from None
                await backend.send_task_success(token, value)
                return {}
            case "sendTaskFailure":
                await backend.send_task_failure(_text(params, "TaskToken"),
                                                error=params.get("Error"),
                                                cause=params.get("Cause"))
                return {}
            case "sendTaskHeartbeat":
                await backend.send_task_heartbeat(_text(params, "TaskToken"))
                return {}
            case _:  # getActivityTask: AWS long-polls for 60 seconds
                task = await backend.get_activity_task(_text(params, "ActivityArn"),
                                                       worker_name=params.get("WorkerName"),
                                                       timeout=60.0)
                if task is None:
                    return {}
                token, value = task
                return {"Input": json.dumps(value, separators=(",", ":")), "TaskToken": token}


def _input_text(raw: JSON) -> str:
    """An execution's input as StartExecution takes it: JSON text (a value is encoded)."""
    return raw if isinstance(raw, str) else json.dumps({} if raw is None else raw)


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


class MapResultWriter:
    """A Distributed Map's ResultWriter: the Map Run's results go to S3 as AWS lays them out
    (`<Prefix>/<map run id>/SUCCEEDED_0.json`, `FAILED_0.json`, `manifest.json`), through the
    runtime's own S3 integration."""

    def __init__(self, resolve: Resolve) -> None:
        self.resolve = resolve

    async def invoke(self, call: TaskCall) -> JSON:
        params = call.parameters
        bucket, prefix = params.get("Bucket"), str(params.get("Prefix") or "")
        map_run = str(params["MapRunArn"])
        results = params.get("Results") or []
        failed_indexes = set(params.get("Failed") or [])
        base = "/".join(p for p in (prefix.strip("/"), map_run.rsplit(":", 1)[-1]) if p)
        entries = [self._entry(map_run, index, value, index in failed_indexes)
                   for index, value in enumerate(results)]
        succeeded = [e for e in entries if e["Status"] == "SUCCEEDED"]
        failed = [e for e in entries if e["Status"] == "FAILED"]
        files: dict[str, list[JSON]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
        for status, entries in (("SUCCEEDED", succeeded), ("FAILED", failed)):
            if entries:
                key = f"{base}/{status}_0.json"
                body = json.dumps(entries, separators=(",", ":"))
                await self._put(call, bucket, key, body)
                files[status].append({"Key": key, "Size": len(body.encode())})
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run, "ResultFiles": files}
        await self._put(call, bucket, f"{base}/manifest.json",
                        json.dumps(manifest, separators=(",", ":")))
        return {"MapRunArn": map_run,
                "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}/manifest.json"}}

    def _entry(self, map_run: str, index: int, value: JSON, failed: bool) -> dict[str, JSON]:
        child = child_execution_arn(map_run, index)
        entry: dict[str, JSON] = {
            "ExecutionArn": child, "Name": child.rsplit(":", 1)[-1],
            "StateMachineArn": child_state_machine_arn(map_run),
        }
        if failed:
            entry.update(Status="FAILED", Error=value.get("Error"), Cause=value.get("Cause"))
        else:
            entry.update(Status="SUCCEEDED",
                         Output=json.dumps(value, separators=(",", ":")),
                         OutputDetails={"Included": True})
        return entry

    async def _put(self, call: TaskCall, bucket: JSON, key: str, body: str) -> None:
        resource = "arn:aws:states:::aws-sdk:s3:putObject"
        parameters = {"Bucket": bucket, "Key": key, "Body": body}
        integration = self.resolve(resource, parameters)
        if integration is None:
            raise TaskError("States.ResultWriterFailed", "No S3 integration is available")
        try:
            await integration.invoke(TaskCall(
                resource=resource, parameters=parameters, execution_arn=call.execution_arn,
                state_name=call.state_name))
        except TaskError as error:
            raise TaskError("States.ResultWriterFailed", error.cause) from None


def service_error(error: AslError) -> TaskError:
    """An API error as the Step Functions integration reports it to Retry/Catch."""
    code = error.code
    return TaskError(
        f"StepFunctions.{code}Exception",
        f"{error.message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)",
    )
