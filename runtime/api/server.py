"""`serve()`: the API on uvicorn, in the same event loop as the Runtime it serves.

The CLI is expected to call it as::

    async def main() -> None:
        await serve(host="127.0.0.1", port=8083, runtime=Runtime(clock="system"))

    anyio.run(main)

`serve` enters the Runtime itself (`async with runtime`), so executions, timers and requests
share one loop; it returns when uvicorn shuts down (SIGINT/SIGTERM), closing the Runtime.
"""

from __future__ import annotations

import anyio
import uvicorn

from runtime.api.app import create_app
from runtime.engine import Runtime


async def serve(host: str = "127.0.0.1", port: int = 8083, runtime: Runtime | None = None, *,
                started: anyio.Event | None = None, log_level: str = "warning") -> None:
    """Serve the Step Functions API for `runtime` (a fresh system-clock Runtime by default)
    until the server is asked to stop. `started` is set once the socket accepts requests."""
    runtime = runtime if runtime is not None else Runtime()
    async with runtime:
        server = uvicorn.Server(uvicorn.Config(create_app(runtime), host=host, port=port,
                                               log_level=log_level, lifespan="off"))
        if started is None:
            await server.serve()
            return
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve)
            while not server.started:
                await anyio.sleep(0.01)
            started.set()
