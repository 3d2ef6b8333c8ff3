"""The Stepline web console: a Starlette app serving the page (static HTML/CSS/JS, the
third-party code prebuilt in static/vendor/) and its JSON API under `api/`.

Mount it beside the AWS JSON 1.0 API, on the same server, with `console_routes`::

    Starlette(routes=[Route("/", dispatch, methods=["POST"]), *console_routes(lambda: rt)])

`get_runtime` is called at each request, so the app may be built before the Runtime is
entered. Like the AWS API, the console authenticates nobody: serve it on loopback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from runtime.console.handlers import ConsoleApi, Handler, guarded
from runtime.engine import Runtime

__all__ = ["console_app", "console_routes"]

STATIC: Final = Path(__file__).parent / "static"


def console_app(get_runtime: Callable[[], Runtime]) -> Starlette:
    api = ConsoleApi(get_runtime)
    page = (STATIC / "index.html").read_text(encoding="utf-8")

    async def index(request: Request) -> Response:
        # The page's relative URLs (static/, api/) resolve against wherever it is mounted.
        base = request.scope.get("root_path", "").rstrip("/") + "/"
        return HTMLResponse(page.replace("{{base}}", base))

    def post(path: str, handler: Handler) -> Route:
        return Route(path, guarded(handler), methods=["POST"])

    def get(path: str, handler: Handler) -> Route:
        return Route(path, guarded(handler), methods=["GET"])

    return Starlette(routes=[
        Route("/", index, methods=["GET"]),
        Mount("/api", routes=[
            get("/state-machines", api.list_state_machines),
            post("/state-machines", api.create_state_machine),
            get("/state-machine", api.describe_state_machine),
            post("/state-machine", api.update_state_machine),
            post("/delete-state-machine", api.delete_state_machine),
            post("/validate", api.validate),
            post("/graph", api.graph),
            get("/executions", api.list_executions),
            post("/executions", api.start_execution),
            get("/execution", api.describe_execution),
            post("/stop", api.stop_execution),
            get("/state-at", api.state_at),
            post("/fork", api.fork),
            post("/redrive", api.redrive),
        ]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])


def console_routes(get_runtime: Callable[[], Runtime], path: str = "/console"
                   ) -> list[BaseRoute]:
    """The console mounted at `path`, and `path` itself redirecting to `path/` (a Mount does
    not answer its own path without the slash)."""

    async def to_index(request: Request) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}{path}/")

    return [Route(path, to_index, methods=["GET"]), Mount(path, console_app(get_runtime))]
