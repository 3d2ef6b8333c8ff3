"""Plain Python callables (sync or async) as Task resources, for embedding.

A callable registered as `name` serves the Lambda function ARN
`arn:aws:lambda:<region>:<account>:function:<name>` and the optimised integration
`arn:aws:states:::lambda:invoke` with `FunctionName` `name` (or that ARN), so a definition
written for AWS runs unchanged against local functions. It may also be named directly as
`Resource: "<name>"` when portability does not matter.

An exception becomes a task error named after its class (or the `error_names` mapping),
with its message as the cause.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread

from integrations._base import JSON, Integration, TaskCall, TaskError

TaskHandler = Callable[..., Any]

_LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def function_name(resource: str, parameters: JSON) -> str | None:
    """The function a Lambda-shaped resource names, or None."""
    if resource.startswith(_LAMBDA_INVOKE):
        name = parameters.get("FunctionName") if isinstance(parameters, dict) else None
        return _short_name(name) if isinstance(name, str) else None
    if resource.startswith("arn:aws:lambda:"):
        return _short_name(resource)
    if not resource.startswith("arn:"):
        return resource
    return None


def _short_name(name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else parts[-1]
    return name_or_arn


class PythonFunction:
    """One registered callable: `handler(input)` or `handler(input, context)`."""

    def __init__(self, handler: TaskHandler, *, error_names: Mapping[type[BaseException], str]
                 | None = None) -> None:
        self.handler = handler
        self.error_names = dict(error_names or {})
        self.is_async = inspect.iscoroutinefunction(handler)
        self.wants_context = len(inspect.signature(handler).parameters) >= 2

    async def invoke(self, call: TaskCall) -> JSON:
        lambda_shape = call.resource.startswith(_LAMBDA_INVOKE)
        payload = call.parameters
        if lambda_shape and isinstance(payload, dict):
            payload = payload.get("Payload")
        args = (payload, call) if self.wants_context else (payload,)
        try:
            if self.is_async:
                result = await self.handler(*args)
            else:
                result = await anyio.to_thread.run_sync(self.handler, *args)
        except TaskError:
            raise
        except Exception as exc:
            raise TaskError(self._error_name(exc), str(exc)) from exc
        if lambda_shape:
            return {"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200}
        return result

    def _error_name(self, exc: Exception) -> str:
        for kind in type(exc).__mro__:
            if kind in self.error_names:
                return self.error_names[kind]
        return type(exc).__name__


class PythonFunctions:
    """A `Resolver` over registered callables."""

    def __init__(self) -> None:
        self._functions: dict[str, PythonFunction] = {}

    def register(self, name: str, handler: TaskHandler, *,
                 error_names: Mapping[type[BaseException], str] | None = None) -> None:
        self._functions[name] = PythonFunction(handler, error_names=error_names)

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        name = function_name(resource, parameters)
        return self._functions.get(name) if name is not None else None
