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

`serve_cluster(dsn, ...)` serves the same API from a PostgreSQL store (`stepline serve --store
postgresql://...`): requests read and write the database through a `ClusterClient`, and
executions advance in whichever cluster workers run: `workers` of them in this process, any
number more as `stepline worker` processes. It serves one account and region, and (where
signatures are not verified, as `serve` does) the console over the database and /metrics
(see `runtime.metrics.render_cluster_metrics` for what a cluster server counts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from integrations.mocks import MockConfig
from integrations.python import TaskHandler
from runtime.api.accounts import Accounts, Authentication
from runtime.api.app import _read, _signed, create_app
from runtime.api.backend import ClusterBackend
from runtime.api.handlers import ACTIONS
from runtime.api.protocol import (
    CONTENT_TYPE,
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    MAX_BODY_BYTES,
    decode_body,
    encode_error,
    encode_result,
    operation_of,
)
from runtime.api.service import StepFunctions
from runtime.cluster import ClusterClient, Worker
from runtime.console import console_routes
from runtime.console.sources import ClusterSource
from runtime.engine import Runtime
from runtime.errors import AslError
from runtime.log.pg_schema import DEFAULT_SCHEMA
from runtime.metrics import cluster_metrics_route

log = structlog.get_logger("stepline.api")


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


async def serve_cluster(dsn: str, host: str = "127.0.0.1", port: int = 8083, *,
                        workers: int = 1, tasks: Mapping[str, TaskHandler] | None = None,
                        schema: str = DEFAULT_SCHEMA, account: str = DEFAULT_ACCOUNT,
                        region: str = DEFAULT_REGION,
                        authentication: Authentication | None = None,
                        mocks: MockConfig | None = None,
                        started: anyio.Event | None = None, log_level: str = "warning") -> None:
    """Serve the Step Functions API from the PostgreSQL database `dsn` until the server is
    asked to stop, running `workers` cluster workers (with `tasks`) beside it.

    Args:
        mocks: a mock configuration: StartExecution accepts `stateMachineArn#TestCase` for
            its test cases, and this process's workers answer from it (give the same one to
            every `stepline worker` on the database).
        account, region: the one account and region served; with verified signatures, a
            caller of another account is refused (AccessDeniedException).
        started: set once the workers are connected and the socket accepts requests.

    Raises:
        OSError, asyncpg.PostgresError: the database cannot be reached at start.
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    gate = authentication if authentication is not None else Authentication()
    async with await ClusterClient.open(dsn, schema=schema, region=region,
                                        account=account, mocks=mocks) as client:
        backend = ClusterBackend(client)
        running = [Worker(dsn, tasks=tasks, schema=schema, region=region, mocks=mocks)
                   for _ in range(workers)]
        app = cluster_app(StepFunctions(backend), gate, routes=[] if gate.verify else
                          cluster_console_routes(backend, running))
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port,
                                               log_level=log_level, lifespan="off"))
        async with anyio.create_task_group() as group:
            for worker in running:
                await group.start(worker.run)
            group.start_soon(_serve_then_stop, server, group.cancel_scope)
            while not server.started:
                await anyio.sleep(0.01)
            if started is not None:
                started.set()


async def _serve_then_stop(server: uvicorn.Server, workers: anyio.CancelScope) -> None:
    await server.serve()
    workers.cancel()


def cluster_console_routes(backend: ClusterBackend, workers: Sequence[Worker]
                           ) -> list[BaseRoute]:
    """The console over the cluster's store, and /metrics: the running executions read from
    the database, the counts of `workers` (this process's) beside them."""

    async def running_machines() -> list[str]:
        return [e.state_machine_arn for e in await backend.list_executions(None, "RUNNING")]

    return [*console_routes(ClusterSource(backend)),
            cluster_metrics_route(running_machines, [worker.stats for worker in workers])]


def cluster_app(api: StepFunctions, authentication: Authentication, *,
                routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The API's one route, `POST /`, answered by `api` for every caller (see `create_app`
    for the error mapping, which this follows), beside `routes`."""
    account = api.backend.account

    async def dispatch(request: Request) -> Response:
        operation = request.headers.get("x-amz-target")
        try:
            raw = await _read(request)
            if len(raw) > MAX_BODY_BYTES:
                decode_body(raw)  # refuses it before any hashing or parsing
            caller = authentication.caller(_signed(request, raw))
            if authentication.verify and caller.account != account:
                raise AslError("AccessDeniedException",
                               f"This server serves account {account} only")
            action = operation_of(operation)
            handler = ACTIONS.get(action)
            if handler is None:
                raise AslError("UnknownOperationException", f"Unknown operation: {action}")
            status, payload = 200, encode_result(await handler(api, decode_body(raw)))
        except AslError as error:
            status, payload = encode_error(error)
        except Exception:
            log.exception("api_request_failed", operation=operation)
            status, payload = encode_error(AslError("InternalFailure",
                                                    "The server encountered an internal error"))
        return Response(payload, status_code=status, media_type=CONTENT_TYPE)

    return Starlette(routes=[Route("/", dispatch, methods=["POST"]), *routes])
