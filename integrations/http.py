"""The HTTP Task, `arn:aws:states:::http:invoke` (AWS "Call HTTPS APIs in Step Functions
workflows"), against any HTTP(S) endpoint.

Parameters: `ApiEndpoint` and `Method` (GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD) are
required; `Headers` and `QueryParameters` are objects (an array value repeats the name);
`RequestBody` is sent as JSON, or as it is when it is a string, or form-encoded when
`Transform.RequestBodyEncoding` is `URL_ENCODED`, arrays then written per
`Transform.RequestEncodingOptions.ArrayFormat`: INDICES (default, `a[0]=x`), REPEAT (`a=x`),
COMMAS (`a=x,y`) or BRACKETS (`a[]=x`). `Authentication` / `InvocationConfig` (an EventBridge
connection) are accepted and not used: there is no connection store here.

Result: `{"Headers": {name: [values]}, "ResponseBody": ..., "StatusCode": 200,
"StatusText": "OK"}`, the body parsed when the response says it is JSON. A status outside
2xx fails the task with `States.Http.StatusCode.<code>`, the would-be result as the cause
(JSON text); an endpoint that cannot be reached or does not answer in time fails it with
`States.Http.Socket`. Invalid parameters are `States.Runtime` errors.

An `HttpExchangeRecorder` active in the caller's context (a context variable, so concurrent
executions do not see each other's) collects each call's exchange as it went over the wire:
TestState's TRACE inspection level shows it.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType
from typing import Final, Self
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import msgspec

from integrations._base import JSON, Integration, TaskCall, TaskError

HTTP_INVOKE: Final = "arn:aws:states:::http:invoke"
_METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"})
_ARRAY_FORMATS: Final = frozenset({"INDICES", "REPEAT", "COMMAS", "BRACKETS"})

_encoder = msgspec.json.Encoder()


class HttpRequest(msgspec.Struct, frozen=True):
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None


class HttpResponse(msgspec.Struct, frozen=True):
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class HttpExchange(msgspec.Struct, frozen=True):
    """One HTTP Task call: the request as sent, headers the client added included (Host,
    User-Agent, Content-Length, Authorization from URL credentials), and the response, None
    when none came (the call failed with States.Http.Socket)."""

    request: HttpRequest
    response: HttpResponse | None


class HttpExchangeRecorder:
    """Collects, in `exchanges`, the HTTP Task calls made while it is active in the current
    context: the asyncio task that started it, and tasks that task starts afterwards. Use it as
    a context manager (`with HttpExchangeRecorder() as recorder:`), or call `start()` and
    `stop()` from the same task when the calls happen between two of your own steps."""

    def __init__(self) -> None:
        self.exchanges: list[HttpExchange] = []
        self._token: Token[HttpExchangeRecorder | None] | None = None

    def start(self) -> None:
        """Record from now on (again: no-op)."""
        if self._token is None:
            self._token = _active_recorder.set(self)

    def stop(self) -> None:
        """Stop recording (not started: no-op); the recorder active before becomes so again."""
        if self._token is not None:
            _active_recorder.reset(self._token)
            self._token = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


_active_recorder: ContextVar[HttpExchangeRecorder | None] = ContextVar(
    "http_exchange_recorder", default=None)


class HttpIntegrations:
    """The integration source (and integration) for HTTP Tasks. Use it as an async context
    manager, or call `close()`, to close its connection pool.

    Args:
        timeout: seconds a request may take, connecting and reading included.
    """

    def __init__(self, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        if resource == HTTP_INVOKE or resource.startswith(HTTP_INVOKE + "."):
            return self
        return None

    async def invoke(self, call: TaskCall) -> JSON:
        request = build_request(call.parameters)
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        recorder = _active_recorder.get()
        try:
            async with self._session.request(request.method, request.url,
                                             headers=request.headers,
                                             data=request.body) as response:
                body = await response.read()
                headers = [(name.decode("latin-1"), value.decode("latin-1"))
                           for name, value in response.raw_headers]
                result = http_result(response.status, response.reason or "", headers,
                                     response.content_type, body)
                sent = response.request_info
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if recorder is not None:
                recorder.exchanges.append(HttpExchange(request=request, response=None))
            raise TaskError("States.Http.Socket",
                            f"{type(exc).__name__}: {exc} ({request.method} {request.url})"
                            ) from exc
        if recorder is not None:
            recorder.exchanges.append(HttpExchange(
                request=HttpRequest(method=sent.method, url=str(sent.url),
                                    headers=list(sent.headers.items()), body=request.body),
                response=HttpResponse(status=response.status, reason=response.reason or "",
                                      headers=headers, body=body)))
        status = result["StatusCode"]
        if not 200 <= status < 300:
            raise TaskError(f"States.Http.StatusCode.{status}", _encoder.encode(result).decode())
        return result

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, traceback: TracebackType | None) -> None:
        await self.close()


def build_request(parameters: JSON) -> HttpRequest:
    """The request an HTTP Task's parameters describe. Raises `TaskError` (States.Runtime)."""
    if not isinstance(parameters, dict):
        raise _runtime("The HTTP Task parameters must be an object")
    endpoint = parameters.get("ApiEndpoint")
    method = parameters.get("Method")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
        raise _runtime(f"ApiEndpoint must be an http(s) URL, got {endpoint!r}")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise _runtime(f"Method must be one of {', '.join(sorted(_METHODS))}, got {method!r}")
    headers = _pairs(parameters.get("Headers"), "Headers")
    url = _with_query(endpoint, _pairs(parameters.get("QueryParameters"), "QueryParameters"))
    body, content_type = _body(parameters.get("RequestBody"), parameters.get("Transform"))
    if content_type and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", content_type))
    return HttpRequest(method=method.upper(), url=url, headers=headers, body=body)


def http_result(status: int, reason: str, headers: list[tuple[str, str]], content_type: str,
                body: bytes) -> dict[str, JSON]:
    """The HTTP Task's result for a response."""
    grouped: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in headers:
        grouped.setdefault(spelling.setdefault(name.lower(), name), []).append(value)
    text = body.decode("utf-8", "replace")
    response_body: JSON = text
    if text and (content_type == "application/json" or content_type.endswith("+json")):
        try:
            response_body = msgspec.json.decode(body)
        except msgspec.DecodeError:
            response_body = text
    return {"Headers": grouped, "ResponseBody": response_body, "StatusCode": status,
            "StatusText": reason}


def _runtime(message: str) -> TaskError:
    return TaskError("States.Runtime", message)


def _scalar(value: JSON) -> str:
    return value if isinstance(value, str) else _encoder.encode(value).decode()


def _pairs(value: JSON, field: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise _runtime(f"{field} must be an object")
    pairs: list[tuple[str, str]] = []
    for name, item in value.items():
        items = item if isinstance(item, list) else [item]
        pairs.extend((name, _scalar(one)) for one in items if one is not None)
    return pairs


def _with_query(endpoint: str, pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return endpoint
    parts = urlsplit(endpoint)
    query = "&".join(part for part in (parts.query, urlencode(pairs)) if part)
    return urlunsplit(parts._replace(query=query))


def _body(value: JSON, transform: JSON) -> tuple[bytes | None, str | None]:
    if value is None:
        return None, None
    encoding = transform.get("RequestBodyEncoding", "NONE") if isinstance(transform, dict) \
        else "NONE"
    if encoding == "URL_ENCODED":
        if not isinstance(value, dict):
            raise _runtime("A URL_ENCODED RequestBody must be an object")
        options = transform.get("RequestEncodingOptions") or {}
        array_format = options.get("ArrayFormat", "INDICES") if isinstance(options, dict) \
            else "INDICES"
        if array_format not in _ARRAY_FORMATS:
            raise _runtime(f"ArrayFormat must be one of {', '.join(sorted(_ARRAY_FORMATS))}")
        form = urlencode(list(_form_pairs(value, "", array_format)))
        return form.encode(), "application/x-www-form-urlencoded"
    if encoding != "NONE":
        raise _runtime(f"RequestBodyEncoding must be NONE or URL_ENCODED, got {encoding!r}")
    if isinstance(value, str):
        return value.encode(), None
    return _encoder.encode(value), "application/json"


def _form_pairs(value: JSON, key: str, array_format: str) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        pairs: list[tuple[str, str]] = []
        for name, item in value.items():
            pairs.extend(_form_pairs(item, f"{key}[{name}]" if key else name, array_format))
        return pairs
    if isinstance(value, list):
        if array_format == "COMMAS":
            return [(key, ",".join(_scalar(item) for item in value))]
        pairs = []
        for index, item in enumerate(value):
            name = {"INDICES": f"{key}[{index}]", "BRACKETS": f"{key}[]"}.get(array_format, key)
            pairs.extend(_form_pairs(item, name, array_format))
        return pairs
    return [] if value is None else [(key, _scalar(value))]
