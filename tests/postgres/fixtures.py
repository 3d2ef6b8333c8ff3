"""pytest fixtures for tests that need a real PostgreSQL server (see `tests.postgres.server`).

Import the fixtures into a test module to use them. Without PostgreSQL installed, or as root with
no `postgres` account, the tests that use them are skipped with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from tests.postgres.server import ServerUnavailable, running_server


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a database on a private server that lives for the whole test session."""
    try:
        server = running_server()
        dsn = server.__enter__()
    except ServerUnavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield dsn
    finally:
        server.__exit__(None, None, None)


def schema_for(key: str) -> str:
    """A schema name of its own for each `key`, the same one every time (for reopening)."""
    return "t_" + hashlib.sha256(key.encode()).hexdigest()[:24]
