"""One Lambda service on a free loopback port for the session (its own event loop, in a
thread), boto3/aiobotocore clients, and zip builders for handlers."""

from __future__ import annotations

import contextlib
import io
import socket
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest
from aiobotocore.session import get_session
from anyio.from_thread import start_blocking_portal
from botocore.config import Config

from integrations.lambda_local import serve_lambda

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "lambda"
ROLE = "arn:aws:iam::000000000000:role/stepline"
CLIENT_OPTIONS: dict[str, Any] = {
    "region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test",
    "config": Config(retries={"max_attempts": 0}, read_timeout=60, max_pool_connections=64),
}


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    workdir = tmp_path_factory.mktemp("lambda")
    with start_blocking_portal() as portal:
        started = portal.call(anyio.Event)
        served = portal.start_task_soon(partial(serve_lambda, "127.0.0.1", port,
                                                started=started, workdir=workdir))
        portal.call(started.wait)
        yield f"http://127.0.0.1:{port}"
        served.cancel()


@pytest.fixture(scope="session")
def lam(endpoint: str) -> Any:
    return boto3.client("lambda", endpoint_url=endpoint, **CLIENT_OPTIONS)


@pytest.fixture
async def alam(endpoint: str) -> AsyncIterator[Any]:
    async with get_session().create_client("lambda", endpoint_url=endpoint,
                                           **CLIENT_OPTIONS) as client:
        yield client


def zip_source(source: str, filename: str = "index.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(filename, source)
    return buffer.getvalue()


def corpus_zip(handler_file: str) -> bytes:
    """A corpus handler zipped as index.py, as the conformance harness does."""
    return zip_source((CORPUS / handler_file).read_text())


@pytest.fixture
def make_function(lam: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """Create a function with a unique name (deleted after the test); returns the name."""
    created: list[str] = []

    def make(zip_bytes: bytes, **options: Any) -> str:
        name = f"fn-{request.node.name[:40]}-{len(created)}".replace("[", "-").replace("]", "")
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                            Handler=options.pop("Handler", "index.handler"),
                            Code={"ZipFile": zip_bytes}, **options)
        created.append(name)
        return name

    yield make
    for name in created:
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=name)
