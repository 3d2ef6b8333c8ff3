"""State transitions/s of cluster workers on one PostgreSQL, with 1, 2 and 4 worker processes.

Run: `python bench/cluster.py [--dsn DSN] [--executions N] [--json PATH]`. Without `--dsn` a
private server is started (`tests.postgres.server`, default durable settings). Per workload and
worker count, a fresh schema is served by that many workers (each a process of its own:
`tests.cluster.worker_process`); N executions are started and the clock runs until every one
has ended. A transition is a state entered. Also reported, from the server's
own counters: rows written (inserted, updated or deleted, all tables of the schema), WAL bytes
and statements (committed transactions, less the benchmark's own polls) per transition; and the
CPU time per transition of the worker processes and of the PostgreSQL server's processes. Note
the machine: with 2 cores, workers and the server share them, so the CPU figures are the ones
to compare when the machine is busy with anything else. `--repeat N` runs each case N times.

Executions are started in bulk once the workers are ready, so the clock measures the workers.
Workloads: `pass`: 20 Pass states (the whole execution is one step); `task`: 5 Task states
calling a Python function (two steps and one outbox round trip each); `map`: a Distributed
Map of 200 items, each a child execution with one Task state (the children spread over the
workers; transitions count the children's states and the parent's).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import store
from runtime.cluster import ClusterClient
from runtime.cluster.rows import encode_message, json_text
from runtime.messages import StartExecution
from tests.cluster.workloads import TASK
from tests.postgres.server import running_server

ROOT = Path(__file__).resolve().parent.parent

CHAIN = 20
TASKS = 5
MAP_ITEMS = 200
WORKERS = (1, 2, 4)


def _pass_chain() -> dict[str, Any]:
    states = {f"P{i}": {"Type": "Pass", "Result": i, "ResultPath": "$.last", "Next": f"P{i + 1}"}
              for i in range(CHAIN)}
    states[f"P{CHAIN - 1}"] = {"Type": "Pass", "Result": CHAIN - 1, "ResultPath": "$.last",
                               "End": True}
    return {"StartAt": "P0", "States": states}


def _task_chain() -> dict[str, Any]:
    states: dict[str, Any] = {f"T{i}": {"Type": "Task", "Resource": TASK + "add_one",
                                        "Next": f"T{i + 1}"} for i in range(TASKS)}
    states[f"T{TASKS - 1}"] = {"Type": "Task", "Resource": TASK + "add_one", "End": True}
    return {"StartAt": "T0", "States": states}


def _map_run() -> dict[str, Any]:
    return {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK + "add_one",
                                         "End": True}}}}}}


#: name -> (definition, input, executions started per `--executions`).
WORKLOADS = {"pass": (_pass_chain(), {"n": 0}, 1.0), "task": (_task_chain(), 0, 0.25),
             "map": (_map_run(), list(range(MAP_ITEMS)), 1 / MAP_ITEMS)}


async def _counters(connection: Any, schema: str) -> tuple[int, int, int]:
    """(rows written so far in the schema's tables, WAL position, transactions committed in
    the database, this one's 4 queries included)."""
    await connection.execute("SELECT pg_stat_force_next_flush()")
    rows = await connection.fetchval(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_all_tables"
        " WHERE schemaname = $1", schema)
    wal = await connection.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
    transactions = await connection.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    return int(rows), int(wal), int(transactions)


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    """User and system CPU of `processes` and of their children, reaped ones included."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in process.children(recursive=True):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
        except psutil.NoSuchProcess:
            continue
    return total


async def _start_all(client: ClusterClient, connection: Any, schema: str, workload: str,
                     count: int) -> None:
    """Start `count` executions in one statement (the client's start, in bulk), so the clock
    measures the workers, not the client."""
    definition, value, _ = WORKLOADS[workload]
    machine = client.catalog.get(await client.create_state_machine(workload, definition))
    definition_id = store.definition_id(machine.definition)
    now = time.time()
    names = [f"e{index}" for index in range(count)]
    arns = [f"{machine.arn.replace(':stateMachine:', ':execution:')}:{name}" for name in names]
    messages = [encode_message(StartExecution(at=now, input=value, role_arn=machine.role_arn,
                                              seed=index, definition_id=definition_id))
                for index in range(count)]
    await connection.execute(f"""
        WITH started AS (
            INSERT INTO "{schema}".executions
                (arn, state_machine_arn, name, definition_id, start_date, input)
            SELECT arn, $2, name, $3, $4, $5 FROM unnest($1::text[], $6::text[]) AS s(arn, name)
        )
        INSERT INTO "{schema}".inbox (arn, message)
        SELECT * FROM unnest($1::text[], $7::bytea[])
    """, arns, machine.arn, definition_id, now, json_text(value), names, messages)


async def _settled_counters(connection: Any, schema: str) -> tuple[int, int, int]:
    # Other sessions' table counters reach the server within about a second.
    await anyio.sleep(1.2)
    return await _counters(connection, schema)


async def measure(dsn: str, workload: str, workers: int, executions: int) -> dict[str, Any]:
    count = max(1, int(executions * WORKLOADS[workload][2]))
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    client = await ClusterClient.open(dsn, schema=schema)
    connection = await asyncpg.connect(dsn)
    processes = []
    try:
        for index in range(workers):
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.cluster.worker_process", dsn, schema,
                 f"bench{index}", "10"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)})
            processes.append(process)
            assert process.stdout is not None and process.stdout.readline().strip() == "READY"
        workers_cpu = [psutil.Process(process.pid) for process in processes]
        server_cpu = [psutil.Process(
            await connection.fetchval("SELECT pg_backend_pid()")).parent()]
        rows_before, wal_before, statements_before = await _settled_counters(connection, schema)
        cpu_before = _cpu_seconds(workers_cpu), _cpu_seconds(server_cpu)
        polls = 0
        began = time.perf_counter()
        await _start_all(client, connection, schema, workload, count)
        while await connection.fetchval(
                f'SELECT count(*) FROM "{schema}".executions WHERE status = \'RUNNING\''):
            polls += 1
            await anyio.sleep(0.01)
        elapsed = time.perf_counter() - began
        cpu_after = _cpu_seconds(workers_cpu), _cpu_seconds(server_cpu)
        transitions = await connection.fetchval(
            f"SELECT count(*) FROM \"{schema}\".events WHERE type LIKE '%StateEntered'")
        failed = await connection.fetchval(
            f'SELECT count(*) FROM "{schema}".executions WHERE status <> \'SUCCEEDED\'')
        rows_after, wal_after, statements_after = await _settled_counters(connection, schema)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        await client.close()
        await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await connection.close()
    return {
        "workload": workload, "workers": workers, "executions": count,
        "transitions": transitions, "failed": failed, "seconds": round(elapsed, 3),
        "transitions_per_s": round(transitions / elapsed),
        # Includes the bulk start (2 rows per execution) and its WAL.
        "rows_per_transition": round((rows_after - rows_before) / transitions, 2),
        "wal_bytes_per_transition": round((wal_after - wal_before) / transitions),
        # The benchmark's own: its polls, the two counts below and the counter queries.
        "statements_per_transition": round(
            (statements_after - statements_before - polls - 7) / transitions, 2),
        "worker_cpu_ms_per_transition": round(
            (cpu_after[0] - cpu_before[0]) * 1000 / transitions, 3),
        "db_cpu_ms_per_transition": round(
            (cpu_after[1] - cpu_before[1]) * 1000 / transitions, 3),
    }


async def run_all(dsn: str, executions: int, workloads: list[str], repeat: int
                  ) -> list[dict[str, Any]]:
    results = []
    for workload in workloads:
        for workers in WORKERS:
            for _ in range(repeat):
                result = await measure(dsn, workload, workers, executions)
                print(json.dumps(result), flush=True)
                results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="an existing database (default: a private server)")
    parser.add_argument("--executions", type=int, default=2000,
                        help="executions of the pass workload (task: a quarter as many)")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), action="append",
                        help="only this workload (repeatable; default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case")
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    args = parser.parse_args()
    workloads = args.workload or list(WORKLOADS)
    if args.dsn:
        results = anyio.run(run_all, args.dsn, args.executions, workloads, args.repeat)
    else:
        with running_server() as dsn:
            results = anyio.run(run_all, dsn, args.executions, workloads, args.repeat)
    if args.json:
        Path(args.json).write_text(json.dumps({"cpus": os.cpu_count(), "results": results},
                                              indent=2))


if __name__ == "__main__":
    main()
