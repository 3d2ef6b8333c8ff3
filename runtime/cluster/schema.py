"""The cluster's tables, beside the event log's in the same PostgreSQL schema.

Applied after the log's own migrations (`runtime.log.pg_schema`), with a version table of their
own (`cluster_schema_version`): the log's `schema_version` refuses versions it does not know, so
the cluster must not write there.

Tables (migration that creates them):

1. ``executions``: one row per execution: what DescribeExecution reports (status, dates, input,
   output, error, cause, as JSON text), the content id of the definition it runs, `version` (the
   head of its event stream, which only a commit by the lease holder advances) and the lease:
   `lease_owner` (the worker that last claimed it, kept after release so that worker is preferred
   next time: it still holds the state in memory) and `lease_expires` (NULL: not leased).
2. ``inbox``: messages waiting for an execution, decided in `id` order. A row carries either an
   encoded `Message`, or a fired timer's key and the time it fired (moved from `timers` by one
   statement, so it carries no encoded message).
3. ``timers``: one row per (execution, key), fired by whichever worker sees it due.
4. ``outbox``: effects to run (task invocations and the effects no worker serves yet), unique per
   (execution, kind, key), claimed with a lease like executions.

Triggers NOTIFY `<schema>.inbox`, `<schema>.timers` and `<schema>.outbox` after a statement
inserted rows there that some other worker may have to act on, so idle workers wake without
polling (migration 6 narrowed the first and the last): timers always; outbox rows only when
inserted without a lease (a worker inserts the task calls it runs itself already leased);
inbox rows unless each one's execution is leased to the worker whose session inserted it
(named by the session setting `stepline.worker`), which steps it without being told.
Migration 7 NOTIFYs `<schema>.catalog` when the log's catalog stream (`runtime.store`) moves,
so API servers bring their catalog replicas up to date without polling. Migration 8 adds what
DescribeExecution reports of redrives (`redrive_count`, `redrive_date`), set by the statement
that queues a redrive.
"""

from __future__ import annotations

from typing import Any, Final

from runtime.log.pg_schema import Migration, quote_schema


class ClusterSchemaTooNewError(Exception):
    """The database holds cluster migrations this code does not know."""

    def __init__(self, schema: str, found: int) -> None:
        super().__init__(f"cluster tables of schema {schema!r} are at migration {found}; "
                         f"this code knows up to {LATEST_CLUSTER_VERSION}")
        self.schema = schema
        self.found = found


def channel(schema: str, table: str) -> str:
    """The NOTIFY channel announcing new rows in `table` (inbox, timers or outbox)."""
    return f"{schema}.{table}"


_NOTIFY_FUNCTION: Final = """
    CREATE FUNCTION {schema}.cluster_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Statement-level, and only when rows came: one NOTIFY per statement, deduplicated
        -- by PostgreSQL within a transaction.
        IF EXISTS (SELECT 1 FROM inserted) THEN
            PERFORM pg_notify(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, '');
        END IF;
        RETURN NULL;
    END
    $$
"""


def _notify_trigger(table: str, function: str = "cluster_notify") -> str:
    return (f"CREATE TRIGGER {table}_notify AFTER INSERT ON {{schema}}.{table}"
            " REFERENCING NEW TABLE AS inserted"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.{function}()")


#: The session setting naming the worker a connection belongs to.
WORKER_SETTING: Final = "stepline.worker"

_NOTIFY_INBOX: Final = """
    CREATE FUNCTION {schema}.cluster_notify_inbox() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- The statement's own changes (a lease it took) are visible here.
        IF EXISTS (SELECT 1 FROM inserted AS i JOIN {schema}.executions AS e ON e.arn = i.arn
                   WHERE e.lease_expires IS NULL OR e.lease_expires < clock_timestamp()
                       OR e.lease_owner IS DISTINCT FROM
                           current_setting('""" + WORKER_SETTING + """', true)) THEN
            PERFORM pg_notify(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, '');
        END IF;
        RETURN NULL;
    END
    $$
"""

_NOTIFY_OUTBOX: Final = """
    CREATE FUNCTION {schema}.cluster_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM inserted WHERE lease_owner IS NULL) THEN
            PERFORM pg_notify(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, '');
        END IF;
        RETURN NULL;
    END
    $$
"""

_NOTIFY_CATALOG: Final = """
    CREATE FUNCTION {schema}.cluster_notify_catalog() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '.catalog', '');
        RETURN NULL;
    END
    $$;
    -- A row trigger with a WHEN clause: other streams' appends call no function at all.
    CREATE TRIGGER streams_notify_catalog AFTER INSERT OR UPDATE ON {schema}.streams
        FOR EACH ROW WHEN (NEW.stream_id = 'stepline:catalog')
        EXECUTE FUNCTION {schema}.cluster_notify_catalog()
"""


CLUSTER_MIGRATIONS: Final = (
    Migration(1, "executions: status, stream head and lease of each execution", """
        CREATE TABLE {schema}.executions (
            position bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            arn text PRIMARY KEY,
            state_machine_arn text NOT NULL,
            name text NOT NULL,
            definition_id text NOT NULL,
            status text NOT NULL DEFAULT 'RUNNING',
            start_date double precision NOT NULL,
            stop_date double precision,
            input text NOT NULL,
            output text,
            error text,
            cause text,
            version integer NOT NULL DEFAULT 0,
            lease_owner text,
            lease_expires timestamptz
        )
    """),
    Migration(2, "inbox: messages waiting for an execution, in arrival order", """
        CREATE TABLE {schema}.inbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            arn text NOT NULL,
            message bytea,
            timer_key text,
            fired_at double precision,
            CHECK ((message IS NULL) = (timer_key IS NOT NULL))
        );
        CREATE INDEX inbox_arn ON {schema}.inbox (arn, id)
    """),
    Migration(3, "timers: durable timers, fired by any worker", """
        CREATE TABLE {schema}.timers (
            arn text NOT NULL,
            key text NOT NULL,
            due double precision NOT NULL,
            PRIMARY KEY (arn, key)
        );
        CREATE INDEX timers_due ON {schema}.timers (due)
    """),
    Migration(4, "outbox: effects to run, claimed with a lease", """
        CREATE TABLE {schema}.outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            arn text NOT NULL,
            kind text NOT NULL,
            key text NOT NULL,
            effect bytea NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            lease_owner text,
            lease_expires timestamptz,
            UNIQUE (arn, kind, key)
        )
    """),
    Migration(5, "NOTIFY on new inbox, timer and outbox rows", ";\n".join((
        _NOTIFY_FUNCTION, _notify_trigger("inbox"), _notify_trigger("timers"),
        _notify_trigger("outbox")))),
    Migration(6, "NOTIFY only for inbox and outbox rows another worker may act on", ";\n".join((
        _NOTIFY_INBOX, _NOTIFY_OUTBOX,
        "DROP TRIGGER inbox_notify ON {schema}.inbox",
        _notify_trigger("inbox", "cluster_notify_inbox"),
        "DROP TRIGGER outbox_notify ON {schema}.outbox",
        _notify_trigger("outbox", "cluster_notify_outbox")))),
    Migration(7, "NOTIFY when the catalog stream moves", _NOTIFY_CATALOG),
    Migration(8, "executions: redrive count and date", """
        ALTER TABLE {schema}.executions
            ADD COLUMN redrive_count integer NOT NULL DEFAULT 0,
            ADD COLUMN redrive_date double precision
    """),
    Migration(9, "executions: a Map Run's child executions and their parent", """
        ALTER TABLE {schema}.executions
            ADD COLUMN map_run_arn text,
            ADD COLUMN parent_arn text;
        CREATE INDEX executions_map_run ON {schema}.executions (map_run_arn)
            WHERE map_run_arn IS NOT NULL
    """),
)

LATEST_CLUSTER_VERSION: Final = CLUSTER_MIGRATIONS[-1].version


async def migrate_cluster(connection: Any, schema: str) -> int:
    """Bring the cluster tables of `schema` up to date (the log's tables must exist already);
    return the migrations applied. Concurrent callers serialise on an advisory lock.

    Raises:
        ClusterSchemaTooNewError: the tables were migrated by newer code.
        ValueError: bad schema name.
    """
    quoted = quote_schema(schema)
    async with connection.transaction():
        await connection.execute(
            "SELECT pg_advisory_xact_lock(hashtext('stepline.cluster.migrate.' || $1))", schema)
        await connection.execute(f"""
            CREATE TABLE IF NOT EXISTS {quoted}.cluster_schema_version (
                version integer PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
        """)
        found: int = await connection.fetchval(
            f"SELECT coalesce(max(version), 0) FROM {quoted}.cluster_schema_version")
        if found > LATEST_CLUSTER_VERSION:
            raise ClusterSchemaTooNewError(schema, found)
        pending = [m for m in CLUSTER_MIGRATIONS if m.version > found]
        for migration in pending:
            await connection.execute(migration.sql.format(schema=quoted))
            await connection.execute(
                f"INSERT INTO {quoted}.cluster_schema_version (version, description)"
                " VALUES ($1, $2)", migration.version, migration.description)
    return len(pending)
