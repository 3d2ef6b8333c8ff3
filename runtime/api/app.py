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

from collections.abc import Awaitable, Callable

import structlog
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

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

Headers = tuple[tuple[str, str], ...]
#: Answers one `POST /`: (HTTP status, JSON body).
Answer = Callable[[Scope, Receive], Awaitable[tuple[int, bytes]]]
_CONTENT_TYPE_HEADER = (b"content-type", CONTENT_TYPE.encode("latin-1"))


def create_app(target: Runtime | Accounts, *, seed: int | None = None,
               authentication: Authentication | None = None) -> ASGIApp:
    """An app serving `target`: one Runtime for every caller, or the Runtimes of `Accounts`.
    A Runtime must be running (inside its `async with`), Accounts entered, while the app
    serves requests. `authentication` defaults to unverified signatures and the default
    account. `seed` fixes alias routing draws (tests)."""
    accounts = target if isinstance(target, Accounts) else Accounts(runtimes=[target])
    gate = authentication if authentication is not None else Authentication()
    apis: dict[Runtime, StepFunctions] = {}

    async def answer(scope: Scope, receive: Receive) -> tuple[int, bytes]:
        headers = _headers(scope)
        operation = _header(headers, "x-amz-target")
        caller: Caller | None = None
        try:
            raw = await _read_body(receive, _header(headers, "content-length"))
            if len(raw) > MAX_BODY_BYTES:
                decode_body(raw)  # refuses it before any hashing or parsing
            caller = gate.caller(_signed_request(scope, headers, raw))
            runtime = await accounts.runtime(caller.account, caller.region)
            api = apis.get(runtime)
            if api is None:
                api = apis[runtime] = StepFunctions(runtime, seed=seed)
            action = operation_of(operation)
            handler = ACTIONS.get(action)
            if handler is None:
                raise AslError("UnknownOperationException", f"Unknown operation: {action}")
            return 200, encode_result(await handler(api, decode_body(raw)))
        except AslError as error:
            return encode_error(error)
        except Exception:
            log.exception("api_request_failed", operation=operation,
                          account=caller.account if caller else None,
                          region=caller.region if caller else None)
            return encode_error(AslError("InternalFailure",
                                         "The server encountered an internal error"))

    routes: list[BaseRoute] = []
    if not gate.verify:
        # The console checks no signatures: it is served only where the API does not either.
        routes += console_routes(accounts.default_runtime)
        routes.append(metrics_route(lambda: [runtime.metrics for runtime in accounts.runtimes]))
    return AwsJsonApp(answer, routes)


class AwsJsonApp:
    """`POST /` goes straight to the API's endpoint; any other request to Starlette's
    routing of `routes` (where `/` answers other methods with 405). The API's own requests
    skip Starlette's middleware, routing, Request and Response, which took 15 of the 35 us
    the app spent on a DescribeExecution; an API request needs none of them (`answer`
    handles its own errors)."""

    def __init__(self, answer: Answer, routes: list[BaseRoute]) -> None:
        self._endpoint = JsonEndpoint(answer)
        self._others = Starlette(routes=[Route("/", self._endpoint, methods=["POST"]),
                                         *routes])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Under a Mount the path is relative to root_path: Starlette routes that case.
        if (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/"
                and not scope.get("root_path")):
            await self._endpoint(scope, receive, send)
        else:
            await self._others(scope, receive, send)


class JsonEndpoint:
    """ASGI app answering every request with `answer`'s status and AWS JSON body."""

    def __init__(self, answer: Answer) -> None:
        self._answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, payload = await self._answer(scope, receive)
        await send({"type": "http.response.start", "status": status,
                    "headers": [_CONTENT_TYPE_HEADER,
                                (b"content-length", str(len(payload)).encode("latin-1"))]})
        await send({"type": "http.response.body", "body": payload})


def _headers(scope: Scope) -> Headers:
    """Names lower case, as a signature covers them; values as sent."""
    return tuple((name.decode("latin-1").lower(), value.decode("latin-1"))
                 for name, value in scope["headers"])


def _header(headers: Headers, name: str) -> str | None:
    return next((value for key, value in headers if key == name), None)


def _signed_request(scope: Scope, headers: Headers, body: bytes) -> SignedRequest:
    """The request as its signature covers it: the path and query as sent, not decoded."""
    raw_path = scope.get("raw_path")
    return SignedRequest(
        method=scope["method"],
        path=raw_path.decode("latin-1") if raw_path else scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body)


def _signed(request: Request, body: bytes) -> SignedRequest:
    """`_signed_request` for an app routed by Starlette."""
    return _signed_request(request.scope, _headers(request.scope), body)


async def _read_body(receive: Receive, declared_length: str | None) -> bytes:
    """The body, refusing to buffer more than the limit (a lying Content-Length included):
    a larger one comes back as MAX_BODY_BYTES + 1 spaces, for `decode_body` to refuse."""
    if (declared_length is not None and declared_length.isdigit()
            and int(declared_length) > MAX_BODY_BYTES):
        return b" " * (MAX_BODY_BYTES + 1)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b" " * (MAX_BODY_BYTES + 1)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _read(request: Request) -> bytes:
    """`_read_body` for an app routed by Starlette."""
    return await _read_body(request.receive, request.headers.get("content-length"))
