"""A Stepline API server on a free loopback port, for the whole test session, and clients."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/test"
#: TestState's endpoint prefix ("sync-") would turn 127.0.0.1 into a host name.
CLIENT_CONFIG = Config(inject_host_prefix=False, retries={"max_attempts": 0})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.api._server", str(port)], cwd=ROOT)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the API server did not start") from None
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def sfn(endpoint: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=CLIENT_CONFIG)


def pass_machine(result: Any = "done") -> str:
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result,
                                                         "End": True}}})


def task_machine(resource: str) -> str:
    return json.dumps({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource,
                                                         "End": True}}})


def wait_until_done(sfn: Any, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.02)
