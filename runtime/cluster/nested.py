"""Step Functions calling itself on the cluster: `states:startExecution` (`.sync`, `.sync:2`),
the `aws-sdk:sfn:*` actions and a Distributed Map's item reader and result writer, served by
`runtime.nested` against the cluster the worker runs on, through a client it opens on first
use (most workers never need one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from integrations._base import Integration, TaskCall
from runtime.cluster.client import ClusterClient
from runtime.nested import NestedExecutions, served_as

JSON = Any


class ClusterStepFunctions:
    """An `IntegrationSource` for a worker; `resolve` finds its other integrations."""

    def __init__(self, dsn: str, schema: str, region: str,
                 resolve: Callable[[str, JSON], Integration | None]) -> None:
        self._dsn = dsn
        self._schema = schema
        self._region = region
        self._resolve = resolve
        self._client: ClusterClient | None = None
        self._opening = anyio.Lock()

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        return _OnCluster(self, resource, parameters) if served_as(resource) else None

    async def served(self) -> NestedExecutions:
        # Imported here: the API's backends import the cluster package, which imports this.
        from runtime.api.backend import ClusterBackend

        async with self._opening:
            if self._client is None:
                self._client = await ClusterClient.open(self._dsn, schema=self._schema,
                                                        region=self._region, pool_size=2)
        return NestedExecutions(ClusterBackend(self._client), self._resolve)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class _OnCluster:
    def __init__(self, source: ClusterStepFunctions, resource: str, parameters: JSON) -> None:
        self.source = source
        self.resource = resource
        self.parameters = parameters

    async def invoke(self, call: TaskCall) -> JSON:
        nested = await self.source.served()
        integration = nested.resolve_call(self.resource, self.parameters)
        assert integration is not None
        return await integration.invoke(call)

