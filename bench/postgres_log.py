"""How many events/s the PostgreSQL event log appends and reads, per concurrency and pool size.

Run: `python bench/postgres_log.py [--dsn DSN] [--events N] [--json PATH]`. Without `--dsn` a
private server is started in a temporary directory (`tests.postgres.server`, default durable
settings: fsync on, synchronous_commit on). Every appender owns one stream and appends one
~200-byte event per call, waiting for each append before the next, so "tasks" is the number of
appends in flight; "writers" is the log's limit on append statements in flight and
"events/stmt" how many appends group commit put in one statement. Reads: each reader repeatedly
reads a whole 50-event stream. The pool has 4 connections (more when writers need them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.log._base import StoredEvent
from runtime.log.postgres import PostgresEventLog
from tests.postgres.server import running_server

EVENT_BYTES = 200
STREAM_EVENTS = 50
#: (appenders, writers)
APPEND_CONFIGURATIONS = [(1, 1), (10, 1), (10, 2), (10, 4), (100, 1), (100, 2), (100, 4), (100, 8)]
READERS = [1, 10, 100]
POOL_SIZE = 4


def _stream_id(writer: int) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:bench:{writer:08d}"


async def measure_appends(dsn: str, appenders: int, writers: int, events: int) -> dict[str, Any]:
    per_appender = max(1, events // appenders)
    latencies: list[float] = []
    payload = b"x" * EVENT_BYTES

    async def appender(log: PostgresEventLog, writer: int) -> None:
        stream_id = _stream_id(writer)
        for version in range(1, per_appender + 1):
            event = StoredEvent(stream_id, version, "PassStateExited", payload)
            started = time.perf_counter()
            await log.append(stream_id, [event], expected_version=version - 1)
            latencies.append(time.perf_counter() - started)

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    pool_size = max(POOL_SIZE, writers)
    async with await PostgresEventLog.open(
        dsn, schema=schema, pool_size=pool_size, writers=writers
    ) as log:
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for writer in range(appenders):
                group.start_soon(appender, log, writer)
        elapsed = time.perf_counter() - started
        statements = log.batches_sent
    appended = per_appender * appenders
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "op": "append",
        "tasks": appenders,
        "writers": writers,
        "events": appended,
        "events_per_s": round(appended / elapsed),
        "events/stmt": round(appended / statements, 1),
        "p50_ms": round(quantiles[49] * 1000, 3),
        "p99_ms": round(quantiles[98] * 1000, 3),
    }


async def measure_reads(dsn: str, readers: int, reads: int) -> dict[str, Any]:
    per_reader = max(1, reads // readers)
    latencies: list[float] = []
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    payload = b"x" * EVENT_BYTES

    async def reader(log: PostgresEventLog, number: int) -> None:
        stream_id = _stream_id(number)
        for _ in range(per_reader):
            started = time.perf_counter()
            stored = await log.read(stream_id)
            latencies.append(time.perf_counter() - started)
            assert len(stored) == STREAM_EVENTS

    async with await PostgresEventLog.open(dsn, schema=schema, pool_size=POOL_SIZE) as log:
        for number in range(readers):
            stream_id = _stream_id(number)
            batch = [StoredEvent(stream_id, v, "T", payload) for v in range(1, STREAM_EVENTS + 1)]
            await log.append(stream_id, batch, expected_version=0)
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for number in range(readers):
                group.start_soon(reader, log, number)
        elapsed = time.perf_counter() - started
    done = per_reader * readers
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "op": f"read {STREAM_EVENTS}",
        "tasks": readers,
        "writers": "-",
        "events": done * STREAM_EVENTS,
        "events_per_s": round(done * STREAM_EVENTS / elapsed),
        "events/stmt": STREAM_EVENTS,
        "p50_ms": round(quantiles[49] * 1000, 3),
        "p99_ms": round(quantiles[98] * 1000, 3),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    widths = [max(len(column), *(len(str(row[column])) for row in rows)) for column in columns]
    print("  ".join(column.rjust(width) for column, width in zip(columns, widths, strict=True)))
    for row in rows:
        cells = (
            str(row[column]).rjust(width) for column, width in zip(columns, widths, strict=True)
        )
        print("  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="an existing database (default: start a private server)")
    parser.add_argument("--events", type=int, default=10_000, help="events appended per row")
    parser.add_argument("--reads", type=int, default=2_000, help="stream reads per row")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    with ExitStack() as stack:
        dsn = args.dsn or stack.enter_context(running_server())
        rows = [
            anyio.run(measure_appends, dsn, tasks, writers, args.events)
            for tasks, writers in APPEND_CONFIGURATIONS
        ]
        rows += [anyio.run(measure_reads, dsn, readers, args.reads) for readers in READERS]
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"event_bytes": EVENT_BYTES, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
