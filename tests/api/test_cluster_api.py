"""boto3 against `stepline serve --store postgresql://...` (a process of its own, with one
in-process worker) beside one `stepline worker` process, both on a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import CLIENT_CONFIG, ROLE, pass_machine
from tests.postgres.fixtures import postgres_dsn as postgres_dsn
from tests.postgres.fixtures import schema_for

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:"

TASKS_FILE = '''
import os
import pathlib

import anyio


async def where(value):
    """Which process ran the call (the server's worker or the worker process)."""
    await anyio.sleep(value.get("sleep", 0))
    return {"n": value["n"] + 1, "pid": os.getpid()}


def hold(payload):
    """A callback task: hands its token over through a file and returns at once."""
    pathlib.Path(payload["file"]).write_text(payload["token"])
    return {}


TASKS = {"where": where, "hold": hold}
'''


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the API server did not start") from None
            time.sleep(0.05)


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Cluster:
    def __init__(self, sfn: Any, server: subprocess.Popen[str],
                 worker: subprocess.Popen[str], workdir: Path) -> None:
        self.sfn = sfn
        self.server = server
        self.worker = worker
        self.workdir = workdir
        self.endpoint = ""


@pytest.fixture(scope="module")
def cluster(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("cluster-api")
    tasks = workdir / "tasks.py"
    tasks.write_text(TASKS_FILE)
    schema = schema_for(str(workdir))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    stepline = [sys.executable, "-m", "runtime"]
    server = subprocess.Popen(
        [*stepline, "serve", "--store", postgres_dsn, "--schema", schema, "--port", str(port),
         "--tasks", str(tasks), "--workers", "1"], cwd=ROOT, env=env, text=True)
    worker: subprocess.Popen[str] | None = None
    try:
        _wait_for_port(port, server)
        worker_log = workdir / "worker.log"
        with worker_log.open("w") as log:
            worker = subprocess.Popen(
                [*stepline, "worker", "--store", postgres_dsn, "--schema", schema, "--tasks",
                 str(tasks)], cwd=ROOT, env=env, text=True, stderr=log)
        deadline = time.monotonic() + 30
        while "is running" not in worker_log.read_text():
            assert time.monotonic() < deadline and worker.poll() is None, "no worker"
            time.sleep(0.05)
        sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}",
                           region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test", config=CLIENT_CONFIG)
        cluster = Cluster(sfn, server, worker, workdir)
        cluster.endpoint = f"http://127.0.0.1:{port}"
        yield cluster
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)


def _machine(sfn: Any, name: str, definition: dict[str, Any]) -> str:
    arn: str = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                        roleArn=ROLE)["stateMachineArn"]
    return arn


def _done(sfn: Any, execution_arn: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.02)


def _code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def test_an_execution_runs_to_its_end_and_its_history_is_read_from_the_database(
        cluster: Cluster) -> None:
    sfn = cluster.sfn
    machine = _machine(sfn, "chain", {"StartAt": "T1", "States": {
        "T1": {"Type": "Task", "Resource": FUNCTION + "where", "Next": "T2"},
        "T2": {"Type": "Task", "Resource": FUNCTION + "where", "InputPath": "$",
               "Parameters": {"n.$": "$.n"}, "End": True}}})
    assert sfn.describe_state_machine(stateMachineArn=machine)["name"] == "chain"
    assert machine in [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
    started = sfn.start_execution(stateMachineArn=machine, name="first", input='{"n": 1}')
    done = _done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["n"] == 3
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert types.count("LambdaFunctionSucceeded") == 2  # a function ARN, as AWS records it
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    newest = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1,
                                       reverseOrder=True)
    assert newest["events"][0]["type"] == "ExecutionSucceeded" and newest["nextToken"]
    # AWS: the same name and input again while it runs is the same execution; after, a clash.
    with pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=machine, name="first", input='{"n": 1}')
    assert _code(raised) == "ExecutionAlreadyExists"


def test_both_workers_take_task_calls(cluster: Cluster) -> None:
    """More calls at once than one worker runs (64): the other worker takes the rest."""
    sfn = cluster.sfn
    machine = _machine(sfn, "spread", {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": FUNCTION + "where", "End": True}}})
    arns = [sfn.start_execution(stateMachineArn=machine,
                                input='{"n": 0, "sleep": 2}')["executionArn"]
            for _ in range(80)]
    outputs = [json.loads(_done(sfn, arn)["output"]) for arn in arns]
    assert {output["pid"] for output in outputs} == {cluster.server.pid, cluster.worker.pid}


def test_stop_and_list_with_a_status_filter(cluster: Cluster) -> None:
    sfn = cluster.sfn
    waits = _machine(sfn, "waits", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 600, "End": True}}})
    running = sfn.start_execution(stateMachineArn=waits, name="long")["executionArn"]
    finished = sfn.start_execution(stateMachineArn=waits, name="short")["executionArn"]
    stopped = sfn.stop_execution(executionArn=finished, error="Halt", cause="by the test")
    assert stopped["stopDate"]
    described = sfn.describe_execution(executionArn=finished)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED", "Halt", "by the test")
    listed = sfn.list_executions(stateMachineArn=waits, statusFilter="RUNNING")["executions"]
    assert [e["executionArn"] for e in listed] == [running]
    aborted = sfn.list_executions(stateMachineArn=waits, statusFilter="ABORTED")["executions"]
    assert [e["executionArn"] for e in aborted] == [finished]
    everything = sfn.list_executions(stateMachineArn=waits)["executions"]
    assert [e["executionArn"] for e in everything] == [finished, running]  # newest first
    types = [e["type"] for e in sfn.get_execution_history(executionArn=finished)["events"]]
    assert types[-1] == "ExecutionAborted"
    sfn.stop_execution(executionArn=running)


def test_send_task_success_answers_a_callback_task(cluster: Cluster) -> None:
    sfn = cluster.sfn
    token_file = cluster.workdir / "token.txt"
    machine = _machine(sfn, "callback", {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": LAMBDA_CALLBACK, "End": True, "Parameters": {
            "FunctionName": "hold",
            "Payload": {"token.$": "$$.Task.Token", "file": str(token_file)}}}}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.monotonic() + 20
    while not token_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    token = token_file.read_text()
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    with pytest.raises(ClientError) as raised:
        sfn.send_task_success(taskToken="not-a-token", output="{}")
    assert _code(raised) == "InvalidToken"
    with pytest.raises(ClientError) as raised:
        sfn.send_task_success(taskToken=token, output="{not json")
    assert _code(raised) == "InvalidOutput"
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    done = _done(sfn, execution)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"approved": True})
    # The execution has ended: AWS answers TaskTimedOut for its token.
    with pytest.raises(ClientError) as raised:
        sfn.send_task_failure(taskToken=token, error="Late")
    assert _code(raised) == "TaskTimedOut"


def test_a_test_case_without_a_mock_configuration_is_refused_as_the_runtime_refuses_it(
        cluster: Cluster) -> None:
    """This server was started without --mocks (tests/cluster/test_cluster_mocks.py has
    one with them)."""
    sfn = cluster.sfn
    machine = _machine(sfn, "plain", json.loads(pass_machine({"a": 1})))
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    with pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=machine + "#HappyPath")
    assert _code(raised) == "InvalidArn"
    assert "no mock configuration is loaded" in raised.value.response["Error"]["Message"]
    assert _done(sfn, execution)["status"] == "SUCCEEDED"
    assert sfn.list_map_runs(executionArn=execution)["mapRuns"] == []


def test_state_machines_of_another_server_on_the_same_database_are_served(
        cluster: Cluster, postgres_dsn: str) -> None:
    """A second API server (no workers of its own) sees what the first created and started."""
    sfn = cluster.sfn
    machine = _machine(sfn, "shared", json.loads(pass_machine("shared")))
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    port = _free_port()
    second = subprocess.Popen(
        [sys.executable, "-m", "runtime", "serve", "--store", postgres_dsn, "--schema",
         schema_for(str(cluster.workdir)), "--port", str(port), "--workers", "0"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True)
    try:
        _wait_for_port(port, second)
        other = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}",
                             region_name="us-east-1", aws_access_key_id="test",
                             aws_secret_access_key="test", config=CLIENT_CONFIG)
        assert other.describe_state_machine(stateMachineArn=machine)["name"] == "shared"
        assert json.loads(_done(other, execution)["output"]) == "shared"
        started = other.start_execution(stateMachineArn=machine)["executionArn"]
        assert _done(sfn, started)["status"] == "SUCCEEDED"
    finally:
        _stop(second)


def test_an_activity_worker_polls_and_answers_through_the_api(cluster: Cluster) -> None:
    sfn = cluster.sfn
    activity = sfn.create_activity(name="approve")["activityArn"]
    assert sfn.describe_activity(activityArn=activity)["name"] == "approve"
    machine = _machine(sfn, "approval", {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": activity, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=machine, input='{"amount": 5}')
    task = sfn.get_activity_task(activityArn=activity, workerName="clerk")
    assert json.loads(task["input"]) == {"amount": 5}
    sfn.send_task_success(taskToken=task["taskToken"], output='{"approved": true}')
    done = _done(sfn, execution["executionArn"])
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"approved": True})
    listed = sfn.list_activities()["activities"]
    assert [a["activityArn"] for a in listed] == [activity]
    sfn.delete_activity(activityArn=activity)
    with pytest.raises(ClientError) as raised:
        sfn.describe_activity(activityArn=activity)
    assert _code(raised) == "ActivityDoesNotExist"


def test_versions_and_aliases_through_the_api(cluster: Cluster) -> None:
    sfn = cluster.sfn
    created = sfn.create_state_machine(name="versioned", definition=pass_machine(1),
                                       roleArn=ROLE, publish=True)
    machine, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]
    v2 = sfn.update_state_machine(stateMachineArn=machine, definition=pass_machine(2),
                                  publish=True)["stateMachineVersionArn"]
    listed = sfn.list_state_machine_versions(stateMachineArn=machine)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [v2, v1]
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    execution = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    done = _done(sfn, execution)
    assert (json.loads(done["output"]), done["stateMachineVersionArn"],
            done["stateMachineAliasArn"]) == (1, v1, alias)
    assert json.loads(_done(sfn, sfn.start_execution(stateMachineArn=machine)[
        "executionArn"])["output"]) == 2
    with pytest.raises(ClientError) as raised:
        sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    assert _code(raised) == "ConflictException"
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    sfn.delete_state_machine(stateMachineArn=machine)
    with pytest.raises(ClientError) as raised:
        sfn.describe_state_machine(stateMachineArn=machine)
    assert _code(raised) == "StateMachineDoesNotExist"


def test_redrive_through_the_api(cluster: Cluster) -> None:
    sfn = cluster.sfn
    machine = _machine(sfn, "fails", {"StartAt": "F", "States": {
        "F": {"Type": "Fail", "Error": "Broken", "Cause": "always"}}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    failed = _done(sfn, execution)
    assert (failed["status"], failed["redriveStatus"], failed["redriveCount"]) == (
        "FAILED", "REDRIVABLE", 0)
    assert sfn.redrive_execution(executionArn=execution)["redriveDate"]
    again = _done(sfn, execution)
    assert (again["status"], again["error"], again["redriveCount"]) == ("FAILED", "Broken", 1)
    assert again["redriveDate"]
    types = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
    assert types.count("ExecutionFailed") == 2 and "ExecutionRedriven" in types


HARNESS = ROOT.parent / "shared" / "conformance" / "harness.py"


@pytest.mark.skipif(not HARNESS.exists(), reason="../shared/conformance is not present")
def test_the_conformance_must_pass_list_passes_on_a_postgresql_store(cluster: Cluster) -> None:
    """The same corpus as in-process and over HTTP, now with executions advanced by workers
    from PostgreSQL."""
    finished = subprocess.run(
        [sys.executable, str(HARNESS), "--endpoint", cluster.endpoint,
         "--cases", str(HARNESS.parent / "cases"),
         "--must-pass", str(ROOT / "tests" / "conformance" / "must_pass.txt"),
         "--workers", "4"],
        capture_output=True, text=True, timeout=600, check=False)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert finished.stdout.strip().splitlines()[-1].startswith("conformance: 755 passed")
