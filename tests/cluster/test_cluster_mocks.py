"""Step Functions Local's mocked responses on the PostgreSQL cluster: executions started with a
test case get its responses from whichever worker runs their task calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest
from botocore.exceptions import ClientError

from integrations.mocks import MockConfig, parse_mock_config
from runtime import Runtime
from runtime.cluster import ClusterClient, Worker
from runtime.errors import AslError
from tests.api.conftest import CLIENT_CONFIG, ROLE
from tests.api.test_cluster_api import _code, _done, _free_port, _stop, _wait_for_port
from tests.postgres.fixtures import postgres_dsn as postgres_dsn
from tests.postgres.fixtures import schema_for

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
LAMBDA = "arn:aws:states:::lambda:invoke"

RETRIED: dict[str, Any] = {"StartAt": "Call", "States": {
    "Call": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "f"},
             "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 3,
                        "BackoffRate": 1}],
             "OutputPath": "$.Payload", "Next": "Plain"},
    "Plain": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:twice",
              "ResultPath": "$.plain", "End": True},
}}
#: Map iterations enter the same state again: invocations count across them, not by retry.
MAPPED = {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "MaxConcurrency": 1, "End": True,
    "ItemProcessor": {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "f"},
        "OutputPath": "$.Payload", "End": True}}}}}}
CALLBACK = {"StartAt": "Ask", "States": {"Ask": {
    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
    "End": True}}}

CONFIG: dict[str, Any] = {
    "StateMachines": {
        "retried": {"TestCases": {"Flaky": {"Call": "FailThrice"}}},
        "mapped": {"TestCases": {"Sequence": {"Call": "TwoThenOne"}}},
        "approval": {"TestCases": {"Approved": {"Ask": "Approve"}}},
    },
    "MockedResponses": {
        "FailThrice": {
            "0": {"Throw": {"Error": "Flaky", "Cause": "first"}},
            "1-2": {"Throw": {"Error": "Flaky", "Cause": "again"}},
            "3": {"Return": {"Payload": {"attempts": 4}}},
        },
        "TwoThenOne": {"0-1": {"Return": {"Payload": "a"}}, "2": {"Return": {"Payload": "b"}}},
        "Approve": {"0": {"Return": {"approved": True}}},
    },
}
MOCKS: MockConfig = parse_mock_config(CONFIG)
TASKS = {"twice": lambda value: 2}


@pytest.fixture
def schema(tmp_path: Path) -> str:
    return schema_for(str(tmp_path))


@pytest.fixture
async def client(postgres_dsn: str, schema: str) -> AsyncIterator[ClusterClient]:
    async with await ClusterClient.open(postgres_dsn, schema=schema, mocks=MOCKS) as opened:
        yield opened


def _worker(dsn: str, schema: str, name: str) -> Worker:
    return Worker(dsn, tasks=TASKS, schema=schema, worker_id=name, mocks=MOCKS)


async def _failures(client: ClusterClient, arn: str) -> list[str]:
    return [event["taskFailedEventDetails"]["cause"]
            for event in await client.get_execution_history(arn)
            if event["type"] == "TaskFailed"]


async def test_retries_on_another_worker_continue_the_count_of_the_first(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    """The first attempt runs on worker A, which then stops; worker B runs the retries. An
    in-memory count would start B at invocation 0 ("first") again."""
    machine = await client.create_state_machine("retried", RETRIED)
    first = _worker(postgres_dsn, schema, "a")
    second = _worker(postgres_dsn, schema, "b")
    async with anyio.create_task_group() as only_first:
        await only_first.start(first.run)
        arn = await client.start_execution(machine, {}, test_case="Flaky")
        with anyio.fail_after(20):
            while not await _failures(client, arn):
                await anyio.sleep(0.05)
        only_first.cancel_scope.cancel()
    async with anyio.create_task_group() as group:
        await group.start(second.run)
        done = await client.wait(arn, timeout=30)
        group.cancel_scope.cancel()
    assert (done.status, done.output) == ("SUCCEEDED", {"attempts": 4, "plain": 2})
    assert await _failures(client, arn) == ["first", "again", "again"]
    assert first.stats.tasks == 1
    # Three mocked retries, and the state the test case does not mock served by `tasks`.
    assert second.stats.tasks == 4


async def test_invocations_count_across_map_iterations_on_two_workers(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    machine = await client.create_state_machine("mapped", MAPPED)
    workers = [_worker(postgres_dsn, schema, name) for name in ("a", "b")]
    async with anyio.create_task_group() as group:
        for worker in workers:
            await group.start(worker.run)
        arns = [await client.start_execution(machine, [1, 2, 3], test_case="Sequence")
                for _ in range(4)]
        outcomes = [await client.wait(arn, timeout=30) for arn in arns]
        group.cancel_scope.cancel()
    assert [outcome.output for outcome in outcomes] == [["a", "a", "b"]] * 4


async def test_executions_without_a_test_case_call_their_tasks(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    machine = await client.create_state_machine("retried", {"StartAt": "Plain", "States": {
        "Plain": RETRIED["States"]["Plain"]}})
    async with anyio.create_task_group() as group:
        await group.start(_worker(postgres_dsn, schema, "a").run)
        done = await client.wait(await client.start_execution(machine, {}), timeout=30)
        group.cancel_scope.cancel()
    assert done.output == {"plain": 2}


async def test_the_cluster_answers_as_the_single_process_runtime_does(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    async with Runtime(clock="virtual", tasks=TASKS, mocks=CONFIG) as runtime:
        local = await runtime.create_state_machine("retried", RETRIED)
        expected = await runtime.run(f"{local}#Flaky", {})
        expected_types = [e["type"] for e in runtime.get_execution_history(
            expected.execution_arn)]
    machine = await client.create_state_machine("retried", RETRIED)
    async with anyio.create_task_group() as group:
        await group.start(_worker(postgres_dsn, schema, "a").run)
        arn = await client.start_execution(machine, {}, test_case="Flaky")
        done = await client.wait(arn, timeout=30)
        group.cancel_scope.cancel()
    assert (done.status, done.output) == (expected.status, expected.output)
    assert [e["type"] for e in await client.get_execution_history(arn)] == expected_types


async def test_a_mocked_callback_task_gets_its_result_as_the_callback(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    machine = await client.create_state_machine("approval", CALLBACK)
    async with anyio.create_task_group() as group:
        await group.start(_worker(postgres_dsn, schema, "a").run)
        arn = await client.start_execution(machine, {}, test_case="Approved")
        done = await client.wait(arn, timeout=30)
        group.cancel_scope.cancel()
    assert (done.status, done.output) == ("SUCCEEDED", {"approved": True})
    assert [e["type"] for e in await client.get_execution_history(arn)] == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
        "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


async def test_unknown_test_cases_are_refused_as_the_runtime_refuses_them(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    machine = await client.create_state_machine("retried", RETRIED)
    async with Runtime(mocks=CONFIG) as runtime:
        local = await runtime.create_state_machine("retried", RETRIED)
        with pytest.raises(AslError) as expected:
            await runtime.start_execution(f"{local}#Nope")
    with pytest.raises(AslError) as refused:
        await client.start_execution(machine, {}, test_case="Nope")
    assert (refused.value.code, str(refused.value)) == (expected.value.code,
                                                         str(expected.value))
    assert refused.value.code == "ValidationException"
    assert await client.list_executions(machine) == []
    async with await ClusterClient.open(postgres_dsn, schema=schema) as without_mocks:
        with pytest.raises(AslError) as no_config:
            await without_mocks.start_execution(machine, {}, test_case="Flaky")
    assert no_config.value.code == "InvalidArn"


def test_boto3_against_serve_and_a_worker_with_the_mock_file(
        postgres_dsn: str, tmp_path: Path) -> None:
    """`stepline serve --store postgresql://... --mocks FILE --workers 0` and `stepline worker
    --mocks FILE`: the worker process runs every call of an execution the server started."""
    mocks = tmp_path / "mocks.json"
    mocks.write_text(json.dumps(CONFIG))
    tasks = tmp_path / "tasks.py"
    tasks.write_text("TASKS = {'twice': lambda value: 2}\n")
    schema = schema_for(str(tmp_path))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    stepline = [sys.executable, "-m", "runtime"]
    common = ["--store", postgres_dsn, "--schema", schema, "--tasks", str(tasks)]
    server = subprocess.Popen([*stepline, "serve", *common, "--port", str(port), "--workers",
                               "0", "--mocks", str(mocks)], cwd=ROOT, env=env, text=True)
    worker: subprocess.Popen[str] | None = None
    try:
        _wait_for_port(port, server)
        worker_log = tmp_path / "worker.log"
        with worker_log.open("w") as log:
            worker = subprocess.Popen([*stepline, "worker", *common],
                                      cwd=ROOT, env={**env, "SFN_MOCK_CONFIG": str(mocks)},
                                      text=True, stderr=log)
        deadline = time.monotonic() + 30
        while "is running" not in worker_log.read_text():
            assert time.monotonic() < deadline and worker.poll() is None, "no worker"
            time.sleep(0.05)
        sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}",
                           region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test", config=CLIENT_CONFIG)
        machine = sfn.create_state_machine(name="retried", definition=json.dumps(RETRIED),
                                           roleArn=ROLE)["stateMachineArn"]
        started = sfn.start_execution(stateMachineArn=f"{machine}#Flaky")["executionArn"]
        described = _done(sfn, started, timeout=30)
        assert json.loads(described["output"]) == {"attempts": 4, "plain": 2}
        causes = [event["taskFailedEventDetails"]["cause"] for event in sfn.get_execution_history(
            executionArn=started)["events"] if event["type"] == "TaskFailed"]
        assert causes == ["first", "again", "again"]
        with pytest.raises(ClientError) as raised:
            sfn.start_execution(stateMachineArn=f"{machine}#Nope")
        assert _code(raised) == "ValidationException"
        assert "no test case 'Nope'" in raised.value.response["Error"]["Message"]
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)
