"""Step Functions' optimised integrations other than Lambda: parameters and results in AWS's
PascalCase, members in Jackson's alphabetical order, results with `SdkHttpMetadata` /
`SdkResponseMetadata`, errors as the Java v1 SDK names them (`SNS.InvalidParameterException`,
`DynamoDB.AmazonDynamoDBException`).

EventBridge `putEvents` (AWS "Call EventBridge with Step Functions"): the execution and state
machine ARNs are appended to each entry's `Resources`; the result is the response alone,
without the SDK metadata (LocalStack's AWS recording of `test_put_events_base`:
`{"Entries": [...], "FailedEntryCount": 0}`), and a response with a non-zero
`FailedEntryCount` fails the task with `EventBridge.FailedEntry`, the response as the cause.
"""

from __future__ import annotations

from typing import Any, Final

from botocore.model import OperationModel

from integrations._base import JSON, TaskCall, TaskError
from integrations.aws._clients import ClientPool
from integrations.aws._errors import v1_error
from integrations.aws._headers import aws_response_headers
from integrations.aws._metadata import with_sdk_metadata
from integrations.aws._naming import arn_region
from integrations.aws._shapes import compact_json, epoch_millis, from_response, to_request

#: (service as written in the resource, action) -> botocore service.
OPTIMISED: Final[dict[tuple[str, str], str]] = {
    ("sqs", "sendMessage"): "sqs",
    ("sns", "publish"): "sns",
    ("dynamodb", "getItem"): "dynamodb",
    ("dynamodb", "putItem"): "dynamodb",
    ("dynamodb", "updateItem"): "dynamodb",
    ("dynamodb", "deleteItem"): "dynamodb",
    ("events", "putEvents"): "events",
    ("states", "startExecution"): "stepfunctions",
}

_REGION_PARAMETERS: Final = ("TopicArn", "StateMachineArn", "TargetArn")


class OptimisedCall:
    """One optimised integration (service, operation)."""

    def __init__(self, pool: ClientPool, service: str, operation: OperationModel) -> None:
        self.pool = pool
        self.service = service
        self.operation = operation

    async def invoke(self, call: TaskCall) -> JSON:
        parameters = call.parameters if isinstance(call.parameters, dict) else {}
        if self.service == "events" and self.operation.name == "PutEvents":
            parameters = _with_execution_resources(parameters, call.execution_arn)
        request = to_request(self.operation.input_shape, parameters)
        region = next((found for key in _REGION_PARAMETERS
                       if (found := arn_region(parameters.get(key))) is not None), None)
        model = self.pool.service_model(self.service)
        try:
            reply = await self.pool.call(self.service, region, self.operation, request)
        except Exception as exc:
            raise v1_error(exc, self.service, model) from exc
        result = from_response(self.operation.output_shape, reply.output, epoch_millis,
                               alphabetical=True)
        if self.service == "events":
            if result.get("FailedEntryCount"):
                raise TaskError("EventBridge.FailedEntry", compact_json(result))
            return result
        return with_sdk_metadata(result, reply, aws_response_headers(
            self.service, self.operation.name, model, reply))


def _with_execution_resources(parameters: dict[str, Any], execution_arn: str
                              ) -> dict[str, Any]:
    entries = parameters.get("Entries")
    if not isinstance(entries, list):
        return parameters
    added = [execution_arn, state_machine_arn(execution_arn)]
    tagged = [dict(entry, Resources=[*(entry.get("Resources") or []), *added])
              if isinstance(entry, dict) else entry for entry in entries]
    return dict(parameters, Entries=tagged)


def state_machine_arn(execution_arn: str) -> str:
    """`arn:aws:states:<region>:<account>:execution:<machine>:<name>` -> the machine's ARN."""
    parts = execution_arn.split(":")
    if len(parts) < 7:
        return execution_arn
    return ":".join([*parts[:5], "stateMachine", parts[6]])
