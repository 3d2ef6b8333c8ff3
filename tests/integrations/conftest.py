"""Servers on 127.0.0.1 for the integration tests: moto (AWS services), a fake Lambda Invoke
endpoint and a small HTTP API, each started once per session."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials; no endpoint, profile or config file from the machine."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE",
                 "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("the server exited before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def closed_port_url() -> str:
    """An address where nothing listens (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}"


def _serve(app: Starlette) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# -- a fake Lambda Invoke endpoint (POST /2015-03-31/functions/<name>/invocations) ----------

FUNCTION_ERROR_PAYLOAD = {"errorMessage": "Some exception was raised.", "errorType": "Exception",
                          "requestId": "0f1e2d3c", "stackTrace": ["  File \"handler.py\""]}


def _lambda_error(status: int, error_type: str, message: str) -> Response:
    return JSONResponse({"Type": "User", "message": message}, status_code=status,
                        headers={"x-amzn-ErrorType": error_type,
                                 "x-amzn-RequestId": "req-error"})


async def _invoke(request: Request) -> Response:
    name = request.path_params["name"].split(":")[-1]
    body = await request.body()
    headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": "req-1"}
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        headers["X-Amz-Log-Result"] = "bG9n"
    if name == "missing":
        return _lambda_error(404, "ResourceNotFoundException",
                             f"Function not found: arn:aws:lambda:us-east-1:123456789012"
                             f":function:{name}:$LATEST")
    if name == "throttled":
        return _lambda_error(429, "TooManyRequestsException", "Rate exceeded")
    if name == "broken":
        return _lambda_error(500, "ServiceException", "Lambda was unable to run the function")
    if name == "unmodelled":
        return _lambda_error(400, "SomethingNewException", "A new kind of failure")
    if name == "slow":
        await asyncio.sleep(2)
    if name == "raises":
        headers["X-Amz-Function-Error"] = "Unhandled"
        # Written as the Python runtime writes it: `json.dumps` with its default separators.
        return Response(json.dumps(FUNCTION_ERROR_PAYLOAD), media_type="application/json",
                        headers=headers)
    if name == "crashes":
        headers["X-Amz-Function-Error"] = "Unhandled"
        return Response("out of memory", media_type="text/plain", headers=headers)
    if request.headers.get("X-Amz-Invocation-Type") == "Event":
        return Response(b"", status_code=202, headers=headers)
    # `echo`: the event back, byte for byte (an empty event is `{}`, as Lambda delivers it).
    return Response(body or b"{}", media_type="application/json", headers=headers)


@pytest.fixture(scope="session")
def lambda_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/2015-03-31/functions/{name}/invocations", _invoke,
                                  methods=["POST"])])
    yield from _serve(app)


# -- an HTTP API for the HTTP Task ---------------------------------------------------------------

async def _echo(request: Request) -> Response:
    body = (await request.body()).decode()
    return JSONResponse({"method": request.method, "query": str(request.url.query),
                         "content_type": request.headers.get("content-type"),
                         "custom": request.headers.getlist("x-custom"), "body": body},
                        headers={"X-Trace": "abc"})


async def _status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return PlainTextResponse(f"status {code}", status_code=code)


async def _slow(request: Request) -> Response:
    await asyncio.sleep(2)
    return PlainTextResponse("late")


@pytest.fixture(scope="session")
def http_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/echo", _echo, methods=["GET", "POST", "PUT", "DELETE"]),
                            Route("/status/{code}", _status),
                            Route("/slow", _slow)])
    yield from _serve(app)
