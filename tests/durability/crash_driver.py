"""Runs the fault-injection workloads on a file store until every execution has ended;
killed with SIGKILL at random points by the test, then started again on the same store.

Usage: python -m tests.durability.crash_driver STORE COUNT
"""

from __future__ import annotations

import sys

import anyio

from runtime import AslError, Runtime
from tests.durability.workloads import DEFINITIONS, INPUTS, TASKS, plan


async def drive(store: str, count: int) -> None:
    async with Runtime(store=store, durability="group", tasks=TASKS) as rt:
        arns = {kind: await rt.create_state_machine(kind, definition)
                for kind, definition in DEFINITIONS.items()}
        started = {e.name for e in rt.list_executions()}
        for name, kind in plan(count):
            if name not in started:
                try:
                    await rt.start_execution(arns[kind], INPUTS[kind], name=name)
                except AslError as error:
                    if error.code != "ExecutionAlreadyExists":
                        raise
        for execution in rt.list_executions():
            await rt.wait(execution.execution_arn)
    print("DONE", flush=True)


if __name__ == "__main__":
    anyio.run(drive, sys.argv[1], int(sys.argv[2]))
