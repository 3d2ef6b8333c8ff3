"""API round trips: StartExecution, then DescribeExecution until the execution has finished,
over HTTP with boto3, against `stepline serve` (virtual clock) and moto's server, in one run.

    python -m bench.api_roundtrip [--executions 400] [--moto-executions 60] [--threads 8]

Both servers run as subprocesses on 127.0.0.1 (free ports) and are stopped by PID. The
workload is one Pass state. An execution counts once it is seen finished: its throughput is
executions per second of wall time; the API calls it took (1 start + the describes) are
reported too, and each server's CPU time per execution (from /proc: Linux only). Polling
does not sleep, the same for both servers. The boto3 client costs about as much CPU per call
as Stepline's server does to answer it, and its threads share one GIL: the execution rate
measures client and server together, the CPU column the server alone.

moto needs one account per execution (see bench/moto_peer.py): each execution's account and
state machine are created before the clock starts, and the timed calls carry that account in
`x-moto-account-id`. Stepline runs every execution on one state machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.config import Config

from bench.moto_peer import ROLE_ARN, TERMINAL, Accounts, free_port, moto_server
from bench.workloads import ONE_PASS_DEFINITION

ROOT: Final = Path(__file__).resolve().parents[1]
TARGET_RATIO: Final = 5.0
_CONFIG: Final = Config(retries={"max_attempts": 0}, max_pool_connections=16)


class Run:
    """One execution to time: the account it lives in (moto) and its state machine."""

    __slots__ = ("account", "machine_arn", "name")

    def __init__(self, account: str, machine_arn: str, name: str) -> None:
        self.account = account
        self.machine_arn = machine_arn
        self.name = name


def client(endpoint: str, accounts: Accounts | None) -> Any:
    sfn = boto3.client("stepfunctions", region_name="us-east-1", endpoint_url=endpoint,
                       aws_access_key_id="testing", aws_secret_access_key="testing",
                       config=_CONFIG)
    if accounts is not None:
        sfn.meta.events.register_first("before-sign.*.*", accounts.add_header)
    return sfn


@contextmanager
def stepline_server() -> Iterator[tuple[str, int]]:
    """`stepline serve --virtual-clock` on 127.0.0.1; yields (endpoint, pid)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "runtime", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--virtual-clock"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.perf_counter() + 30
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"stepline serve exited with status {server.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.perf_counter() > deadline:
                    raise TimeoutError("stepline serve did not listen within 30 s") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def prepare(endpoint: str, count: int, label: str, accounts: Accounts | None) -> list[Run]:
    """The state machines the timed executions start (untimed); one account each when
    `accounts` hands them out."""
    definition = json.dumps(ONE_PASS_DEFINITION)
    name = f"round-trip-{label}"
    if accounts is None:
        sfn = client(endpoint, None)
        arn = sfn.create_state_machine(name=name, definition=definition,
                                       roleArn=ROLE_ARN)["stateMachineArn"]
        return [Run("", arn, f"run-{index}") for index in range(count)]
    sfn = client(endpoint, accounts)
    runs = []
    for index in range(count):
        account = accounts.fresh()
        arn = sfn.create_state_machine(name=name, definition=definition,
                                       roleArn=ROLE_ARN)["stateMachineArn"]
        runs.append(Run(account, arn, f"run-{index}"))
    return runs


def execute(runs: list[Run], endpoint: str, *, account_per_run: bool,
            check: bool) -> int:
    """Start and poll each run to the end; the number of API calls made."""
    accounts = Accounts() if account_per_run else None
    sfn = client(endpoint, accounts)
    calls = 0
    for run in runs:
        if accounts is not None:
            accounts.current = run.account
        arn = sfn.start_execution(stateMachineArn=run.machine_arn,
                                  name=run.name)["executionArn"]
        calls += 1
        while True:
            described = sfn.describe_execution(executionArn=arn)
            calls += 1
            if described["status"] in TERMINAL:
                break
        if check and described["status"] != "SUCCEEDED":
            raise AssertionError(f"{arn}: {described['status']} {described.get('cause')}")
    return calls


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(endpoint: str, pid: int, executions: int, threads: int, accounts: Accounts | None
            ) -> dict[str, float]:
    account_per_run = accounts is not None
    warm_up, runs = split(prepare(endpoint, executions + 2, f"{threads}", accounts))
    execute(warm_up, endpoint, account_per_run=account_per_run, check=True)
    shares = [runs[index::threads] for index in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def worker(share: list[Run]) -> int:
        barrier.wait()
        return execute(share, endpoint, account_per_run=account_per_run, check=True)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, share) for share in shares]
        barrier.wait()
        cpu_before = server_cpu_s(pid)
        started = time.perf_counter()
        calls = sum(future.result() for future in futures)
        elapsed = time.perf_counter() - started
        server_cpu = server_cpu_s(pid) - cpu_before
    done = sum(len(share) for share in shares)
    return {"executions": done, "seconds": elapsed, "executions_per_s": done / elapsed,
            "calls_per_s": calls / elapsed, "describes_per_execution": calls / done - 1,
            "server_cpu_ms_per_execution": server_cpu * 1000 / done}


def split(runs: list[Run]) -> tuple[list[Run], list[Run]]:
    return runs[:2], runs[2:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=400, help="per Stepline measurement")
    parser.add_argument("--moto-executions", type=int, default=60, help="per moto measurement")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args()
    results: dict[str, dict[str, dict[str, float]]] = {}
    modes = {"sequential": 1, f"{options.threads} threads": options.threads}
    with stepline_server() as (endpoint, pid):
        results["stepline"] = {mode: measure(endpoint, pid, options.executions, threads, None)
                               for mode, threads in modes.items()}
    with moto_server() as (endpoint, pid):
        accounts = Accounts()
        results["moto"] = {mode: measure(endpoint, pid, options.moto_executions, threads,
                                         accounts)
                           for mode, threads in modes.items()}
    print(f"{'mode':<12} {'server':<9} {'execs':>6} {'exec/s':>9} {'calls/s':>9} "
          f"{'describes/exec':>15} {'server CPU ms/exec':>19}")
    for mode in modes:
        for server in ("stepline", "moto"):
            row = results[server][mode]
            print(f"{mode:<12} {server:<9} {row['executions']:>6.0f} "
                  f"{row['executions_per_s']:>9.1f} {row['calls_per_s']:>9.1f} "
                  f"{row['describes_per_execution']:>15.2f} "
                  f"{row['server_cpu_ms_per_execution']:>19.2f}")
        ratio = (results["stepline"][mode]["executions_per_s"]
                 / results["moto"][mode]["executions_per_s"])
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        cpu_ratio = (results["moto"][mode]["server_cpu_ms_per_execution"]
                     / results["stepline"][mode]["server_cpu_ms_per_execution"])
        print(f"{mode:<12} ratio     {ratio:.1f}x exec/s ({verdict} the {TARGET_RATIO:.0f}x "
              f"target); server CPU per execution {cpu_ratio:.1f}x less")
    if options.json is not None:
        options.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
