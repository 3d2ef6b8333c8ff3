"""Execution environments: one `bootstrap.py` process each, kept warm between invocations.

A worker serves one invocation at a time. After a normal response (result or handler error)
it goes back to its version's idle list, so module state survives as it does in a warm AWS
environment; after a timeout, a crash or a protocol fault it is killed, never reused. Each
process runs in its own session, so killing it also kills whatever the handler spawned.
Updating or deleting a function retires its revision: idle workers of it stop, busy ones
stop when they finish.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from integrations.lambda_local.model import FunctionVersion

BOOTSTRAP = str(Path(__file__).with_name("bootstrap.py").resolve())
#: Bytes of the function's own output kept for LogType Tail (AWS returns the last 4 KB).
LOG_TAIL_BYTES = 4096
_MAX_HEADER_BYTES = 64 * 1024
_DRAIN_CHUNK = 1024 * 1024
#: Go's wording for a signalled process, which Lambda's Runtime.ExitError message uses.
_SIGNAL_WORDS: dict[int, str] = {signal.SIGKILL: "killed", signal.SIGTERM: "terminated",
                                 signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted"}


class WorkerLost(Exception):
    """The process ended or broke the protocol; `reason` is how it exited."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class Request:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    deadline_ms: int
    client_context: Any = None
    tenant_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Reply:
    #: "ok", "error" (the handler failed; payload is the error JSON) or "init_error".
    status: str
    #: None when the body exceeded `max_payload` and was discarded.
    payload: bytes | None
    payload_size: int
    max_memory_mb: int | None


def environment(version: FunctionVersion) -> dict[str, str]:
    """What Lambda puts in a Python function's environment, then the function's variables."""
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[{version.version}]{uuid.uuid4().hex}"
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        # /var/task is read-only on AWS; keep the unpacked package as it was uploaded.
        "PYTHONDONTWRITEBYTECODE": "1",
        "_HANDLER": version.handler,
        "LAMBDA_TASK_ROOT": str(version.code.directory),
        "LAMBDA_RUNTIME_DIR": str(Path(BOOTSTRAP).parent),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{version.runtime}",
        "AWS_REGION": version.region,
        "AWS_DEFAULT_REGION": version.region,
        "AWS_LAMBDA_FUNCTION_NAME": version.name,
        "AWS_LAMBDA_FUNCTION_VERSION": version.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory_size),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{version.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        **version.environment,
    }


class Worker:
    def __init__(self, process: Process, log: BinaryIO, log_path: Path, revision: str) -> None:
        self.process = process
        self.revision = revision
        self._log = log
        self._log_path = log_path
        self._reader = BufferedByteReceiveStream(process.stdout) if process.stdout else None
        self.ready = False
        self._invoked = False
        #: How long the init phase took (the first invocation's log reports it).
        self.init_ms: float | None = None

    @classmethod
    async def start(cls, version: FunctionVersion, log_dir: Path) -> Worker:
        log_path = log_dir / f"{uuid.uuid4().hex}.log"
        # Read and written by the service too (see log_tail), appended to by the process.
        log = log_path.open("a+b")
        try:
            process = await anyio.open_process(
                [sys.executable, BOOTSTRAP, str(version.code.directory), version.handler],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                cwd=version.code.directory, env=environment(version), start_new_session=True)
        except BaseException:
            log.close()
            log_path.unlink(missing_ok=True)
            raise
        return cls(process, log, log_path, version.revision_id)

    async def initialise(self, max_payload: int) -> Reply | None:
        """Wait for the init phase: None when ready, else the init error reply."""
        header, reply = await self._receive(max_payload)
        if reply.status == "ready":
            self.ready = True
            self.init_ms = float(header.get("init_ms", 0.0))
            return None
        return reply

    async def invoke(self, request: Request, max_payload: int) -> Reply:
        # The first invocation's log keeps what the init phase printed, as on AWS. (Small
        # local-file syscalls on the loop: cheaper than a thread hop per invocation.)
        if self._invoked:
            os.ftruncate(self._log.fileno(), 0)
        self._invoked = True
        header = {"request_id": request.request_id, "deadline_ms": request.deadline_ms,
                  "invoked_function_arn": request.invoked_function_arn,
                  "client_context": request.client_context, "tenant_id": request.tenant_id,
                  "length": len(request.payload)}
        stdin = self.process.stdin
        if stdin is None:
            raise WorkerLost("no stdin")
        try:
            await stdin.send(json.dumps(header).encode() + b"\n" + request.payload)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            raise WorkerLost(await self._exit_reason()) from None
        return (await self._receive(max_payload))[1]

    def log_tail(self) -> bytes:
        """The last LOG_TAIL_BYTES the function wrote during this invocation (or init)."""
        descriptor = self._log.fileno()
        size = os.fstat(descriptor).st_size
        start = max(size - LOG_TAIL_BYTES, 0)
        return os.pread(descriptor, size - start, start)

    async def _receive(self, max_payload: int) -> tuple[dict[str, Any], Reply]:
        if self._reader is None:
            raise WorkerLost("no stdout")
        try:
            line = await self._reader.receive_until(b"\n", _MAX_HEADER_BYTES)
            header: dict[str, Any] = json.loads(line)
            length = int(header["length"])
            payload: bytes | None = None
            if length <= max_payload:
                payload = await self._reader.receive_exactly(length) if length else b""
            else:
                await self._drain(length)
        except (anyio.IncompleteRead, anyio.EndOfStream, anyio.BrokenResourceError,
                anyio.DelimiterNotFound, ValueError, KeyError):
            raise WorkerLost(await self._exit_reason()) from None
        memory = header.get("max_memory_mb")
        return header, Reply(status=str(header["status"]), payload=payload, payload_size=length,
                             max_memory_mb=memory if isinstance(memory, int) else None)

    async def _drain(self, length: int) -> None:
        assert self._reader is not None
        while length > 0:
            chunk = await self._reader.receive_exactly(min(length, _DRAIN_CHUNK))
            length -= len(chunk)

    async def _exit_reason(self) -> str:
        """How the process ended, worded as Lambda's Runtime.ExitError does."""
        with anyio.move_on_after(1):
            code = await self.process.wait()
            if code >= 0:
                return f"exit status {code}"
            return f"signal: {_SIGNAL_WORDS.get(-code, str(-code))}"
        self.kill()
        return "protocol error"

    def kill(self) -> None:
        """Kill the process and everything it started (its session)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """Let an idle worker exit (EOF on its input), killing it if it lingers."""
        try:
            if self.process.stdin is not None:
                await self.process.stdin.aclose()
            with anyio.move_on_after(2):
                await self.process.wait()
        finally:
            self.kill()
            with anyio.CancelScope(shield=True):
                await self.process.aclose()
            self._log.close()
            self._log_path.unlink(missing_ok=True)


class WorkerPool:
    """Idle workers per function revision (`FunctionVersion.revision_id`), most recently
    used last. Like AWS, an environment idle for `idle_seconds` is let go."""

    def __init__(self, log_dir: Path, max_idle_per_revision: int, idle_seconds: float) -> None:
        self.log_dir = log_dir
        self.max_idle_per_revision = max_idle_per_revision
        self.idle_seconds = idle_seconds
        self._idle: dict[str, list[tuple[float, Worker]]] = {}
        self._retired: set[str] = set()

    def take_idle(self, version: FunctionVersion) -> Worker | None:
        idle = self._idle.get(version.revision_id)
        return idle.pop()[1] if idle else None

    def keep(self, worker: Worker) -> bool:
        """Park a healthy worker for reuse; False when it must be stopped instead."""
        if worker.revision in self._retired or worker.process.returncode is not None:
            return False
        idle = self._idle.setdefault(worker.revision, [])
        if len(idle) >= self.max_idle_per_revision:
            return False
        idle.append((time.monotonic(), worker))
        return True

    def expire(self) -> list[Worker]:
        """Take out the workers idle for longer than `idle_seconds`, for the caller to stop."""
        cutoff = time.monotonic() - self.idle_seconds
        expired: list[Worker] = []
        for revision, idle in list(self._idle.items()):
            fresh = [(since, worker) for since, worker in idle if since >= cutoff]
            expired.extend(worker for since, worker in idle if since < cutoff)
            if fresh:
                self._idle[revision] = fresh
            else:
                del self._idle[revision]
        return expired

    def retire(self, revisions: set[str]) -> list[Worker]:
        """Stop reusing these revisions; their idle workers, for the caller to stop."""
        self._retired |= revisions
        return [worker for revision in revisions for _, worker in self._idle.pop(revision, [])]

    def drain(self) -> list[Worker]:
        workers = [worker for idle in self._idle.values() for _, worker in idle]
        self._idle.clear()
        return workers
