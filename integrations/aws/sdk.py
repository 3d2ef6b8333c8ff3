"""`arn:aws:states:::aws-sdk:<service>:<action>`: any botocore operation, with Step Functions'
spelling of parameters and results (see `_shapes`) and SDK v2 error names
(`S3.NoSuchKeyException`, `DynamoDb.ResourceNotFoundException`, `Sfn.InvalidTokenException`).
"""

from __future__ import annotations

from botocore.model import OperationModel

from integrations._base import JSON, TaskCall
from integrations.aws._clients import ClientPool
from integrations.aws._errors import v2_error
from integrations.aws._naming import pascal
from integrations.aws._shapes import from_response, iso_timestamp, to_request


class SdkCall:
    """One AWS SDK integration (service, operation)."""

    def __init__(self, pool: ClientPool, service: str, operation: OperationModel) -> None:
        self.pool = pool
        self.service = service
        self.operation = operation
        payload = operation.output_shape.serialization.get("payload") \
            if operation.output_shape is not None else None
        #: A streamed payload (S3 `Body`) comes last in AWS's result, after the headers.
        self._payload_key = pascal(payload) if payload and operation.has_streaming_output \
            else None

    async def invoke(self, call: TaskCall) -> JSON:
        parameters = call.parameters if isinstance(call.parameters, dict) else {}
        request = to_request(self.operation.input_shape, parameters)
        try:
            reply = await self.pool.call(self.service, None, self.operation, request)
        except Exception as exc:
            raise v2_error(exc, self.pool.service_model(self.service)) from exc
        result = from_response(self.operation.output_shape, reply.output, iso_timestamp)
        if self._payload_key is not None and self._payload_key in result:
            result[self._payload_key] = result.pop(self._payload_key)
        return result
