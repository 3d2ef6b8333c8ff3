"""The Lambda operations over a registry of functions and a pool of warm workers.

`LambdaService` is an async context manager: inside it, Event invocations run in its task
group and warm workers live; leaving it cancels pending Event invocations and stops every
worker. Operations take decoded request values and return JSON-ready dicts, or raise
`LambdaApiError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import structlog
from anyio.abc import TaskGroup

from integrations.lambda_local import code
from integrations.lambda_local.code import CodeArtifact
from integrations.lambda_local.errors import LambdaApiError
from integrations.lambda_local.logs import InvocationReport, invocation_log, log_result
from integrations.lambda_local.model import FunctionVersion, configuration
from integrations.lambda_local.names import DEFAULT_ACCOUNT, LATEST, parse_function_name
from integrations.lambda_local.registry import Registry
from integrations.lambda_local.workers import Reply, Request, Worker, WorkerLost, WorkerPool

log = structlog.get_logger("stepline.lambda")

#: Invoke payload limits (Lambda quotas): request 6 MB synchronous / 1 MB Event.
MAX_SYNC_REQUEST_BYTES = 6 * 1024 * 1024
MAX_EVENT_REQUEST_BYTES = 1024 * 1024
#: The response limit as AWS words it (6 MB + 100 bytes).
MAX_RESPONSE_BYTES = 6291556
#: Lambda's limit for the init phase, apart from the function's timeout.
INIT_TIMEOUT_SECONDS = 10
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


@dataclass(frozen=True, kw_only=True)
class InvokeResult:
    request_id: str
    status_code: int
    payload: bytes
    executed_version: str
    function_error: str | None = None
    log_result: str | None = None


@dataclass(frozen=True, kw_only=True)
class _Execution:
    payload: bytes
    failed: bool
    log: bytes


def _compact(value: dict[str, Any]) -> bytes:
    """Payloads the Lambda service writes itself (not the Python runtime) are compact JSON."""
    return json.dumps(value, separators=(",", ":")).encode()


class LambdaService:
    def __init__(self, workdir: Path, *, account: str = DEFAULT_ACCOUNT,
                 max_concurrency: int = 64, idle_seconds: float = 300.0) -> None:
        """At most `max_concurrency` invocations run at once (more wait for a slot); each
        function version keeps up to that many warm workers, for `idle_seconds` each."""
        self.workdir = workdir
        self.registry = Registry(account)
        self._packages = workdir / "functions"
        self._pool = WorkerPool(workdir / "logs", max_concurrency, idle_seconds)
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._group: TaskGroup | None = None

    async def __aenter__(self) -> LambdaService:
        self._packages.mkdir(parents=True, exist_ok=True)
        self._pool.log_dir.mkdir(parents=True, exist_ok=True)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._expire_idle_workers)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        group, self._group = self._group, None
        try:
            if group is not None:
                group.cancel_scope.cancel()
                await group.__aexit__(kind, error, traceback)
        finally:
            with anyio.CancelScope(shield=True):
                await _stop_all(self._pool.drain())

    # ---- functions -----------------------------------------------------------------------

    async def create_function(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        name, qualifier = parse_function_name(_required(params, "FunctionName"), None)
        if qualifier is not None:
            raise LambdaApiError("InvalidParameterValueException",
                                 "A function name cannot include a version or alias qualifier.")
        if params.get("PackageType", "Zip") != "Zip":
            raise LambdaApiError("InvalidParameterValueException",
                                 "Only Zip packages run in this Lambda service.")
        artifact = await self._unpack(_zip_file(params.get("Code")))
        try:
            self.registry.create(name, params, artifact, region)
        except BaseException:
            await _discard(artifact)
            raise
        if params.get("Publish") is True:
            return configuration(self.registry.publish(name, {}, region))
        return configuration(self.registry.resolve(name, None, region))

    def get_function(self, function_name: str, qualifier: str | None, region: str,
                     base_url: str) -> dict[str, Any]:
        name, qualifier = parse_function_name(function_name, qualifier)
        version = self.registry.resolve(name, qualifier, region)
        function = self.registry.function(name, region)
        location = f"{base_url}2015-03-31/functions/{name}/package?Qualifier={version.version}"
        found: dict[str, Any] = {"Configuration": configuration(version),
                                 "Code": {"RepositoryType": "S3", "Location": location}}
        if function.tags:
            found["Tags"] = dict(function.tags)
        return found

    def get_configuration(self, function_name: str, qualifier: str | None,
                          region: str) -> dict[str, Any]:
        name, qualifier = parse_function_name(function_name, qualifier)
        return configuration(self.registry.resolve(name, qualifier, region))

    def package(self, function_name: str, qualifier: str | None, region: str) -> Path:
        name, qualifier = parse_function_name(function_name, qualifier)
        return self.registry.resolve(name, qualifier, region).code.archive

    def list_functions(self, marker: str | None, max_items: int | None) -> dict[str, Any]:
        everything = self.registry.functions()
        start = next((i + 1 for i, v in enumerate(everything) if v.name == marker), 0) \
            if marker else 0
        limit = max_items if max_items and max_items > 0 else 50
        page = everything[start:start + limit]
        listed: dict[str, Any] = {"Functions": [configuration(v) for v in page]}
        if start + limit < len(everything):
            listed["NextMarker"] = page[-1].name
        return listed

    async def delete_function(self, function_name: str, qualifier: str | None,
                              region: str) -> None:
        name, qualifier = parse_function_name(function_name, qualifier)
        revisions = {v.revision_id for v in self.registry.versions(name, region)
                     if qualifier is None or v.version == qualifier}
        unused = self.registry.delete(name, qualifier, region)
        await self._retire(revisions, unused)

    async def update_code(self, function_name: str, params: dict[str, Any],
                          region: str) -> dict[str, Any]:
        name, _ = parse_function_name(function_name, None)
        before = self.registry.function(name, region).latest.revision_id
        artifact = await self._unpack(_zip_file(params))
        try:
            latest, unused = self.registry.update_code(name, artifact, region,
                                                       params.get("RevisionId"))
        except BaseException:
            await _discard(artifact)
            raise
        await self._retire({before}, {unused} if unused else set())
        if params.get("Publish") is True:
            return configuration(self.registry.publish(name, {}, region))
        return configuration(latest)

    async def update_configuration(self, function_name: str, params: dict[str, Any],
                                   region: str) -> dict[str, Any]:
        name, _ = parse_function_name(function_name, None)
        before = self.registry.function(name, region).latest.revision_id
        latest = self.registry.update_configuration(name, params, region)
        await self._retire({before}, set())
        return configuration(latest)

    # ---- versions and aliases ------------------------------------------------------------

    def publish_version(self, function_name: str, params: dict[str, Any],
                        region: str) -> dict[str, Any]:
        name, _ = parse_function_name(function_name, None)
        return configuration(self.registry.publish(name, params, region))

    def list_versions(self, function_name: str, region: str) -> dict[str, Any]:
        name, _ = parse_function_name(function_name, None)
        return {"Versions": [configuration(v) for v in self.registry.versions(name, region)]}

    def create_alias(self, function_name: str, params: dict[str, Any],
                     region: str) -> dict[str, Any]:
        name, _ = parse_function_name(function_name, None)
        return self.registry.create_alias(name, params, region).describe()

    def list_aliases(self, function_name: str, region: str) -> dict[str, Any]:
        name, _ = parse_function_name(function_name, None)
        return {"Aliases": [alias.describe() for alias in self.registry.aliases(name, region)]}

    def get_alias(self, function_name: str, alias: str, region: str) -> dict[str, Any]:
        name, _ = parse_function_name(function_name, None)
        return self.registry.alias(name, alias, region).describe()

    def update_alias(self, function_name: str, alias: str, params: dict[str, Any],
                     region: str) -> dict[str, Any]:
        name, _ = parse_function_name(function_name, None)
        return self.registry.update_alias(name, alias, params, region).describe()

    def delete_alias(self, function_name: str, alias: str, region: str) -> None:
        name, _ = parse_function_name(function_name, None)
        self.registry.delete_alias(name, alias, region)

    # ---- invocation ----------------------------------------------------------------------

    async def invoke(self, function_name: str, qualifier: str | None, payload: bytes, *,
                     request_id: str, invocation_type: str, log_type: str | None,
                     client_context: str | None, tenant_id: str | None,
                     region: str) -> InvokeResult:
        name, qualifier = parse_function_name(function_name, qualifier)
        # Invoke names the version it looked for: "Function not found: arn...:$LATEST".
        version = self.registry.resolve(name, qualifier or LATEST, region)
        if invocation_type not in INVOCATION_TYPES:
            raise LambdaApiError("InvalidParameterValueException",
                                 f"Unsupported invocation type {invocation_type}")
        limit = MAX_EVENT_REQUEST_BYTES if invocation_type == "Event" else MAX_SYNC_REQUEST_BYTES
        if len(payload) > limit:
            raise LambdaApiError("RequestTooLargeException",
                                 f"{len(payload)} byte payload is too large for the "
                                 f"{invocation_type} invocation type (limit {limit} bytes)")
        event = payload if payload.strip() else b"{}"
        try:
            json.loads(event)
        except ValueError as exc:
            raise LambdaApiError("InvalidRequestContentException",
                                 f"Could not parse request body into json: Could not parse "
                                 f"payload into json: {exc}") from None
        request = Request(request_id=request_id, payload=event,
                          invoked_function_arn=_invoked_arn(version, qualifier),
                          deadline_ms=0, client_context=_client_context(client_context),
                          tenant_id=tenant_id)
        if invocation_type == "DryRun":
            return InvokeResult(request_id=request_id, status_code=204, payload=b"",
                                executed_version=version.version)
        if invocation_type == "Event":
            assert self._group is not None, "LambdaService used outside `async with`"
            self._group.start_soon(self._run_event, version, request)
            return InvokeResult(request_id=request_id, status_code=202, payload=b"",
                                executed_version=version.version)
        execution = await self._execute(version, request)
        return InvokeResult(request_id=request_id, status_code=200, payload=execution.payload,
                            executed_version=version.version,
                            function_error="Unhandled" if execution.failed else None,
                            log_result=log_result(execution.log) if log_type == "Tail" else None)

    async def _run_event(self, version: FunctionVersion, request: Request) -> None:
        execution = await self._execute(version, request)
        if execution.failed:
            log.info("lambda_event_invocation_failed", function=version.name,
                     request_id=request.request_id, payload=execution.payload[:1000].decode(
                         errors="replace"))

    async def _execute(self, version: FunctionVersion, request: Request) -> _Execution:
        """Run one invocation on a warm worker or a new one. Function failures (errors,
        timeouts, crashes) are results with `failed`, not exceptions."""
        async with self._limiter:
            worker = self._pool.take_idle(version) or await Worker.start(version,
                                                                          self._pool.log_dir)
            outcome: _Outcome | None = None
            try:
                outcome = await _attempt(worker, version, request)
                output = worker.log_tail()
            finally:
                if outcome is None or not (outcome.reusable and self._pool.keep(worker)):
                    worker.kill()
                    with anyio.CancelScope(shield=True):
                        await worker.stop()
        report = InvocationReport(request_id=request.request_id, version=version.version,
                                  memory_size=version.memory_size,
                                  duration_ms=outcome.duration_ms,
                                  max_memory_mb=outcome.max_memory_mb, init_ms=outcome.init_ms,
                                  timed_out_after=version.timeout if outcome.timed_out else None)
        return _Execution(payload=outcome.payload, failed=outcome.failed,
                          log=invocation_log(report, output))

    async def _expire_idle_workers(self) -> None:
        while True:
            await anyio.sleep(min(self._pool.idle_seconds / 4, 30.0))
            await _stop_all(self._pool.expire())

    # ---- code and workers ----------------------------------------------------------------

    async def _unpack(self, zip_bytes: bytes) -> CodeArtifact:
        return await anyio.to_thread.run_sync(code.unpack, zip_bytes, self._packages)

    async def _retire(self, revisions: set[str], unused: set[CodeArtifact]) -> None:
        with anyio.CancelScope(shield=True):
            await _stop_all(self._pool.retire(revisions))
        for artifact in unused:
            await _discard(artifact)


async def _discard(artifact: CodeArtifact) -> None:
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(code.remove, artifact)


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    payload: bytes
    failed: bool
    #: Whether the worker may serve another invocation.
    reusable: bool = False
    timed_out: bool = False
    duration_ms: float = 0.0
    init_ms: float | None = None
    max_memory_mb: int | None = None


async def _attempt(worker: Worker, version: FunctionVersion, request: Request) -> _Outcome:
    init_ms: float | None = None
    started = time.perf_counter()
    try:
        if not worker.ready:
            failure: Reply | None = None
            with anyio.move_on_after(INIT_TIMEOUT_SECONDS):
                failure = await worker.initialise(MAX_RESPONSE_BYTES)
            if failure is not None:
                return _Outcome(payload=failure.payload or b"", failed=True)
            if not worker.ready:
                return _Outcome(payload=_timed_out(request, version.timeout), failed=True,
                                timed_out=True, duration_ms=_since(started))
            init_ms = worker.init_ms
            started = time.perf_counter()
        reply: Reply | None = None
        with anyio.move_on_after(version.timeout):
            reply = await worker.invoke(_with_deadline(request, version.timeout),
                                        MAX_RESPONSE_BYTES)
        if reply is None:
            return _Outcome(payload=_timed_out(request, version.timeout), failed=True,
                            timed_out=True, duration_ms=_since(started), init_ms=init_ms)
        payload = _too_large() if reply.payload is None else reply.payload
        return _Outcome(payload=payload, failed=reply.payload is None or reply.status != "ok",
                        reusable=True, duration_ms=_since(started), init_ms=init_ms,
                        max_memory_mb=reply.max_memory_mb)
    except WorkerLost as lost:
        return _Outcome(payload=_compact({"errorType": "Runtime.ExitError",
                                          "errorMessage": f"RequestId: {request.request_id} "
                                                          f"Error: Runtime exited with error: "
                                                          f"{lost.reason}"}),
                        failed=True, duration_ms=_since(started), init_ms=init_ms)


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def _stop_all(workers: list[Worker]) -> None:
    async with anyio.create_task_group() as group:
        for worker in workers:
            group.start_soon(worker.stop)


def _required(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise LambdaApiError("InvalidParameterValueException", f"{key} is required.")
    return value


def _zip_file(code_params: Any) -> bytes:
    encoded = code_params.get("ZipFile") if isinstance(code_params, dict) else None
    if not isinstance(encoded, str):
        raise LambdaApiError("InvalidParameterValueException",
                             "Please provide the code as a ZipFile: S3 locations and container "
                             "images are not supported by this Lambda service.")
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise LambdaApiError("InvalidParameterValueException",
                             "Could not unzip uploaded file. Please check your file, then try "
                             "to upload again.") from None


def _invoked_arn(version: FunctionVersion, qualifier: str | None) -> str:
    return f"{version.arn}:{qualifier}" if qualifier else version.arn


def _client_context(header: str | None) -> Any:
    """X-Amz-Client-Context: base64 of a JSON object (undecodable contexts are dropped)."""
    if not header:
        return None
    try:
        return json.loads(base64.b64decode(header))
    except (ValueError, binascii.Error):
        return None


def _with_deadline(request: Request, timeout: int) -> Request:
    return Request(request_id=request.request_id, payload=request.payload,
                   invoked_function_arn=request.invoked_function_arn,
                   deadline_ms=int(time.time() * 1000) + timeout * 1000,
                   client_context=request.client_context, tenant_id=request.tenant_id)


def _timed_out(request: Request, timeout: int) -> bytes:
    return _compact({"errorMessage": f"RequestId: {request.request_id} Error: Task timed out "
                                     f"after {timeout:.2f} seconds",
                     "errorType": "Sandbox.Timedout"})


def _too_large() -> bytes:
    return _compact({"errorMessage": "Response payload size exceeded maximum allowed payload "
                                     f"size ({MAX_RESPONSE_BYTES} bytes).",
                     "errorType": "Function.ResponseSizeTooLarge"})
