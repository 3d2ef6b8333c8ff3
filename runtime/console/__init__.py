"""The Stepline web console: a Starlette app serving the page (static HTML/CSS/JS, the
third-party code prebuilt in static/vendor/) and its JSON API under `api/`.

Mount it beside the AWS JSON 1.0 API, on the same server, with `console_routes`::

    Starlette(routes=[Route("/", dispatch, methods=["POST"]), *console_routes(lambda: rt)])

for a single-process Runtime (`get_runtime` is called at each request, so the app may be built
before the Runtime is entered), or over a cluster's PostgreSQL store::

    console_routes(ClusterSource(ClusterBackend(client)))

Like the AWS API, the console authenticates nobody: serve it on loopback.
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
from runtime.console.sources import ConsoleSource, RuntimeSource
from runtime.engine import Runtime

__all__ = ["console_app", "console_routes"]

#: What the console serves: a Runtime, found at each request, or a source.
Target = Callable[[], Runtime] | ConsoleSource

STATIC: Final = Path(__file__).parent / "static"


def console_app(target: Target) -> Starlette:
    api = ConsoleApi(_source_getter(target))
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
            get("/map-runs", api.map_runs),
            get("/map-run", api.map_run),
        ]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])


def console_routes(target: Target, path: str = "/console") -> list[BaseRoute]:
    """The console mounted at `path`, and `path` itself redirecting to `path/` (a Mount does
    not answer its own path without the slash)."""

    async def to_index(request: Request) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}{path}/")

    return [Route(path, to_index, methods=["GET"]), Mount(path, console_app(target))]


def _source_getter(target: Target) -> Callable[[], ConsoleSource]:
    if not callable(target):
        return lambda: target
    get_runtime = target
    sources: dict[Runtime, ConsoleSource] = {}

    def source() -> ConsoleSource:
        runtime = get_runtime()
        found = sources.get(runtime)
        if found is None:
            found = sources[runtime] = RuntimeSource(runtime)
        return found

    return source
