"""The API server the tests talk to: `python -m tests.api._server PORT`, a virtual-clock
Runtime with the task handlers the tests use."""

from __future__ import annotations

import sys
from typing import Any

import anyio

from runtime.api.server import serve
from runtime.engine import Runtime


def double(value: Any) -> Any:
    return {"doubled": value["n"] * 2}


async def block(value: Any) -> Any:
    """Long enough to stop an execution while it runs. Not forever: an in-flight call holds
    the virtual clock still for every execution, and stopping does not cancel it."""
    await anyio.sleep(1.0)
    return value


async def main(port: int) -> None:
    runtime = Runtime(clock="virtual")
    runtime.register_task("double", double)
    runtime.register_task("block", block)
    await serve(port=port, runtime=runtime)


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]))
