"""Event log and snapshot store in PostgreSQL (asyncpg, asyncio backend only).

The concurrency rule is the database's: a stream's row in `streams` holds its head version, and
an append advances it with ``UPDATE ... WHERE version = expected`` (or creates it with
``INSERT ... ON CONFLICT DO NOTHING`` when expecting 0) in the same statement that inserts the
events, so the row lock orders racing appenders, from this process or any other, and the loser
matches no row. `(stream_id, version)` is also the events' primary key. See `runtime.log.pg_schema`
for the tables.

Group commit: appends that arrive while `writers` append statements are in flight wait together
in one batch, which the first of them (the leader) sends as a single statement in one transaction,
so a batch costs one round trip and one WAL flush. Each append in it still succeeds or fails on
its own: a stream whose version check fails is left out of the insert. Up to `writers` batches
run at once, each on its own pooled connection, so appends never queue behind one connection;
the pool's other connections serve reads. On a 2-core machine with a local server, one-event
appends reach ~2k events/s from 1 appender, ~15k from 10 and ~40k from 100
(`bench/postgres_log.py`); more writers help where round trips, not the server's CPU, dominate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import anyio
import anyio.lowlevel
import asyncpg

from runtime.log._base import ConcurrencyError, StoredEvent, check_batch, read_window
from runtime.log.pg_schema import DEFAULT_SCHEMA, migrate, quote_schema
from runtime.log.snapshots import Snapshot

#: The largest version a stream can reach (versions are PostgreSQL `integer`s).
MAX_VERSION: Final = 2**31 - 1
#: A batch stops taking appends at this many events, bounding one statement's size and latency.
_BATCH_EVENTS: Final = 5000
#: A batch that PostgreSQL aborted to break a deadlock is rolled back whole, so sending it again
#: is safe; deadlocks need two batches locking the same streams in opposite orders, so rarely
#: more than once.
_DEADLOCK_RETRIES: Final = 5


class _Statements:
    """The SQL the log sends, with the schema name filled in once."""

    def __init__(self, schema: str) -> None:
        s = quote_schema(schema)
        # One row per append in $1..$3 and per event in $4..$7. A stream occurs in a batch at
        # most once, so `created` and `advanced` touch different rows; the events of appends
        # whose check failed find no `accepted` row and are not inserted.
        self.append_batch = f"""
            WITH batch AS (
                SELECT *
                FROM unnest($1::text[], $2::int[], $3::int[]) WITH ORDINALITY
                    AS b(stream_id, expected, head, arrival)
            ),
            created AS (
                INSERT INTO {s}.streams (stream_id, version)
                SELECT stream_id, head FROM batch WHERE expected = 0 ORDER BY arrival
                ON CONFLICT (stream_id) DO NOTHING
                RETURNING stream_id
            ),
            advanced AS (
                UPDATE {s}.streams AS stream SET version = batch.head
                FROM batch
                WHERE batch.expected > 0
                    AND stream.stream_id = batch.stream_id
                    AND stream.version = batch.expected
                RETURNING stream.stream_id
            ),
            accepted AS (
                SELECT stream_id FROM created UNION ALL SELECT stream_id FROM advanced
            ),
            appended AS (
                INSERT INTO {s}.events (stream_id, version, type, data)
                SELECT e.stream_id, e.version, e.type, e.data
                FROM unnest($4::text[], $5::int[], $6::text[], $7::bytea[])
                    AS e(stream_id, version, type, data)
                JOIN accepted USING (stream_id)
            )
            SELECT stream_id FROM accepted
        """
        self.heads = f"SELECT stream_id, version FROM {s}.streams WHERE stream_id = ANY($1)"
        self.version = f"SELECT version FROM {s}.streams WHERE stream_id = $1"
        self.streams = f"SELECT stream_id FROM {s}.streams ORDER BY position"
        self.read = (
            f"SELECT version, type, data FROM {s}.events"
            " WHERE stream_id = $1 AND version > $2 AND version <= $3 ORDER BY version"
        )
        self.save_snapshot = (
            f"INSERT INTO {s}.snapshots (stream_id, version, state) VALUES ($1, $2, $3)"
            " ON CONFLICT (stream_id, version) DO UPDATE SET state = EXCLUDED.state"
        )
        self.latest_snapshot = (
            f"SELECT version, state FROM {s}.snapshots"
            " WHERE stream_id = $1 AND version <= $2 ORDER BY version DESC LIMIT 1"
        )


async def _open_pool(dsn: str, schema: str, pool_size: int) -> Any:
    if pool_size < 1:
        raise ValueError(f"pool_size must be >= 1, got {pool_size}")
    quote_schema(schema)
    # No reset on release: the log leaves no session state behind, and asyncpg's default reset
    # is one more round trip per query.
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size, reset=_keep_session)
    try:
        async with pool.acquire() as connection:
            await migrate(connection, schema)
    except BaseException:
        await pool.close()
        raise
    return pool


async def _keep_session(connection: object) -> None:
    """Release hook that leaves the connection as it is."""


class _Batch:
    """Appends sent together; the append that opened the batch sends it."""

    __slots__ = ("done", "error", "events", "expected", "heads", "outcomes", "streams")

    def __init__(self) -> None:
        self.streams: list[str] = []
        self.expected: list[int] = []
        self.heads: list[int] = []
        self.events: list[StoredEvent] = []
        self.done = anyio.Event()
        #: stream id -> None when appended, else the version the stream was found at.
        self.outcomes: dict[str, int | None] = {}
        self.error: BaseException | None = None

    def takes(self, stream_id: str) -> bool:
        """Whether an append to `stream_id` may join (a stream occurs in a batch at most once)."""
        return stream_id not in self.outcomes and len(self.events) < _BATCH_EVENTS

    def add(self, stream_id: str, events: Sequence[StoredEvent], expected_version: int) -> None:
        self.streams.append(stream_id)
        self.expected.append(expected_version)
        self.heads.append(expected_version + len(events))
        self.events.extend(events)
        self.outcomes[stream_id] = None


class PostgresEventLog:
    """`EventLog` in PostgreSQL; see the module docstring.

    Create it with `await PostgresEventLog.open(dsn)` and `close()` it, or use
    `async with await PostgresEventLog.open(dsn) as log:`. An append returns after its
    transaction committed (as durable as the server's `synchronous_commit` makes it). An append
    whose connection failed mid-commit raises the driver's error and may or may not be stored.
    """

    durable = True

    def __init__(self, pool: Any, statements: _Statements, writers: int) -> None:
        """Use `PostgresEventLog.open()`; this takes a pool whose schema is migrated."""
        self._pool = pool
        self._sql = statements
        self._writers = anyio.Semaphore(writers)
        #: The batch new appends join until its leader gets a connection.
        self._open_batch: _Batch | None = None
        self._in_flight: set[_Batch] = set()
        self._batches_sent = 0
        self._closed = False

    @classmethod
    async def open(
        cls, dsn: str, *, schema: str = DEFAULT_SCHEMA, pool_size: int = 4, writers: int = 2
    ) -> PostgresEventLog:
        """Connect to `dsn`, creating or migrating the tables in `schema`.

        `pool_size` is the most connections the log uses; `writers` (at most `pool_size`) is how
        many append statements may be in flight at once.

        Raises:
            ValueError: bad schema name or pool size.
            SchemaTooNewError: the schema was migrated by newer code.
            OSError, asyncpg.PostgresError: the server cannot be reached or refuses.
        """
        if not 1 <= writers <= pool_size:
            raise ValueError(f"writers must be in 1..pool_size ({pool_size}), got {writers}")
        pool = await _open_pool(dsn, schema, pool_size)
        return cls(pool, _Statements(schema), writers)

    @property
    def batches_sent(self) -> int:
        """Append statements sent since opening (for tests and benchmarks)."""
        return self._batches_sent

    async def append(
        self, stream_id: str, events: Sequence[StoredEvent], *, expected_version: int
    ) -> None:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        check_batch(stream_id, events, expected_version)
        # Refused here, not by the server, where it would fail every append batched with it.
        if "\x00" in stream_id or any("\x00" in event.type for event in events):
            raise ValueError("PostgreSQL text cannot hold NUL characters (stream id or type)")
        if expected_version + len(events) > MAX_VERSION:
            raise ValueError(f"stream {stream_id!r} would pass version {MAX_VERSION}")
        if not events:
            actual = await self._fetch_version(stream_id)
            if actual != expected_version:
                raise ConcurrencyError(stream_id, expected_version, actual)
            return
        batch = self._open_batch
        leads = batch is None or not batch.takes(stream_id)
        if batch is None or leads:
            batch = self._open_batch = _Batch()
            self._in_flight.add(batch)
        batch.add(stream_id, events, expected_version)
        # Once queued the append will be sent; cancelling now would only hide its outcome.
        with anyio.CancelScope(shield=True):
            if leads:
                await self._send(batch)
            else:
                await batch.done.wait()
        if batch.error is not None:
            raise batch.error
        found_at = batch.outcomes[stream_id]
        if found_at is not None:
            raise ConcurrencyError(stream_id, expected_version, found_at)

    async def read(
        self, stream_id: str, *, gt: int = 0, lte: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        # Versions are dense, so the window alone bounds the rows: no LIMIT needed.
        low, high = read_window(MAX_VERSION, gt, lte, limit)
        if low >= high:
            return []
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql.read, stream_id, low, high)
        return [StoredEvent(stream_id, row[0], row[1], row[2]) for row in rows]

    async def streams(self) -> list[str]:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql.streams)
        return [row[0] for row in rows]

    async def version(self, stream_id: str) -> int:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        return await self._fetch_version(stream_id)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            for batch in list(self._in_flight):
                await batch.done.wait()
            await self._pool.close()

    async def __aenter__(self) -> PostgresEventLog:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _fetch_version(self, stream_id: str) -> int:
        async with self._pool.acquire() as connection:
            found: int | None = await connection.fetchval(self._sql.version, stream_id)
        return found or 0

    async def _send(self, batch: _Batch) -> None:
        try:
            async with self._writers, self._pool.acquire() as connection:
                # Appends arriving from now on start the next batch.
                if self._open_batch is batch:
                    self._open_batch = None
                events = batch.events
                for attempt in range(_DEADLOCK_RETRIES):
                    self._batches_sent += 1
                    try:
                        rows = await connection.fetch(
                            self._sql.append_batch,
                            batch.streams,
                            batch.expected,
                            batch.heads,
                            [event.stream_id for event in events],
                            [event.version for event in events],
                            [event.type for event in events],
                            [event.data for event in events],
                        )
                        break
                    except asyncpg.DeadlockDetectedError:
                        if attempt == _DEADLOCK_RETRIES - 1:
                            raise
                accepted = {row[0] for row in rows}
                rejected = [stream_id for stream_id in batch.streams if stream_id not in accepted]
                if rejected:
                    heads = dict(await connection.fetch(self._sql.heads, rejected))
                    for stream_id in rejected:
                        batch.outcomes[stream_id] = heads.get(stream_id, 0)
        except BaseException as exc:
            batch.error = exc
            raise
        finally:
            if self._open_batch is batch:
                self._open_batch = None
            self._in_flight.discard(batch)
            batch.done.set()

    def _check_open(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError


class PostgresSnapshotStore:
    """`SnapshotStore` in the `snapshots` table of the same schema as the event log.

    Create it with `await PostgresSnapshotStore.open(dsn)`; it is also an async context manager.
    """

    def __init__(self, pool: Any, statements: _Statements) -> None:
        """Use `PostgresSnapshotStore.open()`; this takes a pool whose schema is migrated."""
        self._pool = pool
        self._sql = statements
        self._closed = False

    @classmethod
    async def open(
        cls, dsn: str, *, schema: str = DEFAULT_SCHEMA, pool_size: int = 2
    ) -> PostgresSnapshotStore:
        """Connect to `dsn`, creating or migrating the tables in `schema`.

        Raises:
            ValueError: bad schema name or pool size.
            SchemaTooNewError: the schema was migrated by newer code.
            OSError, asyncpg.PostgresError: the server cannot be reached or refuses.
        """
        pool = await _open_pool(dsn, schema, pool_size)
        return cls(pool, _Statements(schema))

    async def save(self, stream_id: str, version: int, state: bytes) -> None:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        if not 1 <= version <= MAX_VERSION:
            raise ValueError(f"snapshot version must be in 1..{MAX_VERSION}, got {version}")
        if not isinstance(state, bytes):
            raise ValueError("snapshot state must be bytes")
        async with self._pool.acquire() as connection:
            await connection.execute(self._sql.save_snapshot, stream_id, version, state)

    async def latest(self, stream_id: str, *, lte: int | None = None) -> Snapshot | None:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        upto = MAX_VERSION if lte is None else min(lte, MAX_VERSION)
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(self._sql.latest_snapshot, stream_id, upto)
        return None if row is None else Snapshot(stream_id, row[0], row[1])

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self._pool.close()

    async def __aenter__(self) -> PostgresSnapshotStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
