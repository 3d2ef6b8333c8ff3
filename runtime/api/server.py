"""`serve()`: the API on uvicorn, in the same event loop as the Runtimes it serves.

The CLI calls it as::

    accounts = Accounts.per_caller(clock="system", store="data")
    anyio.run(partial(serve, "0.0.0.0", 8083, accounts=accounts,
                      authentication=Authentication(load_access_keys("keys.json"),
                                                    verify=True)))

and an embedding program with one Runtime as ``await serve(port=8083, runtime=runtime)``.
`serve` enters the Runtime(s) itself, so executions, timers and requests share one loop; it
returns when uvicorn shuts down (SIGINT/SIGTERM), closing every Runtime it opened. Binding a
non-loopback address without `Authentication(verify=True)` is the caller's decision (the CLI
refuses it unless told otherwise).
"""

from __future__ import annotations

import anyio
import uvicorn

from runtime.api.accounts import Accounts, Authentication
from runtime.api.app import create_app
from runtime.engine import Runtime


async def serve(host: str = "127.0.0.1", port: int = 8083, runtime: Runtime | None = None, *,
                accounts: Accounts | None = None, authentication: Authentication | None = None,
                started: anyio.Event | None = None, log_level: str = "warning") -> None:
    """Serve the Step Functions API until the server is asked to stop.

    Args:
        runtime: the one Runtime serving every caller (a fresh system-clock Runtime when
            neither it nor `accounts` is given).
        accounts: Runtimes per account and region instead (see `Accounts`).
        authentication: who requests act for; unverified, default account when None.
        started: set once the socket accepts requests.
    """
    if accounts is None:
        accounts = Accounts(runtimes=[runtime if runtime is not None else Runtime()])
    elif runtime is not None:
        raise ValueError("pass either a runtime or accounts, not both")
    async with accounts:
        app = create_app(accounts, authentication=authentication)
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port,
                                               log_level=log_level, lifespan="off"))
        if started is None:
            await server.serve()
            return
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve)
            while not server.started:
                await anyio.sleep(0.01)
            started.set()
