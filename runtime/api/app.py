"""The ASGI application: one route, `POST /`, dispatched on `X-Amz-Target` to `ACTIONS`.

Security: request signatures (SigV4) are NOT verified. The account and region are read from
the Authorization header's credential scope for logging only; every request is served in the
Runtime's own account and region. Bind the server to loopback (the default) unless whatever
sits in front of it authenticates callers.

Failures: an `AslError` becomes AWS's error JSON with HTTP 400; a malformed or oversized body
becomes SerializationException / ValidationException; anything unexpected is logged with its
traceback and answered with a bare `InternalFailure` (HTTP 500), never the traceback.
"""

from __future__ import annotations

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.api.handlers import ACTIONS
from runtime.api.protocol import (
    CONTENT_TYPE,
    MAX_BODY_BYTES,
    decode_body,
    encode_error,
    encode_result,
    operation_of,
    request_context,
)
from runtime.api.service import StepFunctions
from runtime.engine import Runtime
from runtime.errors import AslError

log = structlog.get_logger("stepline.api")


def create_app(runtime: Runtime, *, seed: int | None = None) -> Starlette:
    """An app serving `runtime`, which must be running (inside its `async with`) while the
    app serves requests. `seed` fixes alias routing draws (tests)."""
    api = StepFunctions(runtime, seed=seed)

    async def dispatch(request: Request) -> Response:
        context = request_context(request.headers.get("authorization"))
        operation = request.headers.get("x-amz-target")
        try:
            action = operation_of(operation)
            handler = ACTIONS.get(action)
            if handler is None:
                raise AslError("UnknownOperationException", f"Unknown operation: {action}")
            body = decode_body(await _read(request))
            status, payload = 200, encode_result(await handler(api, body))
        except AslError as error:
            status, payload = encode_error(error)
        except Exception:
            log.exception("api_request_failed", operation=operation, region=context.region,
                          account=context.account)
            status, payload = encode_error(AslError("InternalFailure",
                                                    "The server encountered an internal error"))
        return Response(payload, status_code=status, media_type=CONTENT_TYPE)

    return Starlette(routes=[Route("/", dispatch, methods=["POST"])])


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
