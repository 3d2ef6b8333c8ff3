"""A server for the console tests: the AWS JSON 1.0 API at `/` and the console at `/console`,
over one Runtime with a few Python tasks, in a thread of its own. The Runtime's clock is
virtual (Waits end at once) unless the tests need an execution that keeps running until it is
stopped: a long Wait on the system clock does that (a task that never returns would not, under
a virtual clock: virtual time stands still while any task runs, for every execution)."""

from __future__ import annotations

import socket
import threading
from functools import partial
from typing import Any, Literal

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from runtime.api.app import create_app
from runtime.console import console_routes
from runtime.engine import Runtime


class PaymentDeclined(Exception):
    pass


async def charge(order: dict[str, Any]) -> dict[str, Any]:
    """Takes a few seconds of real time (so a page polling every second sees it run, also
    on a busy machine), then declines amounts over 100."""
    await anyio.sleep(3.0)
    if order.get("amount", 0) > 100:
        raise PaymentDeclined(f"amount {order['amount']} is over the limit")
    return {"charged": order.get("amount", 0)}


flaky_calls = {"count": 0}


def flaky(value: Any) -> Any:
    """Fails every other call."""
    flaky_calls["count"] += 1
    if flaky_calls["count"] % 2:
        raise TimeoutError("try again")
    return value


def refuse(order: Any) -> Any:
    """Declines at once."""
    raise PaymentDeclined("refused")


TASKS = {"charge": charge, "flaky": flaky, "refuse": refuse}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ConsoleServer:
    """`start()` serves on 127.0.0.1:`port` until `stop()`."""

    def __init__(self, port: int, clock: Literal["virtual", "system"] = "virtual") -> None:
        self.port = port
        self.clock: Literal["virtual", "system"] = clock
        self.url = f"http://127.0.0.1:{port}"
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=anyio.run, args=(self._serve,), daemon=True)

    async def _serve(self) -> None:
        async with Runtime(clock=self.clock, tasks=TASKS) as runtime:
            app = Starlette(routes=[*console_routes(lambda: runtime),
                                    Mount("/", create_app(runtime))])
            self._server = uvicorn.Server(uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"))
            async with anyio.create_task_group() as group:
                group.start_soon(self._server.serve)
                while not self._server.started:
                    await anyio.sleep(0.01)
                self._ready.set()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("the console server did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(10)



class ClusterConsoleServer:
    """`serve_cluster` (API, console and /metrics over a PostgreSQL store, one worker in the
    same process) on 127.0.0.1:`port`, in a thread of its own, until `stop()`."""

    def __init__(self, dsn: str, schema: str, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._dsn, self._schema, self._port = dsn, schema, port
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=anyio.run, args=(self._serve,), daemon=True)

    async def _serve(self) -> None:
        from runtime.api.server import serve_cluster

        started = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(partial(serve_cluster, self._dsn, port=self._port, workers=1,
                                     tasks=TASKS, schema=self._schema, started=started))
            await started.wait()
            self._ready.set()
            while not self._stopping.is_set():
                await anyio.sleep(0.05)
            group.cancel_scope.cancel()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the cluster console server did not start")

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(15)
