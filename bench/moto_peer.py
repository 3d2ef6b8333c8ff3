"""The peer: moto's Step Functions with execution switched on, in process and as an HTTP server.

moto 5.2.1 deep-copies the state machine, and with it the whole account's backend, on every
StartExecution; a second execution in one account then fails ("cannot pickle '_thread.RLock'").
As in ../shared/bench/run_peer_moto.py every execution therefore gets a fresh account (the
`x-moto-account-id` header) and a freshly created state machine, created outside the timing.
"""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from bench.system import peak_rss_mib, process_peak_rss_mib
from bench.workloads import ONE_PASS_DEFINITION, Workload

ROLE_ARN = "arn:aws:iam::123456789012:role/bench"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
EXECUTION_ON = {"stepfunctions": {"execute_state_machine": True}}
# moto runs an execution on its own thread; polling takes the GIL from it, so the poll interval
# grows with the time waited: 2% of it (2 ms to 50 ms), a bounded error on the latency.
POLL_FRACTION, POLL_MIN_S, POLL_MAX_S = 0.02, 0.002, 0.05


class Accounts:
    """Hands out a fresh account id per execution and signs every request with the current one."""

    def __init__(self) -> None:
        self._next = 100_000_000_000
        self.current = "000000000000"

    def fresh(self) -> str:
        self._next += 1
        self.current = f"{self._next:012d}"
        return self.current

    def add_header(self, request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = self.current


def make_client(accounts: Accounts, endpoint: str | None = None) -> Any:
    import boto3

    client = boto3.client("stepfunctions", region_name="us-east-1", endpoint_url=endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.meta.events.register_first("before-sign.*.*", accounts.add_header)
    return client


def new_state_machine(sfn: Any, accounts: Accounts, name: str, definition: dict[str, Any]
                      ) -> tuple[str, float]:
    accounts.fresh()
    started = time.perf_counter()
    arn: str = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                        roleArn=ROLE_ARN)["stateMachineArn"]
    return arn, time.perf_counter() - started


def wait_terminal(sfn: Any, execution_arn: str, timeout_s: float = 900) -> dict[str, Any]:
    started = time.perf_counter()
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in TERMINAL:
            return described
        waited = time.perf_counter() - started
        if waited > timeout_s:
            raise TimeoutError(execution_arn)
        time.sleep(min(POLL_MAX_S, max(POLL_MIN_S, waited * POLL_FRACTION)))


def count_state_entries(sfn: Any, execution_arn: str) -> int:
    entered = 0
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    for page in pages:
        entered += sum(1 for event in page["events"] if event["type"].endswith("StateEntered"))
    return entered


def check_execution(workload: Workload, described: dict[str, Any]) -> None:
    if described["status"] != "SUCCEEDED":
        raise AssertionError(f"moto {workload.name}: {described['status']} "
                             f"{described.get('error')} {described.get('cause')}")
    output = json.loads(described["output"])
    if output != workload.expected_output:
        raise AssertionError(f"moto {workload.name}: output {str(output)[:200]}")


def run_sequential(sfn: Any, accounts: Accounts, workload: Workload, reps: int
                   ) -> dict[str, Any]:
    """One warm-up, then `reps` executions one after another, each from StartExecution to the
    first DescribeExecution that shows it finished. The warm-up's history is counted."""
    payload = json.dumps(workload.input)
    latencies: list[float] = []
    server_side: list[float] = []
    creates: list[float] = []
    entered = 0
    for rep in range(reps + 1):
        machine_arn, create_s = new_state_machine(sfn, accounts, f"bench-{workload.name}",
                                                  workload.definition)
        started = time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=machine_arn, name=f"run-{rep}",
                                  input=payload)["executionArn"]
        described = wait_terminal(sfn, arn)
        latency = time.perf_counter() - started
        check_execution(workload, described)
        if rep == 0:
            entered = count_state_entries(sfn, arn)
            if entered != workload.transitions_per_execution:
                raise AssertionError(f"moto {workload.name}: {entered} states entered, "
                                     f"expected {workload.transitions_per_execution}")
            continue
        latencies.append(latency)
        creates.append(create_s)
        server_side.append((described["stopDate"] - described["startDate"]).total_seconds())
    median = statistics.median(latencies)
    return {
        "input_scale": workload.input_scale,
        "reps": reps,
        "latency_s_median": median,
        "latency_s_min": min(latencies),
        "latency_s_max": max(latencies),
        "server_duration_s_median": statistics.median(server_side),
        "executions_per_s": 1 / median,
        "transitions_per_execution": workload.transitions_per_execution,
        "transitions_per_s": workload.transitions_per_execution / median,
        "state_entered_events": entered,
        "create_state_machine_s_median": statistics.median(creates),
    }


def measure_in_process(workload: Workload, reps: int) -> dict[str, Any]:
    from moto import mock_aws

    accounts = Accounts()
    with mock_aws(config=EXECUTION_ON):  # type: ignore[call-overload]
        result = run_sequential(make_client(accounts), accounts, workload, reps)
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, int]]:
    """`python -m moto.server` on 127.0.0.1 with execution on; yields (endpoint, pid)."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as server_log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=server_log, stderr=subprocess.STDOUT)
        try:
            _wait_until_serving(endpoint, server)
            request = urllib.request.Request(endpoint + "/moto-api/config", method="POST",
                                             data=json.dumps(EXECUTION_ON).encode())
            urllib.request.urlopen(request, timeout=5).read()
            yield endpoint, server.pid
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_serving(endpoint: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moto.server exited with status {server.returncode}")
        try:
            urllib.request.urlopen(endpoint + "/moto-api/config", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("moto.server did not answer within 30 s")


def measure_round_trips(sfn: Any, accounts: Accounts, samples: int) -> dict[str, Any]:
    """StartExecution, then DescribeExecution, each timed, on a one-Pass machine."""
    starts: list[float] = []
    describes: list[float] = []
    for sample in range(samples):
        machine_arn, _ = new_state_machine(sfn, accounts, "round-trip", ONE_PASS_DEFINITION)
        started = time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=machine_arn, name=f"rt-{sample}",
                                  input="{}")["executionArn"]
        between = time.perf_counter()
        sfn.describe_execution(executionArn=arn)
        describes.append(time.perf_counter() - between)
        starts.append(between - started)
    pairs = [start + describe for start, describe in zip(starts, describes, strict=True)]
    return {
        "samples": samples,
        "start_execution_ms_median": statistics.median(starts) * 1000,
        "describe_execution_ms_median": statistics.median(describes) * 1000,
        "start_plus_describe_ms_median": statistics.median(pairs) * 1000,
    }


def measure_http(workload: Workload, reps: int, round_trip_samples: int) -> dict[str, Any]:
    accounts = Accounts()
    with moto_server() as (endpoint, pid):
        sfn = make_client(accounts, endpoint)
        result = run_sequential(sfn, accounts, workload, reps)
        result["round_trips"] = measure_round_trips(sfn, accounts, round_trip_samples)
        result["server_peak_rss_mib"] = process_peak_rss_mib(pid)
    return result
