"""Fixtures of the cluster tests: a fresh schema per test on the session's PostgreSQL server,
a client on it, and two API services on it (two servers sharing the database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.api.backend import ClusterBackend
from runtime.api.service import StepFunctions
from runtime.cluster import ClusterClient
from tests.postgres.fixtures import postgres_dsn as postgres_dsn
from tests.postgres.fixtures import schema_for


@pytest.fixture
def schema(tmp_path: Path) -> str:
    return schema_for(str(tmp_path))


@pytest.fixture
async def client(postgres_dsn: str, schema: str) -> AsyncIterator[ClusterClient]:
    async with await ClusterClient.open(postgres_dsn, schema=schema) as opened:
        yield opened


@pytest.fixture
async def first(postgres_dsn: str, schema: str) -> AsyncIterator[StepFunctions]:
    """An API server's service on the database."""
    async with await ClusterClient.open(postgres_dsn, schema=schema) as client:
        yield StepFunctions(ClusterBackend(client))


@pytest.fixture
async def second(postgres_dsn: str, schema: str) -> AsyncIterator[StepFunctions]:
    """Another API server on the same database."""
    async with await ClusterClient.open(postgres_dsn, schema=schema) as client:
        yield StepFunctions(ClusterBackend(client))
