from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import asyncpg
import pytest

from runtime.log._base import ConcurrencyError, StoredEvent
from runtime.log.pg_schema import LATEST_VERSION, MIGRATIONS, SchemaTooNewError, migrate
from runtime.log.postgres import PostgresEventLog, PostgresSnapshotStore
from runtime.log.snapshots import Snapshot, load
from tests.log.contract import EventLogContract, make_events
from tests.postgres.fixtures import postgres_dsn as postgres_dsn
from tests.postgres.fixtures import schema_for

pytestmark = pytest.mark.anyio


class TestPostgresEventLog(EventLogContract):
    persistent = True

    @pytest.fixture(autouse=True)
    def _server(self, postgres_dsn: str) -> None:
        self.dsn = postgres_dsn

    async def make_log(self, directory: Path) -> PostgresEventLog:
        return await PostgresEventLog.open(self.dsn, schema=schema_for(str(directory)))


class TestSingleConnectionPostgresEventLog(TestPostgresEventLog):
    """Every append waits for the one connection, so concurrent appends always batch."""

    async def make_log(self, directory: Path) -> PostgresEventLog:
        return await PostgresEventLog.open(
            self.dsn, schema=schema_for(str(directory)), pool_size=1, writers=1
        )


@pytest.fixture
def schema(tmp_path: Path) -> str:
    return schema_for(str(tmp_path))


@pytest.fixture
async def log(postgres_dsn: str, schema: str) -> AsyncIterator[PostgresEventLog]:
    async with await PostgresEventLog.open(postgres_dsn, schema=schema) as opened:
        yield opened


async def test_two_logs_on_one_database_race_and_exactly_one_wins(
    postgres_dsn: str, schema: str
) -> None:
    outcomes: dict[tuple[str, str], str] = {}

    async def append(log: PostgresEventLog, tag: str, stream_id: str) -> None:
        try:
            await log.append(stream_id, make_events(stream_id, 1, 2, tag), expected_version=0)
            outcomes[stream_id, tag] = "appended"
        except ConcurrencyError as error:
            assert error.actual == 2
            outcomes[stream_id, tag] = "conflict"

    stream_ids = [f"arn:race:{n}" for n in range(30)]
    async with (
        await PostgresEventLog.open(postgres_dsn, schema=schema) as first,
        await PostgresEventLog.open(postgres_dsn, schema=schema) as second,
    ):
        async with anyio.create_task_group() as group:
            for stream_id in stream_ids:
                group.start_soon(append, first, "-first", stream_id)
                group.start_soon(append, second, "-second", stream_id)
        for stream_id in stream_ids:
            results = {tag: outcomes[stream_id, tag] for tag in ("-first", "-second")}
            assert sorted(results.values()) == ["appended", "conflict"]
            [winner] = [tag for tag, outcome in results.items() if outcome == "appended"]
            expected = make_events(stream_id, 1, 2, winner)
            assert await first.read(stream_id) == expected
            assert await second.read(stream_id) == expected


async def test_contending_appenders_on_two_logs_each_land_exactly_once(
    postgres_dsn: str, schema: str
) -> None:
    # Every writer appends to both shared streams, in opposite orders on the two logs, so
    # batches lock the same rows in both orders (a deadlock, if one occurs, is retried).
    shared = ["arn:shared:x", "arn:shared:y"]

    async def writer(log: PostgresEventLog, name: str, order: list[str]) -> None:
        for stream_id in order:
            while True:
                at = await log.version(stream_id)
                event = StoredEvent(stream_id, at + 1, "T", name.encode())
                try:
                    await log.append(stream_id, [event], expected_version=at)
                    break
                except ConcurrencyError:
                    await anyio.sleep(0.001)

    async with (
        await PostgresEventLog.open(postgres_dsn, schema=schema) as first,
        await PostgresEventLog.open(postgres_dsn, schema=schema) as second,
    ):
        async with anyio.create_task_group() as group:
            for n in range(15):
                group.start_soon(writer, first, f"first-{n}", shared)
                group.start_soon(writer, second, f"second-{n}", shared[::-1])
        names = sorted([f"first-{n}" for n in range(15)] + [f"second-{n}" for n in range(15)])
        for stream_id in shared:
            stored = await first.read(stream_id)
            assert [event.version for event in stored] == list(range(1, 31))
            assert sorted(event.data.decode() for event in stored) == names


async def test_concurrent_appends_are_batched_into_few_statements(
    postgres_dsn: str, schema: str
) -> None:
    async def appender(log: PostgresEventLog, writer: int) -> None:
        stream_id = f"arn:exec:{writer}"
        for version in (1, 2, 3):
            await log.append(
                stream_id, make_events(stream_id, version, 1), expected_version=version - 1
            )

    async with await PostgresEventLog.open(postgres_dsn, schema=schema, writers=2) as log:
        async with anyio.create_task_group() as group:
            for writer in range(200):
                group.start_soon(appender, log, writer)
        assert log.batches_sent <= 600 // 10

    async with await PostgresEventLog.open(postgres_dsn, schema=schema) as reopened:
        assert sorted(await reopened.streams()) == sorted(f"arn:exec:{w}" for w in range(200))
        for writer in range(200):
            stream_id = f"arn:exec:{writer}"
            assert await reopened.read(stream_id) == make_events(stream_id, 1, 3)


async def test_a_conflict_fails_only_its_own_append_in_a_batch(log: PostgresEventLog) -> None:
    await log.append("arn:taken", make_events("arn:taken", 1, 1), expected_version=0)
    outcomes: dict[str, str] = {}

    async def append(stream_id: str) -> None:
        try:
            await log.append(stream_id, make_events(stream_id, 1, 1), expected_version=0)
            outcomes[stream_id] = "appended"
        except ConcurrencyError:
            outcomes[stream_id] = "conflict"

    sent_before = log.batches_sent
    async with anyio.create_task_group() as group:
        for stream_id in ("arn:new-1", "arn:taken", "arn:new-2"):
            group.start_soon(append, stream_id)
    assert log.batches_sent - sent_before < 3  # some of them shared a statement
    assert outcomes == {"arn:new-1": "appended", "arn:taken": "conflict", "arn:new-2": "appended"}
    assert await log.read("arn:taken") == make_events("arn:taken", 1, 1)


async def test_nul_characters_are_refused_before_reaching_the_server(
    log: PostgresEventLog,
) -> None:
    with pytest.raises(ValueError, match="NUL"):
        await log.append("arn:a\x00", [StoredEvent("arn:a\x00", 1, "T", b"")], expected_version=0)
    with pytest.raises(ValueError, match="NUL"):
        await log.append("arn:a", [StoredEvent("arn:a", 1, "T\x00", b"")], expected_version=0)
    assert await log.streams() == []


async def test_appends_cancelled_after_being_queued_still_land(
    postgres_dsn: str, schema: str
) -> None:
    returned: list[str] = []

    async def create(log: PostgresEventLog, stream_id: str) -> None:
        await log.append(stream_id, make_events(stream_id, 1, 2), expected_version=0)
        returned.append(stream_id)

    stream_ids = [f"arn:{writer}" for writer in range(10)]
    async with await PostgresEventLog.open(postgres_dsn, schema=schema, writers=1) as log:
        async with anyio.create_task_group() as group:
            for stream_id in stream_ids:
                group.start_soon(create, log, stream_id)
            # Once the first batch is on the wire, the rest wait in the next one.
            while log.batches_sent == 0:
                await anyio.sleep(0)
            assert returned == []
            group.cancel_scope.cancel()
        # Cancelling only hid the outcome; each queued append is whole.
        for stream_id in stream_ids:
            assert await log.read(stream_id) == make_events(stream_id, 1, 2)
        await log.append("arn:0", make_events("arn:0", 3, 1), expected_version=2)


async def test_reading_a_long_stream_in_pages(log: PostgresEventLog) -> None:
    for first in range(1, 1000, 100):
        await log.append("arn:a", make_events("arn:a", first, 100), expected_version=first - 1)
    every = make_events("arn:a", 1, 1000)
    pages = [await log.read("arn:a", gt=gt, limit=300) for gt in range(0, 1000, 300)]
    assert [event for page in pages for event in page] == every
    assert await log.read("arn:a", gt=990, lte=2**40) == every[990:]


async def test_opening_again_applies_no_migration(postgres_dsn: str, schema: str) -> None:
    async with await PostgresEventLog.open(postgres_dsn, schema=schema) as log:
        await log.append("arn:a", make_events("arn:a", 1, 1), expected_version=0)
    connection = await asyncpg.connect(postgres_dsn)
    try:
        assert await migrate(connection, schema) == 0
        rows = await connection.fetch(f'SELECT version FROM "{schema}".schema_version')
        assert [row[0] for row in rows] == [m.version for m in MIGRATIONS]
    finally:
        await connection.close()
    async with await PostgresEventLog.open(postgres_dsn, schema=schema) as log:
        assert await log.read("arn:a") == make_events("arn:a", 1, 1)


async def test_concurrent_first_opens_migrate_once(postgres_dsn: str, schema: str) -> None:
    applied: list[int] = []

    async def open_and_migrate() -> None:
        connection = await asyncpg.connect(postgres_dsn)
        try:
            applied.append(await migrate(connection, schema))
        finally:
            await connection.close()

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(open_and_migrate)
    assert sorted(applied) == [0, 0, 0, 0, LATEST_VERSION]


async def test_a_schema_from_newer_code_is_refused(postgres_dsn: str, schema: str) -> None:
    async with await PostgresEventLog.open(postgres_dsn, schema=schema):
        pass
    connection = await asyncpg.connect(postgres_dsn)
    try:
        await connection.execute(
            f"INSERT INTO \"{schema}\".schema_version (version, description) VALUES ($1, 'x')",
            LATEST_VERSION + 1,
        )
    finally:
        await connection.close()
    with pytest.raises(SchemaTooNewError, match=f"at migration {LATEST_VERSION + 1}"):
        await PostgresEventLog.open(postgres_dsn, schema=schema)


@pytest.mark.parametrize(("pool_size", "writers"), [(0, 1), (2, 0), (2, 3)])
async def test_bad_pool_sizes_are_refused_before_connecting(pool_size: int, writers: int) -> None:
    with pytest.raises(ValueError, match=r"pool_size|writers"):
        await PostgresEventLog.open(
            "postgresql://127.0.0.1:1/nowhere", pool_size=pool_size, writers=writers
        )


@pytest.mark.parametrize("name", ["Upper", "has-dash", "1starts_with_digit", "x" * 64, ""])
async def test_bad_schema_names_are_refused_before_connecting(name: str) -> None:
    with pytest.raises(ValueError, match="schema name"):
        await PostgresEventLog.open("postgresql://127.0.0.1:1/nowhere", schema=name)


# --- snapshots --------------------------------------------------------------------------------


@pytest.fixture
async def snapshots(postgres_dsn: str, schema: str) -> AsyncIterator[PostgresSnapshotStore]:
    async with await PostgresSnapshotStore.open(postgres_dsn, schema=schema) as store:
        yield store


async def test_latest_snapshot_is_the_highest_version_at_or_below_lte(
    snapshots: PostgresSnapshotStore,
) -> None:
    assert await snapshots.latest("arn:a") is None
    for version in (3, 7, 5):
        await snapshots.save("arn:a", version, b"state@%d" % version)
    await snapshots.save("arn:b", 9, b"other stream")
    assert await snapshots.latest("arn:a") == Snapshot("arn:a", 7, b"state@7")
    assert await snapshots.latest("arn:a", lte=6) == Snapshot("arn:a", 5, b"state@5")
    assert await snapshots.latest("arn:a", lte=5) == Snapshot("arn:a", 5, b"state@5")
    assert await snapshots.latest("arn:a", lte=2) is None
    assert await snapshots.latest("arn:c") is None


async def test_saving_a_snapshot_version_again_replaces_it(
    snapshots: PostgresSnapshotStore,
) -> None:
    await snapshots.save("arn:a", 4, b"old")
    await snapshots.save("arn:a", 4, b"new")
    assert await snapshots.latest("arn:a") == Snapshot("arn:a", 4, b"new")


async def test_invalid_snapshots_are_refused(snapshots: PostgresSnapshotStore) -> None:
    with pytest.raises(ValueError):
        await snapshots.save("arn:a", 0, b"before any event")
    with pytest.raises(ValueError):
        await snapshots.save("arn:a", 1, "text")  # type: ignore[arg-type]


async def test_closed_snapshot_store_refuses_use(snapshots: PostgresSnapshotStore) -> None:
    await snapshots.close()
    with pytest.raises(anyio.ClosedResourceError):
        await snapshots.save("arn:a", 1, b"s")
    with pytest.raises(anyio.ClosedResourceError):
        await snapshots.latest("arn:a")
    await snapshots.close()


async def test_load_uses_the_snapshot_and_the_events_after_it(
    postgres_dsn: str, schema: str
) -> None:
    async with (
        await PostgresEventLog.open(postgres_dsn, schema=schema) as log,
        await PostgresSnapshotStore.open(postgres_dsn, schema=schema) as store,
    ):
        await log.append("arn:a", make_events("arn:a", 1, 6), expected_version=0)
        await store.save("arn:a", 4, b"after four")
        await store.save("arn:a", 9, b"ahead of the log")
        assert await load(log, store, "arn:a") == (
            Snapshot("arn:a", 4, b"after four"),
            make_events("arn:a", 5, 2),
        )
    async with await PostgresSnapshotStore.open(postgres_dsn, schema=schema) as reopened:
        assert await reopened.latest("arn:a", lte=8) == Snapshot("arn:a", 4, b"after four")
