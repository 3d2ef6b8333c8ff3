"""One measurement in its own process: `python -m bench.child KIND 'JSON-ARGUMENTS'`.

The parent (`python -m bench`) reads the last `RESULT {...}` line of stdout. A fresh process
per measurement makes each peak RSS (ru_maxrss) that measurement's own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import msgspec

from bench.system import report_to_parent
from bench.workloads import Workload


def _workload(arguments: dict[str, Any]) -> Workload:
    return msgspec.convert(arguments["workload"], Workload)


def _run_async(function: Callable[..., Awaitable[dict[str, Any]]], *args: Any
               ) -> dict[str, Any]:
    result: dict[str, Any] = anyio.run(function, *args)
    return result


def run(kind: str, arguments: dict[str, Any]) -> dict[str, Any]:
    if kind == "stepline":
        from bench.stepline import measure_throughput
        # One core, so the figure is what one core does whatever else the machine runs.
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
        return _run_async(measure_throughput, _workload(arguments), arguments["seconds"],
                          arguments["clock"])
    if kind == "moto":
        from bench.moto_peer import measure_in_process
        return measure_in_process(_workload(arguments), arguments["reps"])
    if kind == "moto-http":
        from bench.moto_peer import measure_http
        return measure_http(_workload(arguments), arguments["reps"],
                            arguments["round_trip_samples"])
    if kind == "waiting":
        from bench.scale import measure_waiting
        return _run_async(measure_waiting, _workload(arguments), arguments["executions"],
                          arguments["wait_seconds"])
    if kind == "completion":
        from bench.scale import measure_completion
        return _run_async(measure_completion, _workload(arguments), arguments["executions"],
                          arguments["limit_s"])
    raise SystemExit(f"unknown measurement {kind!r}")


def main() -> None:
    kind, arguments = sys.argv[1], msgspec.json.decode(sys.argv[2])
    report_to_parent(run(kind, arguments))


if __name__ == "__main__":
    main()
