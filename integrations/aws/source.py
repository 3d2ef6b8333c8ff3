"""`AwsIntegrations`: the integration source for AWS service resources."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self

from integrations._base import JSON, Integration
from integrations.aws._clients import ClientPool
from integrations.aws._naming import (
    botocore_service,
    parse_function_arn,
    parse_service_resource,
    pascal,
)
from integrations.aws.lambda_ import LambdaInvoke
from integrations.aws.optimised import OPTIMISED, OptimisedCall
from integrations.aws.sdk import SdkCall


class AwsIntegrations:
    """Serves Lambda function ARNs, the optimised integrations (`lambda:invoke`,
    `sqs:sendMessage`, `sns:publish`, `dynamodb:getItem|putItem|updateItem|deleteItem`,
    `events:putEvents`, `states:startExecution`) and `aws-sdk:<service>:<action>` for every
    service botocore knows. An integration-pattern suffix (`.sync`, `.waitForTaskToken`) is
    ignored here: the call is made and its response returned; waiting is the runtime's.

    Use it as an async context manager, or call `close()`, so pooled clients are closed.

    Args:
        endpoint_url: one endpoint for every service.
        endpoints: per-service endpoints by botocore service name (`sqs`, `stepfunctions`).
        region: default region; a function, topic or state machine ARN's region wins.
        max_attempts, connect_timeout, read_timeout: botocore client settings.
    """

    def __init__(self, *, endpoint_url: str | None = None,
                 endpoints: Mapping[str, str] | None = None, region: str | None = None,
                 max_attempts: int = 3, connect_timeout: float = 10.0,
                 read_timeout: float = 905.0) -> None:
        self.pool = ClientPool(endpoint_url=endpoint_url, endpoints=endpoints, region=region,
                               max_attempts=max_attempts, connect_timeout=connect_timeout,
                               read_timeout=read_timeout)
        self._resolved: dict[str, Integration | None] = {}

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        if resource not in self._resolved:
            self._resolved[resource] = self._resolve(resource)
        return self._resolved[resource]

    def _resolve(self, resource: str) -> Integration | None:
        if parse_function_arn(resource) is not None:
            return LambdaInvoke(self.pool, function_arn=resource)
        parsed = parse_service_resource(resource)
        if parsed is None:
            return None
        if parsed.kind.startswith("aws-sdk:"):
            service = botocore_service(parsed.service, self.pool.available)
            if service is None:
                return None
            operation = self.pool.operation_model(service, pascal(parsed.action))
            return SdkCall(self.pool, service, operation) if operation is not None else None
        if (parsed.kind, parsed.action) == ("lambda", "invoke"):
            return LambdaInvoke(self.pool)
        service = OPTIMISED.get((parsed.kind, parsed.action))
        if service is None:
            return None
        operation = self.pool.operation_model(service, pascal(parsed.action))
        return OptimisedCall(self.pool, service, operation) if operation is not None else None

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, traceback: TracebackType | None) -> None:
        await self.close()
