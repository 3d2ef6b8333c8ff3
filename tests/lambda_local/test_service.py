"""The service's worker lifecycle, driven directly (no HTTP): warm reuse, idle expiry, and no
process outliving the service."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from integrations.lambda_local.service import LambdaService
from tests.lambda_local.conftest import ROLE, zip_source

pytestmark = pytest.mark.anyio

PID_HANDLER = "import os, time\ndef handler(event, context):\n" \
              "    time.sleep(event.get('sleep', 0))\n    return os.getpid()\n"


async def _create(service: LambdaService, name: str, source: str = PID_HANDLER) -> None:
    await service.create_function({
        "FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "index.handler",
        "Code": {"ZipFile": base64.b64encode(zip_source(source)).decode()}}, "us-east-1")


async def _invoke(service: LambdaService, name: str, event: Any = None,
                  invocation_type: str = "RequestResponse") -> Any:
    result = await service.invoke(name, None, json.dumps(event or {}).encode(),
                                  request_id="r", invocation_type=invocation_type,
                                  log_type=None, client_context=None, tenant_id=None,
                                  region="us-east-1")
    return json.loads(result.payload) if result.payload else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


async def test_a_warm_worker_is_reused_until_it_has_been_idle_too_long(tmp_path: Path) -> None:
    async with LambdaService(tmp_path, idle_seconds=0.2) as service:
        await _create(service, "pid")
        first = await _invoke(service, "pid")
        assert await _invoke(service, "pid") == first
        await anyio.sleep(0.6)
        assert not _alive(first)
        assert await _invoke(service, "pid") != first


async def test_leaving_the_service_stops_idle_and_busy_workers(tmp_path: Path) -> None:
    async with LambdaService(tmp_path) as service:
        await _create(service, "pid")
        idle = await _invoke(service, "pid")
        await _invoke(service, "pid", {"sleep": 30}, invocation_type="Event")
        await anyio.sleep(0.3)
    assert not _alive(idle)
    assert list((tmp_path / "logs").iterdir()) == []


async def test_concurrent_invocations_beyond_the_limit_wait_for_a_slot(tmp_path: Path) -> None:
    async with LambdaService(tmp_path, max_concurrency=2) as service:
        await _create(service, "pid")
        pids: list[int] = []

        async def call() -> None:
            pids.append(await _invoke(service, "pid", {"sleep": 0.2}))

        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(call)
        # Two workers served all six calls.
        assert len(set(pids)) == 2


async def test_deleting_a_function_stops_its_workers_and_removes_its_code(
        tmp_path: Path) -> None:
    async with LambdaService(tmp_path) as service:
        await _create(service, "pid")
        pid = await _invoke(service, "pid")
        await service.delete_function("pid", None, "us-east-1")
        assert not _alive(pid)
        assert list((tmp_path / "functions").iterdir()) == []
