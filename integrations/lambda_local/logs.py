"""The invocation log Lambda writes around the function's own output (START, END, REPORT),
and the tail of it that Invoke returns for LogType Tail."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from integrations.lambda_local.workers import LOG_TAIL_BYTES


@dataclass(frozen=True, kw_only=True)
class InvocationReport:
    request_id: str
    version: str
    memory_size: int
    duration_ms: float
    max_memory_mb: int | None
    #: Set on a cold start: how long the handler module took to load.
    init_ms: float | None
    #: The function's timeout in seconds when the invocation hit it.
    timed_out_after: int | None


def invocation_log(report: InvocationReport, output: bytes) -> bytes:
    request = report.request_id
    lines = [f"START RequestId: {request} Version: {report.version}\n".encode(), output]
    if output and not output.endswith(b"\n"):
        lines.append(b"\n")
    if report.timed_out_after is not None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(f"{now} {request} Task timed out after "
                     f"{report.timed_out_after:.2f} seconds\n".encode())
    fields = [f"REPORT RequestId: {request}", f"Duration: {report.duration_ms:.2f} ms",
              f"Billed Duration: {math.ceil(report.duration_ms)} ms",
              f"Memory Size: {report.memory_size} MB"]
    if report.max_memory_mb is not None:
        fields.append(f"Max Memory Used: {report.max_memory_mb} MB")
    if report.init_ms is not None:
        fields.append(f"Init Duration: {report.init_ms:.2f} ms")
    if report.timed_out_after is not None:
        fields.append("Status: timeout")
    lines.append(f"END RequestId: {request}\n".encode())
    lines.append(("\t".join(fields) + "\t\n").encode())
    return b"".join(lines)


def log_result(log: bytes) -> str:
    """X-Amz-Log-Result: base64 of the last 4 KB of the invocation's log."""
    return base64.b64encode(log[-LOG_TAIL_BYTES:]).decode()
