"""The PostgreSQL store's tables and the ordered migrations that create them.

Every table lives in one PostgreSQL schema (`stepline` unless told otherwise), so several stores
can share a database. `<schema>.schema_version` holds one row per applied migration; `migrate()`
applies the missing ones in order, in one transaction under an advisory lock, so concurrent opens
of the same store are safe and opening an up-to-date store changes nothing.

Tables (migration that creates them):

1. ``streams(position, stream_id, version)``: one row per stream (execution), `position` giving
   creation order and `version` the stream's head, which appends advance under the row's lock.
2. ``events(stream_id, version, type, data)``: primary key `(stream_id, version)`. There is no
   foreign key to `streams`: the append statement writes both under the stream row's lock, and a
   key check per event row would cost as much again as the insert.
3. ``snapshots(stream_id, version, state)``: primary key `(stream_id, version)`.
"""

from __future__ import annotations

import re
from typing import Any, Final, NamedTuple

DEFAULT_SCHEMA: Final = "stepline"

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Migration(NamedTuple):
    """One step of the schema: SQL with `{schema}` standing for the quoted schema name."""

    version: int
    description: str
    sql: str


MIGRATIONS: Final = (
    Migration(
        1,
        "streams: one row per stream, in creation order, holding its head version",
        """
        CREATE TABLE {schema}.streams (
            position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            stream_id text NOT NULL UNIQUE,
            version integer NOT NULL CHECK (version >= 1)
        )
        """,
    ),
    Migration(
        2,
        "events: the streams' events, unique per (stream_id, version)",
        """
        CREATE TABLE {schema}.events (
            stream_id text NOT NULL,
            version integer NOT NULL CHECK (version >= 1),
            type text NOT NULL,
            data bytea NOT NULL,
            PRIMARY KEY (stream_id, version)
        )
        """,
    ),
    Migration(
        3,
        "snapshots: encoded stream state after a version",
        """
        CREATE TABLE {schema}.snapshots (
            stream_id text NOT NULL,
            version integer NOT NULL CHECK (version >= 1),
            state bytea NOT NULL,
            PRIMARY KEY (stream_id, version)
        )
        """,
    ),
)

LATEST_VERSION: Final = MIGRATIONS[-1].version


class SchemaTooNewError(Exception):
    """The database holds migrations this code does not know: it was written by a newer version."""

    def __init__(self, schema: str, found: int) -> None:
        super().__init__(
            f"schema {schema!r} is at migration {found}; this code knows up to {LATEST_VERSION}"
        )
        self.schema = schema
        self.found = found


def quote_schema(schema: str) -> str:
    """Return `schema` quoted for SQL, after checking it is a plain lower-case identifier.

    Raises:
        ValueError: the name is not `[a-z_][a-z0-9_]*` of at most 63 characters.
    """
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"schema name must match [a-z_][a-z0-9_]{{0,62}}, got {schema!r}")
    return f'"{schema}"'


async def migrate(connection: Any, schema: str) -> int:
    """Bring `schema` up to `LATEST_VERSION` on an asyncpg connection; return migrations applied.

    Raises:
        SchemaTooNewError: the schema is past `LATEST_VERSION`.
        ValueError: bad schema name.
    """
    quoted = quote_schema(schema)
    async with connection.transaction():
        # Taken before anything is created, so a concurrent open waits and then finds it all.
        await connection.execute(
            "SELECT pg_advisory_xact_lock(hashtext('stepline.migrate.' || $1))", schema
        )
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        await connection.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {quoted}.schema_version (
                version integer PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        found: int = await connection.fetchval(
            f"SELECT coalesce(max(version), 0) FROM {quoted}.schema_version"
        )
        if found > LATEST_VERSION:
            raise SchemaTooNewError(schema, found)
        pending = [migration for migration in MIGRATIONS if migration.version > found]
        for migration in pending:
            await connection.execute(migration.sql.format(schema=quoted))
            await connection.execute(
                f"INSERT INTO {quoted}.schema_version (version, description) VALUES ($1, $2)",
                migration.version,
                migration.description,
            )
    return len(pending)
