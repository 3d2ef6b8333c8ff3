"""Where the time of a Pass chain goes: cProfile over sequential executions, top functions by
own time."""

from __future__ import annotations

import cProfile
import os
import pstats
import time
from typing import Any

from bench.workloads import REPO_ROOT, Workload
from runtime import Runtime


async def profile_executions(workload: Workload, executions: int, top: int) -> dict[str, Any]:
    async with Runtime(clock="virtual") as runtime:
        machine_arn = await runtime.create_state_machine(workload.name, workload.definition)
        await runtime.run(machine_arn, workload.input)
        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.enable()
        for _ in range(executions):
            await runtime.run(machine_arn, workload.input)
        profiler.disable()
        profiled_s = time.perf_counter() - began
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in raw.values())
    transitions = executions * workload.transitions_per_execution
    ranked = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return {
        "workload": workload.name,
        "executions": executions,
        "profiled_s": profiled_s,
        "transitions_per_s_under_profiler": transitions / profiled_s,
        "functions": [
            {
                "function": _name(where),
                "calls": calls,
                "calls_per_transition": calls / transitions,
                "own_s": own,
                "own_share": own / total,
                "cumulative_s": cumulative,
                "own_us_per_transition": own / transitions * 1e6,
            }
            for where, (_, calls, own, cumulative, _) in ranked
        ],
    }


def _name(where: tuple[str, int, str]) -> str:
    filename, line, function = where
    if filename == "~":
        return function
    path = os.path.relpath(filename, REPO_ROOT) if filename.startswith(str(REPO_ROOT)) else (
        filename.rsplit("site-packages/", 1)[-1] if "site-packages" in filename
        else os.path.basename(filename))
    return f"{path}:{line}({function})"
