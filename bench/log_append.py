"""How many events/s the file event log appends, per durability mode and concurrency.

Run: `python bench/log_append.py [--events N] [--json PATH]`. Every appender owns one stream
and appends one ~200-byte event per call, waiting for each append before the next, so
"appenders" is the number of appends in flight. Each configuration gets a fresh log in a
temporary directory under /tmp. "events/fsync" shows how much group commit batches.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.log._base import StoredEvent
from runtime.log.file import Durability, FileEventLog

EVENT_BYTES = 200
CONFIGURATIONS: list[tuple[Durability, int]] = [
    ("none", 1),
    ("none", 100),
    ("fsync", 1),
    ("fsync", 100),
    ("group", 1),
    ("group", 10),
    ("group", 100),
    ("group", 1000),
]


async def measure(durability: Durability, appenders: int, events: int) -> dict[str, Any]:
    per_appender = max(1, events // appenders)
    latencies: list[float] = []
    payload = b"x" * EVENT_BYTES

    async def appender(log: FileEventLog, writer: int) -> None:
        stream_id = f"arn:aws:states:us-east-1:123456789012:execution:bench:{writer:08d}"
        for version in range(1, per_appender + 1):
            event = StoredEvent(stream_id, version, "PassStateExited", payload)
            started = time.perf_counter()
            await log.append(stream_id, [event], expected_version=version - 1)
            latencies.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory(prefix="log-append-", dir="/tmp") as directory:
        async with await FileEventLog.open(directory, durability=durability) as log:
            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for writer in range(appenders):
                    group.start_soon(appender, log, writer)
            elapsed = time.perf_counter() - started
            fsyncs = log.fsync_count
    appended = per_appender * appenders
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "durability": durability,
        "appenders": appenders,
        "events": appended,
        "seconds": round(elapsed, 3),
        "events_per_s": round(appended / elapsed),
        "fsyncs": fsyncs,
        "events_per_fsync": round(appended / fsyncs, 1) if fsyncs else None,
        "latency_p50_ms": round(quantiles[49] * 1000, 3),
        "latency_p99_ms": round(quantiles[98] * 1000, 3),
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
    parser.add_argument("--events", type=int, default=20_000, help="events per configuration")
    parser.add_argument(
        "--fsync-events", type=int, default=4_000, help="events for fsync-per-append (slow)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    rows = []
    for durability, appenders in CONFIGURATIONS:
        events = args.fsync_events if durability == "fsync" else args.events
        rows.append(anyio.run(measure, durability, appenders, events))
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"event_bytes": EVENT_BYTES, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
