"""One worker in a process of its own, until SIGTERM/SIGINT (or SIGKILL, in the fault test).

Usage: python -m tests.cluster.worker_process DSN SCHEMA WORKER_ID LEASE_SECONDS
Prints READY once connected.
"""

from __future__ import annotations

import signal
import sys

import anyio

from runtime.cluster import Worker
from tests.cluster.workloads import TASKS


async def serve(dsn: str, schema: str, worker_id: str, lease_seconds: float) -> None:
    worker = Worker(dsn, tasks=TASKS, schema=schema, worker_id=worker_id,
                    lease_seconds=lease_seconds)
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with anyio.create_task_group() as group:
            await group.start(worker.run)
            print("READY", flush=True)
            async for _ in signals:
                group.cancel_scope.cancel()
                break
    print(f"STOPPED {worker.stats}", flush=True)


if __name__ == "__main__":
    anyio.run(serve, sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
