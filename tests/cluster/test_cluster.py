"""Workers on a real PostgreSQL server: in one process and in several, with one killed."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest

from runtime import Runtime
from runtime.cluster import ClusterClient, Worker
from runtime.cluster.sql import ClusterStatements
from runtime.errors import AslError
from tests.cluster.workloads import DEFINITIONS, INPUTS, TASKS, plan

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]

Reference = dict[str, tuple[str, Any, collections.Counter[str]]]


async def _reference() -> Reference:
    """Status, output and event types of each workload run by the single-process runtime.
    Types are compared as a multiset: a Map's iterations interleave as their tasks finish."""
    found = {}
    async with Runtime(clock="virtual", tasks=TASKS) as rt:
        for kind, definition in DEFINITIONS.items():
            done = await rt.run(definition, INPUTS[kind])
            types = collections.Counter(
                e["type"] for e in rt.get_execution_history(done.execution_arn))
            found[kind] = (done.status, done.output, types)
    return found


async def _start_all(client: ClusterClient, count: int) -> dict[str, str]:
    """Start `count` executions; return execution ARN -> workload."""
    machines = {kind: await client.create_state_machine(kind, definition)
                for kind, definition in DEFINITIONS.items()}
    return {await client.start_execution(machines[kind], INPUTS[kind], name=name): kind
            for name, kind in plan(count)}


async def _check_outcomes(client: ClusterClient, started: dict[str, str],
                          reference: Reference) -> None:
    for arn, kind in started.items():
        execution = await client.wait(arn, timeout=60)
        history = await client.get_execution_history(arn)
        status, output, types = reference[kind]
        assert (execution.status, execution.output) == (status, output), arn
        assert collections.Counter(e["type"] for e in history) == types, arn


async def _check_storage(dsn: str, schema: str, started: dict[str, str]) -> None:
    """Dense versions, exactly one terminal event per execution, nothing left to do, and each
    execution row at its stream's head."""
    connection = await asyncpg.connect(dsn)
    try:
        s = f'"{schema}"'
        rows = await connection.fetch(f"""
            SELECT e.stream_id, count(*) AS events, max(e.version) AS head,
                count(*) FILTER (WHERE e.type IN ('ExecutionSucceeded', 'ExecutionFailed',
                    'ExecutionAborted', 'ExecutionTimedOut')) AS terminal,
                min(x.version) AS row_version, min(st.version) AS stream_version
            FROM {s}.events e
            JOIN {s}.executions x ON x.arn = e.stream_id
            JOIN {s}.streams st ON st.stream_id = e.stream_id
            GROUP BY e.stream_id
        """)
        assert {row["stream_id"] for row in rows} == set(started)
        for row in rows:
            assert row["events"] == row["head"] == row["row_version"] == row["stream_version"]
            assert row["terminal"] == 1, row["stream_id"]
        for table in ("inbox", "timers", "outbox"):
            assert await connection.fetchval(f"SELECT count(*) FROM {s}.{table}") == 0, table
    finally:
        await connection.close()


async def test_workers_in_one_process_finish_a_batch_as_the_single_process_runtime_does(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    reference = await _reference()
    started = await _start_all(client, 42)
    workers = [Worker(postgres_dsn, tasks=TASKS, schema=schema, worker_id=f"w{index}")
               for index in range(3)]
    async with anyio.create_task_group() as group:
        for worker in workers:
            await group.start(worker.run)
        await _check_outcomes(client, started, reference)
        group.cancel_scope.cancel()
    await _check_storage(postgres_dsn, schema, started)
    assert sum(worker.stats.steps for worker in workers) >= len(started)
    assert sum(worker.stats.lost_leases for worker in workers) == 0


async def test_a_task_chain_stays_on_the_worker_that_started_it(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    """Task calls are inserted leased to the committing worker and run there; delivering the
    outcome claims the execution back, so no call is claimed from the outbox and no state is
    reloaded elsewhere."""
    machine = await client.create_state_machine("chain", DEFINITIONS["chain"])
    workers = [Worker(postgres_dsn, tasks=TASKS, schema=schema, worker_id=f"w{index}")
               for index in range(2)]
    async with anyio.create_task_group() as group:
        for worker in workers:
            await group.start(worker.run)
        arns = [await client.start_execution(machine, INPUTS["chain"]) for _ in range(10)]
        for arn in arns:
            assert (await client.wait(arn, timeout=30)).output == 3
        group.cancel_scope.cancel()
    assert sum(worker.stats.tasks for worker in workers) == 20
    assert sum(worker.stats.tasks_claimed for worker in workers) == 0
    # Each execution's second call is delivered to it while the first worker can claim it.
    assert sum(worker.stats.claimed_on_completion for worker in workers) >= 10
    assert sum(worker.stats.stale_claims + worker.stats.lost_leases for worker in workers) == 0


async def test_inbox_rows_for_an_execution_its_own_worker_holds_notify_nobody(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    machine = await client.create_state_machine("pass", DEFINITIONS["pass"])
    arn = await client.start_execution(machine, INPUTS["pass"], name="held")
    statements = ClusterStatements(schema)
    heard: list[str] = []
    listener = await asyncpg.connect(postgres_dsn)
    worker = await asyncpg.connect(postgres_dsn)
    try:
        await listener.add_listener(f"{schema}.inbox", lambda *args: heard.append(args[2]))
        await worker.execute("SELECT set_config('stepline.worker', 'w1', false)")
        assert len(await worker.fetch(statements.claim_executions, "w1", 30.0, 10)) == 1
        insert = f'INSERT INTO "{schema}".inbox (arn, message) VALUES ($1, $2)'
        await worker.execute(insert, arn, b"held")
        await anyio.sleep(0.3)
        assert heard == []
        # Anyone else's rows (a client's, another worker's) for it wake the workers.
        await worker.execute("SELECT set_config('stepline.worker', 'w2', false)")
        await worker.execute(insert, arn, b"other")
        with anyio.fail_after(5):
            while not heard:
                await anyio.sleep(0.01)
        await worker.execute(f'DELETE FROM "{schema}".inbox WHERE message IN ($1, $2)',
                             b"held", b"other")
    finally:
        await listener.close()
        await worker.close()


async def test_a_dead_workers_claims_are_taken_over_after_their_lease_expires(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    machine = await client.create_state_machine("chain", DEFINITIONS["chain"])
    arn = await client.start_execution(machine, INPUTS["chain"], name="orphan")
    statements = ClusterStatements(schema)
    connection = await asyncpg.connect(postgres_dsn)
    try:
        # A worker that claims and then is never heard of again.
        claimed = await connection.fetch(statements.claim_executions, "ghost", 1.0, 10)
        assert [row["arn"] for row in claimed] == [arn]
    finally:
        await connection.close()
    worker = Worker(postgres_dsn, tasks=TASKS, schema=schema, lease_seconds=1.0)
    began = time.monotonic()
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        done = await client.wait(arn, timeout=20)
        group.cancel_scope.cancel()
    assert (done.status, done.output) == ("SUCCEEDED", 3)
    assert time.monotonic() - began >= 0.5  # not before the ghost's lease ran out


async def test_a_call_in_flight_when_its_worker_stops_is_made_again_with_the_same_key(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    keys: list[str] = []
    called = anyio.Event()

    async def hang(value: int, call: Any) -> int:
        keys.append(call.idempotency_key)
        called.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    def remember(value: int, call: Any) -> int:
        keys.append(call.idempotency_key)
        return value + 1

    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "remember", "End": True}}}
    machine = await client.create_state_machine("remember", definition)
    arn = await client.start_execution(machine, 1, name="e1")
    async with anyio.create_task_group() as first:
        await first.start(Worker(postgres_dsn, schema=schema, tasks={"remember": hang}).run)
        with anyio.fail_after(10):
            await called.wait()
        first.cancel_scope.cancel()
    runner = Worker(postgres_dsn, schema=schema, tasks={"remember": remember})
    async with anyio.create_task_group() as group:
        await group.start(runner.run)
        done = await client.wait(arn, timeout=5)  # at once: the stopped worker handed it back
        group.cancel_scope.cancel()
    assert (done.status, done.output) == ("SUCCEEDED", 2)
    # The execution's ARN and the key of the TaskScheduled event (id 3), both times.
    assert keys == [f"{arn}/@3", f"{arn}/@3"]


async def test_stop_aborts_a_waiting_execution_and_drops_its_timers(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600,
                                                   "End": True}}}
    machine = await client.create_state_machine("long", definition)
    arn = await client.start_execution(machine, {}, name="sleeper")
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema).run)
        with anyio.fail_after(10):
            while [e["type"] for e in await client.get_execution_history(arn)][-1:] != [
                    "WaitStateEntered"]:
                await anyio.sleep(0.02)
        stopped = await client.stop_execution(arn, error="Halt", cause="by test", timeout=10)
        group.cancel_scope.cancel()
    assert (stopped.status, stopped.error, stopped.cause) == ("ABORTED", "Halt", "by test")
    await _check_storage(postgres_dsn, schema, {arn: "long"})


async def test_starting_again_is_idempotent_while_running_with_the_same_input(
        client: ClusterClient) -> None:
    machine = await client.create_state_machine("pass", DEFINITIONS["pass"])
    arn = await client.start_execution(machine, {"n": 1}, name="once")
    assert await client.start_execution(machine, {"n": 1}, name="once") == arn
    with pytest.raises(AslError) as raised:
        await client.start_execution(machine, {"n": 2}, name="once")
    assert raised.value.code == "ExecutionAlreadyExists"
    listed = await client.list_executions(machine)
    assert [(e.execution_arn, e.status, e.input) for e in listed] == [
        (arn, "RUNNING", {"n": 1})]


async def test_state_machines_are_shared_through_the_log_catalog(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    arn = await client.create_state_machine("pass", DEFINITIONS["pass"])
    async with await ClusterClient.open(postgres_dsn, schema=schema) as other:
        assert [m.arn for m in await other.list_state_machines()] == [arn]
        assert await other.create_state_machine("pass", DEFINITIONS["pass"]) == arn
        with pytest.raises(AslError) as raised:
            await other.create_state_machine("pass", DEFINITIONS["chain"])
    assert raised.value.code == "StateMachineAlreadyExists"


async def test_unknown_executions_are_reported_as_aws_does(client: ClusterClient) -> None:
    with pytest.raises(AslError) as raised:
        await client.describe_execution("arn:aws:states:us-east-1:123456789012:execution:m:x")
    assert raised.value.code == "ExecutionDoesNotExist"


# -- worker processes ----------------------------------------------------------------------


@pytest.fixture
def spawn(postgres_dsn: str, schema: str) -> Iterator[Any]:
    processes: list[subprocess.Popen[str]] = []

    def start(worker_id: str, lease_seconds: float = 2.0) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster.worker_process", postgres_dsn, schema,
             worker_id, str(lease_seconds)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "READY", process.stderr
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_worker_processes_finish_a_batch_as_the_single_process_runtime_does(
        postgres_dsn: str, schema: str, client: ClusterClient, spawn: Any) -> None:
    reference = await _reference()
    for index in range(2):
        spawn(f"p{index}")
    started = await _start_all(client, 28)
    await _check_outcomes(client, started, reference)
    await _check_storage(postgres_dsn, schema, started)


async def test_a_worker_process_killed_midway_loses_nothing_and_repeats_nothing(
        postgres_dsn: str, schema: str, client: ClusterClient, spawn: Any) -> None:
    reference = await _reference()
    victim, *_ = [spawn(f"p{index}") for index in range(3)]
    started = await _start_all(client, 200)
    s = f'"{schema}"'
    # Kill it while it holds claims and when part of the batch is done.
    connection = await asyncpg.connect(postgres_dsn)
    with anyio.fail_after(60):
        while True:
            finished = await client.list_executions(status="SUCCEEDED")
            held = await connection.fetchval(
                f"SELECT (SELECT count(*) FROM {s}.executions WHERE lease_owner = 'p0'"
                f" AND lease_expires IS NOT NULL) + (SELECT count(*) FROM {s}.outbox"
                f" WHERE lease_owner = 'p0')")
            if len(finished) >= 40 and held:
                break
            await anyio.sleep(0.01)
    await connection.close()
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    await _check_outcomes(client, started, reference)
    await _check_storage(postgres_dsn, schema, started)


async def test_a_callback_task_ends_with_send_task_success(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    tokens: list[str] = []

    def hand_out(value: Any) -> None:
        tokens.append(value["token"])

    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "hand_out", "Payload": {"token.$": "$$.Task.Token"}},
        "End": True}}}
    machine = await client.create_state_machine("callback", definition)
    arn = await client.start_execution(machine, {}, name="cb")
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema, tasks={"hand_out": hand_out}).run)
        with anyio.fail_after(10):
            while not tokens:
                await anyio.sleep(0.02)
        await client.send_task_success(tokens[0], {"answer": 42})
        done = await client.wait(arn, timeout=10)
        group.cancel_scope.cancel()
    assert (done.status, done.output) == ("SUCCEEDED", {"answer": 42})
    with pytest.raises(AslError) as raised:
        await client.send_task_success(tokens[0], {})
    assert raised.value.code == "TaskTimedOut"


async def test_the_stepline_worker_command_advances_executions(
        client: ClusterClient, postgres_dsn: str, schema: str, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.py"
    tasks.write_text("def add_one(value):\n    return value + 1\n\nTASKS = {'add_one': add_one}\n")
    machine = await client.create_state_machine("cli", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "add_one", "End": True}}})
    arn = await client.start_execution(machine, 41)
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime", "worker", "--store", postgres_dsn, "--schema", schema,
         "--tasks", str(tasks)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        done = await client.wait(arn, timeout=30)
        assert (done.status, done.output) == ("SUCCEEDED", 42)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "is running" in err
