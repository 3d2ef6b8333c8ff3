"""Fault injection: a batch of executions is killed with SIGKILL at random points, several
times, and resumed from its file store; every execution must end as an uninterrupted run ends
(same output, same sequence of event types), none lost and none completed twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime import Runtime
from tests.durability.workloads import DEFINITIONS, INPUTS, TASKS, plan

COUNT = 200
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _reference() -> dict[str, tuple[object, list[str]]]:
    """Output and event types of one uninterrupted run per workload (virtual clock)."""
    found = {}
    async with Runtime(clock="virtual") as rt:
        for name, handler in TASKS.items():
            rt.register_task(name, handler)
        for kind, definition in DEFINITIONS.items():
            done = await rt.run(definition, INPUTS[kind])
            types = [e["type"] for e in rt.get_execution_history(done.execution_arn)]
            found[kind] = (done.output, types)
    return found


def _run_driver(store: Path, kill_after: float | None) -> bool:
    """Run the driver; kill it after `kill_after` seconds. True if it finished by itself."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.durability.crash_driver", str(store), str(COUNT)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = process.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        return False
    assert process.returncode == 0, err[-2000:]
    return "DONE" in out


@pytest.mark.anyio
async def test_killed_executions_resume_and_end_like_uninterrupted_runs(tmp_path: Path) -> None:
    reference = await _reference()
    rng = random.Random(20261128)
    store = tmp_path / "store"
    kills = 0
    deadline = time.monotonic() + 240
    while kills < 4 and time.monotonic() < deadline:
        if _run_driver(store, kill_after=rng.uniform(0.7, 1.6)):
            break
        kills += 1
    assert kills >= 3, "the batch finished before it could be killed three times"
    assert _run_driver(store, kill_after=None)

    async with Runtime(store=store, tasks=TASKS) as rt:
        executions = {e.name: e for e in rt.list_executions()}
        assert sorted(executions) == sorted(name for name, _ in plan(COUNT))
        for name, kind in plan(COUNT):
            execution = executions[name]
            want_output, want_types = reference[kind]
            assert execution.status == "SUCCEEDED", (name, execution.error, execution.cause)
            assert execution.output == want_output, name
            history = rt.get_execution_history(execution.execution_arn)
            assert [e["type"] for e in history] == want_types, name
            assert [e["id"] for e in history] == list(range(1, len(history) + 1))
