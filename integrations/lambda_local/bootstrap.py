"""The execution environment of one function: `python bootstrap.py CODE_DIR HANDLER`.

Run by `workers.py` in its own process, never imported by the service. It loads the handler
once (the init phase) and then serves invocations one at a time for as long as the service
keeps the process warm, like the AWS Python runtime (awslambdaric): same handler loading
rules, same `Runtime.*` fault types, same error payload and marshalling.

Protocol (the service's side is `workers.py`): every message is one JSON header line, then
`length` raw bytes. The service sends `{"request_id", "deadline_ms", "invoked_function_arn",
"client_context", "length"}` + the event; this process answers `{"status", "length", ...}` +
the result (status "ok") or the error payload (status "error"). After init it sends status
"ready", or "init_error" with the error payload and exits. Stdout and stderr both go to the
file the service gave as stderr (the function's log), so the protocol uses private copies of
fds 0 and 1.
"""

from __future__ import annotations

import decimal
import importlib
import json
import math
import os
import resource
import sys
import time
import traceback
from types import TracebackType
from typing import Any, BinaryIO

#: Where AWS mounts the function code; traces name files under it, as on AWS.
TASK_ROOT = "/var/task"
#: awslambdaric indents error-log lines with NO-BREAK SPACEs and joins them with CR.
ERROR_LOG_INDENT = "\u00a0"
ERROR_LOG_LINE_END = "\r"


class Fault(Exception):
    """A runtime fault with an AWS `Runtime.*` error type."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


class _Object:
    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)


class LambdaContext:
    """The `context` argument, with the attributes and method awslambdaric offers."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id: str = request["request_id"]
        self.invoked_function_arn: str = request["invoked_function_arn"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string on AWS too: awslambdaric copies it from the environment.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = _Object({"cognito_identity_id": None, "cognito_identity_pool_id": None})
        self.tenant_id = request.get("tenant_id")
        self.client_context = _client_context(request.get("client_context"))
        self._deadline_ms: int = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(message)


def _client_context(decoded: Any) -> _Object | None:
    if not isinstance(decoded, dict):
        return None
    context = _Object({"client": None, "custom": None, "env": None, **decoded})
    if isinstance(decoded.get("client"), dict):
        context.client = _Object(decoded["client"])  # type: ignore[attr-defined]
    return context


def _decimal_default(value: Any) -> Any:
    # awslambdaric writes Decimals as numbers (simplejson RawJSON); stdlib json needs a float.
    if isinstance(value, decimal.Decimal):
        return math.nan if value.is_nan() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_decimal_default, ensure_ascii=False, allow_nan=True)


def marshal(result: Any) -> bytes:
    """awslambdaric returns bytes as they are, anything else as JSON."""
    if isinstance(result, bytes):
        return result
    try:
        return to_json(result).encode()
    except Exception as exc:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def load_handler(handler: str) -> Any:
    """The handler callable, with awslambdaric's faults for what cannot be loaded."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from None
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise Fault("Runtime.BuiltInModuleConflict",
                    f"Cannot use built-in module {module_name} as a handler module")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise Fault("Runtime.ImportModuleError",
                    f"Unable to import module '{module_name}': {exc}") from None
    except SyntaxError as exc:
        trace = [f'  File "{_task_path(exc.filename or "")}" Line {exc.lineno}\n    {exc.text}']
        raise Fault("Runtime.UserCodeSyntaxError",
                    f"Syntax error in module '{module_name}': {exc}", trace) from None
    function = getattr(module, function_name, None)
    if function is None:
        # awslambdaric reports this at invoke time, with the request id, not as an init error.
        fault = Fault("Runtime.HandlerNotFound",
                      f"Handler '{function_name}' missing on module '{module_name}'")

        def missing(event: Any, context: LambdaContext) -> Any:
            raise fault

        return missing
    return function


def _task_path(filename: str) -> str:
    code_dir = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()) + os.sep
    return TASK_ROOT + "/" + filename[len(code_dir):] if filename.startswith(code_dir) else filename


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """awslambdaric's payload: message, type name, request id, the trace without this file."""
    if isinstance(exc, Fault):
        return _payload(exc.message, exc.error_type, exc.trace, request_id)
    return _payload(str(exc), type(exc).__name__, _user_trace(exc.__traceback__), request_id)


def _payload(message: str, error_type: str, trace: list[str], request_id: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id,
            "stackTrace": trace}


def _user_trace(tb: TracebackType | None) -> list[str]:
    frames = traceback.extract_tb(tb)
    while frames and frames[0].filename == __file__:
        del frames[0]
    for frame in frames:
        frame.filename = _task_path(frame.filename)
    return traceback.format_list(frames)


def log_error(payload: dict[str, Any]) -> None:
    """The `[ERROR]` record the AWS Python runtime writes to the function's log."""
    description = "[ERROR]"
    if payload["errorType"]:
        description += f" {payload['errorType']}"
    if payload["errorMessage"]:
        description += (":" if payload["errorType"] else "") + f" {payload['errorMessage']}"
    lines = [description, "Traceback (most recent call last):"]
    for element in payload["stackTrace"]:
        for line in element.splitlines():
            stripped = line.lstrip(" ")
            lines.append(ERROR_LOG_INDENT * (len(line) - len(stripped)) + stripped)
    sys.stdout.write(ERROR_LOG_LINE_END.join(lines) + "\n")


def invoke(function: Any, request: dict[str, Any], event_bytes: bytes) -> tuple[str, bytes]:
    request_id: str = request["request_id"]
    try:
        try:
            event = json.loads(event_bytes)
        except ValueError as exc:
            raise Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None
        return "ok", marshal(function(event, LambdaContext(request)))
    except Exception as exc:
        payload = error_payload(exc, request_id)
        log_error(payload)
        return "error", to_json(payload).encode()


class Channel:
    def __init__(self, incoming: BinaryIO, outgoing: BinaryIO) -> None:
        self.incoming = incoming
        self.outgoing = outgoing

    def receive(self) -> tuple[dict[str, Any], bytes] | None:
        line = self.incoming.readline()
        if not line:
            return None
        header: dict[str, Any] = json.loads(line)
        return header, self.incoming.read(header["length"])

    def send(self, status: str, body: bytes = b"", **extra: Any) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        header = {"status": status, "length": len(body), **extra}
        self.outgoing.write(json.dumps(header).encode() + b"\n" + body)
        self.outgoing.flush()


def _max_memory_mb() -> int:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _private_channel() -> Channel:
    """Move the protocol off fds 0/1 so handler prints and input() cannot corrupt it."""
    incoming = os.fdopen(os.dup(0), "rb")
    outgoing = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return Channel(incoming, outgoing)


def main(code_dir: str, handler: str) -> None:
    channel = _private_channel()
    # The service's package directory must not shadow the function's modules.
    sys.path[0] = code_dir
    os.chdir(code_dir)
    started = time.perf_counter()
    try:
        function = load_handler(handler)
    except Exception as exc:
        payload = error_payload(exc, "")
        log_error(payload)
        channel.send("init_error", to_json(payload).encode())
        return
    channel.send("ready", init_ms=(time.perf_counter() - started) * 1000)
    while (message := channel.receive()) is not None:
        request, event_bytes = message
        status, body = invoke(function, request, event_bytes)
        channel.send(status, body, max_memory_mb=_max_memory_mb())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
