"""`serve_lambda()`: the Lambda API on uvicorn, with its functions' workers in the same loop.

The CLI is expected to call it as::

    anyio.run(functools.partial(serve_lambda, "127.0.0.1", 8084, workdir=path))

It returns when uvicorn shuts down (SIGINT/SIGTERM), after stopping every worker process
(uvicorn would re-raise the signal first, killing the process before that cleanup).
Functions run arbitrary code as this user and requests are not authenticated: bind loopback
unless the caller explicitly allows otherwise (the CLI's --allow-unauthenticated).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import uvicorn

from integrations.lambda_local.app import create_lambda_app
from integrations.lambda_local.names import DEFAULT_ACCOUNT
from integrations.lambda_local.service import LambdaService

DEFAULT_PORT = 8084


class _Server(uvicorn.Server):
    """Shuts down on SIGINT/SIGTERM like uvicorn, but returns instead of re-raising the
    signal, so the functions' workers and files are cleaned up."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


async def serve_lambda(host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                       started: anyio.Event | None = None, workdir: Path | str | None = None,
                       account: str = DEFAULT_ACCOUNT, max_concurrency: int = 64,
                       log_level: str = "warning") -> None:
    """Serve the Lambda API until the server is asked to stop.

    `workdir` holds unpacked packages and worker logs (a temporary directory, removed at the
    end, when None; a given directory is left in place). `started` is set once the socket
    accepts requests. At most `max_concurrency` invocations run at once; more wait.
    """
    temporary = workdir is None
    root = Path(tempfile.mkdtemp(prefix="stepline-lambda-")) if workdir is None else Path(workdir)
    try:
        async with LambdaService(root, account=account,
                                 max_concurrency=max_concurrency) as service:
            server = _Server(uvicorn.Config(create_lambda_app(service), host=host,
                                                   port=port, log_level=log_level,
                                                   lifespan="off"))
            if started is None:
                await server.serve()
                return
            async with anyio.create_task_group() as group:
                group.start_soon(server.serve)
                while not server.started:
                    await anyio.sleep(0.01)
                started.set()
    finally:
        if temporary:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(shutil.rmtree, root, True)
