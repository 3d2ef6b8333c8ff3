"""API round trips: StartExecution, then DescribeExecution until the execution has finished,
over HTTP with boto3, against `stepline serve` (virtual clock) and moto's server, in one run.

    python -m bench.api_roundtrip [--executions 800] [--moto-executions 120] [--threads 8]
                                  [--processes 2 4 8] [--raw-processes 2]
                                  [--profile stepline.svg]

Both servers run as subprocesses on 127.0.0.1 (free ports) and are stopped by PID. The
workload is one Pass state. An execution counts once it is seen finished: its throughput is
executions per second of wall time; the API calls it took (1 start + the describes) are
reported too, and each server's CPU time per execution (from /proc: Linux only). Polling
does not sleep, the same for both servers. The boto3 client costs about as much CPU per call
as Stepline's server does to answer it, and its threads share one GIL: the execution rate
measures client and server together, the CPU column the server alone.

To load the servers rather than one client's GIL, the `--processes` rows split the same
executions over N client processes, each with its own boto3 client, started (and warmed up
with one execution each) before the clock starts. On a machine with few cores those clients
compete with the server for CPU (a boto3 call costs more CPU than answering it), so the
client processes run niced (the server, either one, comes first when it has work) and
wall-clock throughput there is still bounded by client CPU as much as by the server. The
capacity figure is therefore the server's own CPU per execution (its single-core ceiling is
1000 / that many executions per second); "busy" says how much of one core the server got,
and the client CPU column what the clients spent. The `--raw-processes` rows do the same
with `RawClient` (bare HTTP requests, about a sixth of boto3's CPU per call): there the
server, not the clients, is what runs out, and wall-clock throughput is the server's own capacity.
`--profile` samples the Stepline server with py-spy (which must be on PATH) under the last
mode's load, in an extra, untimed run.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
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
CLIENT_NICENESS: Final = 10
_PREPARED: Final = itertools.count()
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


class RawClient:
    """StartExecution and DescribeExecution as bare AWS JSON 1.0 requests on one kept-alive
    connection, with a fixed (unverified, by both servers) SigV4 Authorization header: about
    a sixth of boto3's CPU per call, so that the server rather than the client is what a
    few of them saturate."""

    _AUTHORIZATION: Final = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/states/"
                             "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, "
                             "Signature=" + "0" * 64)

    def __init__(self, endpoint: str, accounts: Accounts | None) -> None:
        host, port = endpoint.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self._accounts = accounts

    def start_execution(self, **members: str) -> dict[str, Any]:
        return self._call("StartExecution", members)

    def describe_execution(self, **members: str) -> dict[str, Any]:
        return self._call("DescribeExecution", members)

    def _call(self, operation: str, members: dict[str, str]) -> dict[str, Any]:
        headers = {"Content-Type": "application/x-amz-json-1.0",
                   "X-Amz-Target": f"AWSStepFunctions.{operation}",
                   "X-Amz-Date": "20260101T000000Z", "Authorization": self._AUTHORIZATION}
        if self._accounts is not None:
            headers["x-moto-account-id"] = self._accounts.current
        self._connection.request("POST", "/", body=json.dumps(members), headers=headers)
        response = self._connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{operation}: HTTP {response.status} {body[:200]!r}")
        answer: dict[str, Any] = json.loads(body)
        return answer


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
    # A new state machine each time: execution names repeat across measurements.
    name = f"round-trip-{label}-{next(_PREPARED)}"
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


def execute(runs: Sequence[Run], sfn: Any, accounts: Accounts | None) -> int:
    """Start and poll each run to the end, checking it succeeded; the number of API calls
    made. `accounts` is the client's header setter when each run has its own account."""
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
        if described["status"] != "SUCCEEDED":
            raise AssertionError(f"{arn}: {described['status']} {described.get('cause')}")
    return calls


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(done: int, calls: int, seconds: float, server_cpu: float, client_cpu: float
            ) -> dict[str, float]:
    return {"executions": done, "seconds": seconds, "executions_per_s": done / seconds,
            "calls_per_s": calls / seconds, "describes_per_execution": calls / done - 1,
            "server_cpu_ms_per_execution": server_cpu * 1000 / done,
            "server_busy": server_cpu / seconds,
            "client_cpu_ms_per_execution": client_cpu * 1000 / done}


def measure_threads(endpoint: str, pid: int, executions: int, threads: int,
                    accounts: Accounts | None) -> dict[str, float]:
    """`threads` clients in this process; their CPU is this process's."""
    runs = prepare(endpoint, executions + threads, f"t{threads}", accounts)
    warm_ups, timed = runs[:threads], runs[threads:]
    shares = [timed[index::threads] for index in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def worker(warm_up: Run, share: list[Run]) -> int:
        headers = Accounts() if accounts is not None else None
        sfn = client(endpoint, headers)
        execute([warm_up], sfn, headers)
        barrier.wait()
        return execute(share, sfn, headers)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, warm_up, share)
                   for warm_up, share in zip(warm_ups, shares, strict=True)]
        barrier.wait()
        cpu_before, client_before = server_cpu_s(pid), time.process_time()
        started = time.perf_counter()
        calls = sum(future.result() for future in futures)
        elapsed = time.perf_counter() - started
        server_cpu = server_cpu_s(pid) - cpu_before
        client_cpu = time.process_time() - client_before
    return summary(len(timed), calls, elapsed, server_cpu, client_cpu)


def client_process(endpoint: str, raw: bool, account_per_run: bool, warm_up: Run,
                   share: list[Run], barrier: Any, results: Any) -> None:
    """One client process: its own client (boto3, or `RawClient` when `raw`), warmed up
    before the barrier; puts
    (executions, calls, CPU seconds) for its timed share. It runs at a lower priority than
    the server, so that the server gets a core whenever it has work: at equal priority the
    scheduler would give it 1/(N+1) of the machine, and N clients would throttle it."""
    os.nice(CLIENT_NICENESS)
    headers = Accounts() if account_per_run else None
    sfn = RawClient(endpoint, headers) if raw else client(endpoint, headers)
    execute([warm_up], sfn, headers)
    barrier.wait()
    cpu_before = time.process_time()
    calls = execute(share, sfn, headers)
    results.put((len(share), calls, time.process_time() - cpu_before))


def measure_processes(endpoint: str, pid: int, executions: int, processes: int,
                      accounts: Accounts | None, *, raw: bool) -> dict[str, float]:
    """`processes` client processes sharing the executions; the clock runs from the moment
    all of them are ready until the last one has finished its share."""
    runs = prepare(endpoint, executions + processes, f"p{processes}", accounts)
    warm_ups, timed = runs[:processes], runs[processes:]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [context.Process(target=client_process,
                               args=(endpoint, raw, accounts is not None, warm_up,
                                     timed[index::processes], barrier, results))
               for index, warm_up in enumerate(warm_ups)]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=60)
        cpu_before = server_cpu_s(pid)
        started = time.perf_counter()
        finished = [results.get(timeout=600) for _ in workers]
        elapsed = time.perf_counter() - started
        server_cpu = server_cpu_s(pid) - cpu_before
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
                worker.join()
    if any(worker.exitcode != 0 for worker in workers):
        raise RuntimeError("a client process failed")
    return summary(sum(done for done, _, _ in finished), sum(calls for _, calls, _ in finished),
                   elapsed, server_cpu, sum(cpu for _, _, cpu in finished))


@contextmanager
def sampled(pid: int, output: Path | None) -> Iterator[None]:
    """py-spy samples `pid` while the block runs (nothing when `output` is None); it writes
    `output` (format by suffix: .svg flame graph, .json speedscope, else collapsed stacks)."""
    if output is None:
        yield
        return
    spy = shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("--profile needs py-spy on PATH (pip install py-spy)")
    formats = {".svg": "flamegraph", ".json": "speedscope"}
    recorder = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--nonblocking", "--rate", "500", "--output",
         str(output), "--format", formats.get(output.suffix, "raw")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # attaching takes a moment
    try:
        yield
    finally:
        recorder.send_signal(2)  # SIGINT: py-spy writes its output and exits
        recorder.wait(30)


Mode = tuple[str, str, int]


def measure(endpoint: str, pid: int, executions: int, mode: Mode, accounts: Accounts | None
            ) -> dict[str, float]:
    _, kind, clients = mode
    if kind == "threads":
        return measure_threads(endpoint, pid, executions, clients, accounts)
    return measure_processes(endpoint, pid, executions, clients, accounts, raw=kind == "raw")


def print_table(modes: list[Mode], results: dict[str, dict[str, dict[str, float]]]) -> None:
    print(f"{'mode':<13} {'server':<9} {'execs':>6} {'exec/s':>8} {'calls/s':>8} "
          f"{'desc/exec':>9} {'server CPU ms/exec':>18} {'busy':>5} "
          f"{'client CPU ms/exec':>18}")
    for label, _, _ in modes:
        for server in ("stepline", "moto"):
            row = results[server][label]
            print(f"{label:<13} {server:<9} {row['executions']:>6.0f} "
                  f"{row['executions_per_s']:>8.1f} {row['calls_per_s']:>8.1f} "
                  f"{row['describes_per_execution']:>9.2f} "
                  f"{row['server_cpu_ms_per_execution']:>18.3f} "
                  f"{row['server_busy']:>5.0%} {row['client_cpu_ms_per_execution']:>18.3f}")
        ratio = (results["stepline"][label]["executions_per_s"]
                 / results["moto"][label]["executions_per_s"])
        cpu_ratio = (results["moto"][label]["server_cpu_ms_per_execution"]
                     / results["stepline"][label]["server_cpu_ms_per_execution"])
        print(f"{label:<13} ratio     wall {ratio:.1f}x ({_verdict(ratio)}); "
              f"server capacity (CPU per execution) {cpu_ratio:.1f}x ({_verdict(cpu_ratio)})")


def _verdict(ratio: float) -> str:
    return f"{'meets' if ratio >= TARGET_RATIO else 'misses'} {TARGET_RATIO:.0f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=800, help="per Stepline measurement")
    parser.add_argument("--moto-executions", type=int, default=120,
                        help="per moto measurement")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--processes", type=int, nargs="*", default=[2, 4, 8],
                        help="client process counts")
    parser.add_argument("--raw-processes", type=int, nargs="*", default=[2],
                        help="client process counts with RawClient instead of boto3")
    parser.add_argument("--profile", type=Path,
                        help="py-spy profile of the Stepline server, written here")
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args()
    modes: list[Mode] = [("sequential", "threads", 1),
                         (f"{options.threads} threads", "threads", options.threads)]
    modes += [(f"{count} processes", "processes", count) for count in options.processes]
    modes += [(f"{count} raw procs", "raw", count) for count in options.raw_processes]
    results: dict[str, dict[str, dict[str, float]]] = {"stepline": {}, "moto": {}}
    with stepline_server() as (endpoint, pid):
        for mode in modes:
            results["stepline"][mode[0]] = measure(endpoint, pid, options.executions, mode, None)
        if options.profile is not None:
            # Untimed: the sampler's own CPU would count against the server's.
            with sampled(pid, options.profile):
                measure(endpoint, pid, options.executions, modes[-1], None)
    with moto_server() as (endpoint, pid):
        accounts = Accounts()
        for mode in modes:
            results["moto"][mode[0]] = measure(endpoint, pid, options.moto_executions, mode,
                                               accounts)
    print_table(modes, results)
    if options.json is not None:
        options.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
