"""The ASGI application: one route, `POST /`, dispatched on `X-Amz-Target` to `ACTIONS`.

Security: who a request acts for is decided by an `Authentication` (runtime.api.accounts)
before anything else is looked at. By default signatures are accepted UNVERIFIED and every
caller is the default account, which is safe only on loopback (the CLI refuses other addresses
unless given `--auth` or `--allow-unauthenticated`); with `Authentication(keys, verify=True)`
every request's SigV4 signature is checked and the request is served by its account's Runtime.

Failures: an `AslError` becomes AWS's error JSON with HTTP 400 (authentication errors
included, as AWS's JSON services answer them); a malformed or oversized body becomes
SerializationException / ValidationException; anything unexpected is logged with its
traceback and answered with a bare `InternalFailure` (HTTP 500), never the traceback.
"""

from __future__ import annotations

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from runtime.api.accounts import Accounts, Authentication, Caller
from runtime.api.handlers import ACTIONS
from runtime.api.protocol import (
    CONTENT_TYPE,
    MAX_BODY_BYTES,
    decode_body,
    encode_error,
    encode_result,
    operation_of,
)
from runtime.api.service import StepFunctions
from runtime.api.sigv4 import SignedRequest
from runtime.console import console_routes
from runtime.engine import Runtime
from runtime.errors import AslError
from runtime.metrics import metrics_route

log = structlog.get_logger("stepline.api")


def create_app(target: Runtime | Accounts, *, seed: int | None = None,
               authentication: Authentication | None = None) -> Starlette:
    """An app serving `target`: one Runtime for every caller, or the Runtimes of `Accounts`.
    A Runtime must be running (inside its `async with`), Accounts entered, while the app
    serves requests. `authentication` defaults to unverified signatures and the default
    account. `seed` fixes alias routing draws (tests)."""
    accounts = target if isinstance(target, Accounts) else Accounts(runtimes=[target])
    gate = authentication if authentication is not None else Authentication()
    apis: dict[Runtime, StepFunctions] = {}

    async def dispatch(request: Request) -> Response:
        operation = request.headers.get("x-amz-target")
        caller: Caller | None = None
        try:
            raw = await _read(request)
            if len(raw) > MAX_BODY_BYTES:
                decode_body(raw)  # refuses it before any hashing or parsing
            caller = gate.caller(_signed(request, raw))
            runtime = await accounts.runtime(caller.account, caller.region)
            api = apis.get(runtime)
            if api is None:
                api = apis[runtime] = StepFunctions(runtime, seed=seed)
            action = operation_of(operation)
            handler = ACTIONS.get(action)
            if handler is None:
                raise AslError("UnknownOperationException", f"Unknown operation: {action}")
            status, payload = 200, encode_result(await handler(api, decode_body(raw)))
        except AslError as error:
            status, payload = encode_error(error)
        except Exception:
            log.exception("api_request_failed", operation=operation,
                          account=caller.account if caller else None,
                          region=caller.region if caller else None)
            status, payload = encode_error(AslError("InternalFailure",
                                                    "The server encountered an internal error"))
        return Response(payload, status_code=status, media_type=CONTENT_TYPE)

    routes: list[BaseRoute] = [Route("/", dispatch, methods=["POST"])]
    if not gate.verify:
        # The console checks no signatures: it is served only where the API does not either.
        routes += console_routes(accounts.default_runtime)
        routes.append(metrics_route(lambda: [runtime.metrics for runtime in accounts.runtimes]))
    return Starlette(routes=routes)


def _signed(request: Request, body: bytes) -> SignedRequest:
    """The request as its signature covers it: the path and query as sent, not decoded."""
    scope = request.scope
    raw_path = scope.get("raw_path")
    return SignedRequest(
        method=request.method,
        path=raw_path.decode("latin-1") if raw_path else scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=tuple((name.decode("latin-1").lower(), value.decode("latin-1"))
                      for name, value in scope["headers"]),
        body=body)


async def _read(request: Request) -> bytes:
    """The body, refusing to buffer more than the limit (a lying Content-Length included)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return b" " * (MAX_BODY_BYTES + 1)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            break
        chunks.append(chunk)
    return b"".join(chunks) if size <= MAX_BODY_BYTES else b" " * (MAX_BODY_BYTES + 1)
