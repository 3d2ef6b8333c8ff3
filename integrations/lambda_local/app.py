"""The Lambda REST API (paths of botocore's `lambda` 2015-03-31 model) as an ASGI app.

Security: request signatures are NOT verified; the region is read from the SigV4 credential
scope only to name new functions' ARNs. Functions run as the service's own OS user: serve it
on loopback (the default) to people you would let run code on this machine.

Failures: `LambdaApiError` becomes AWS's REST-JSON error; anything unexpected is logged with
its traceback and answered with a bare ServiceException (HTTP 500).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from integrations.lambda_local.errors import LambdaApiError, error_response
from integrations.lambda_local.service import MAX_SYNC_REQUEST_BYTES, LambdaService
from runtime.api.protocol import request_context

log = structlog.get_logger("stepline.lambda")

#: CreateFunction/UpdateFunctionCode carry a base64 ZipFile of up to 50 MB.
MAX_JSON_BODY_BYTES = 70 * 1024 * 1024
_FUNCTIONS = "/2015-03-31/functions"
Handler = Callable[[Request, LambdaService, str], Awaitable[Response]]


def create_lambda_app(service: LambdaService) -> Starlette:
    """An app serving `service`, which must be entered (`async with`) while it serves."""

    def route(path: str, handler: Handler, method: str) -> Route:
        async def endpoint(request: Request) -> Response:
            request_id = str(uuid.uuid4())
            try:
                response = await handler(request, service, _region(request))
            except LambdaApiError as error:
                return error_response(error, request_id)
            except Exception:
                log.exception("lambda_request_failed", path=request.url.path)
                return error_response(LambdaApiError("ServiceException",
                                                     "The service encountered an internal "
                                                     "error."), request_id)
            response.headers.setdefault("x-amzn-RequestId", request_id)
            return response

        return Route(path, endpoint, methods=[method])

    routes = [
        route(_FUNCTIONS, _create_function, "POST"),
        route(_FUNCTIONS, _list_functions, "GET"),
        route(_FUNCTIONS + "/", _list_functions, "GET"),
        route(_FUNCTIONS + "/{name}", _get_function, "GET"),
        route(_FUNCTIONS + "/{name}", _delete_function, "DELETE"),
        route(_FUNCTIONS + "/{name}/configuration", _get_configuration, "GET"),
        route(_FUNCTIONS + "/{name}/configuration", _update_configuration, "PUT"),
        route(_FUNCTIONS + "/{name}/code", _update_code, "PUT"),
        route(_FUNCTIONS + "/{name}/package", _package, "GET"),
        route(_FUNCTIONS + "/{name}/invocations", _invoke, "POST"),
        route(_FUNCTIONS + "/{name}/versions", _publish_version, "POST"),
        route(_FUNCTIONS + "/{name}/versions", _list_versions, "GET"),
        route(_FUNCTIONS + "/{name}/aliases", _create_alias, "POST"),
        route(_FUNCTIONS + "/{name}/aliases", _list_aliases, "GET"),
        route(_FUNCTIONS + "/{name}/aliases/{alias}", _get_alias, "GET"),
        route(_FUNCTIONS + "/{name}/aliases/{alias}", _update_alias, "PUT"),
        route(_FUNCTIONS + "/{name}/aliases/{alias}", _delete_alias, "DELETE"),
    ]
    return Starlette(routes=routes)


def _region(request: Request) -> str:
    return request_context(request.headers.get("authorization")).region


def _name(request: Request) -> str:
    return str(request.path_params["name"])


def _qualifier(request: Request) -> str | None:
    return request.query_params.get("Qualifier") or None


async def _read(request: Request, limit: int) -> bytes | None:
    """The body, or None once it exceeds `limit` (a lying Content-Length included)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request) -> dict[str, Any]:
    body = await _read(request, MAX_JSON_BODY_BYTES)
    if body is None:
        raise LambdaApiError("RequestTooLargeException",
                             f"Request must be smaller than {MAX_JSON_BODY_BYTES} bytes")
    if not body.strip():
        return {}
    try:
        decoded = json.loads(body)
    except ValueError:
        raise LambdaApiError("InvalidRequestContentException",
                             "Could not parse request body into json") from None
    if not isinstance(decoded, dict):
        raise LambdaApiError("InvalidRequestContentException",
                             "The request body must be a JSON object")
    return decoded


def _json(value: Any, status: int = 200) -> Response:
    return JSONResponse(value, status_code=status)


async def _create_function(request: Request, service: LambdaService, region: str) -> Response:
    return _json(await service.create_function(await _json_body(request), region), 201)


async def _list_functions(request: Request, service: LambdaService, region: str) -> Response:
    max_items = request.query_params.get("MaxItems", "")
    return _json(service.list_functions(request.query_params.get("Marker"),
                                        int(max_items) if max_items.isdigit() else None))


async def _get_function(request: Request, service: LambdaService, region: str) -> Response:
    return _json(service.get_function(_name(request), _qualifier(request), region,
                                      str(request.base_url)))


async def _delete_function(request: Request, service: LambdaService, region: str) -> Response:
    await service.delete_function(_name(request), _qualifier(request), region)
    return Response(status_code=204)


async def _get_configuration(request: Request, service: LambdaService, region: str) -> Response:
    return _json(service.get_configuration(_name(request), _qualifier(request), region))


async def _update_configuration(request: Request, service: LambdaService,
                                region: str) -> Response:
    return _json(await service.update_configuration(_name(request), await _json_body(request),
                                                    region))


async def _update_code(request: Request, service: LambdaService, region: str) -> Response:
    return _json(await service.update_code(_name(request), await _json_body(request), region))


async def _package(request: Request, service: LambdaService, region: str) -> Response:
    return FileResponse(service.package(_name(request), _qualifier(request), region),
                        media_type="application/zip")


async def _invoke(request: Request, service: LambdaService, region: str) -> Response:
    payload = await _read(request, MAX_SYNC_REQUEST_BYTES)
    invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
    if payload is None:
        size = request.headers.get("content-length", f"More than {MAX_SYNC_REQUEST_BYTES}")
        raise LambdaApiError("RequestTooLargeException",
                             f"{size} byte payload is too large for the {invocation_type} "
                             f"invocation type (limit {MAX_SYNC_REQUEST_BYTES} bytes)")
    result = await service.invoke(
        _name(request), _qualifier(request), payload, request_id=str(uuid.uuid4()),
        invocation_type=invocation_type,
        log_type=request.headers.get("x-amz-log-type"),
        client_context=request.headers.get("x-amz-client-context"),
        tenant_id=request.headers.get("x-amz-tenant-id"), region=region)
    headers = {"X-Amz-Executed-Version": result.executed_version,
               "x-amzn-RequestId": result.request_id}
    if result.function_error is not None:
        headers["X-Amz-Function-Error"] = result.function_error
    if result.log_result is not None:
        headers["X-Amz-Log-Result"] = result.log_result
    return Response(result.payload, status_code=result.status_code, headers=headers,
                    media_type="application/json")


async def _publish_version(request: Request, service: LambdaService, region: str) -> Response:
    return _json(service.publish_version(_name(request), await _json_body(request), region), 201)


async def _list_versions(request: Request, service: LambdaService, region: str) -> Response:
    return _json(service.list_versions(_name(request), region))


async def _create_alias(request: Request, service: LambdaService, region: str) -> Response:
    return _json(service.create_alias(_name(request), await _json_body(request), region), 201)


async def _list_aliases(request: Request, service: LambdaService, region: str) -> Response:
    return _json(service.list_aliases(_name(request), region))


async def _get_alias(request: Request, service: LambdaService, region: str) -> Response:
    return _json(service.get_alias(_name(request), str(request.path_params["alias"]), region))


async def _update_alias(request: Request, service: LambdaService, region: str) -> Response:
    return _json(service.update_alias(_name(request), str(request.path_params["alias"]),
                                      await _json_body(request), region))


async def _delete_alias(request: Request, service: LambdaService, region: str) -> Response:
    service.delete_alias(_name(request), str(request.path_params["alias"]), region)
    return Response(status_code=204)
