"""The console's JSON API: each handler reads a request, makes one Runtime call and answers
JSON. An `AslError` (or a bad event id or fork input) is answered with HTTP 400 and
`{"error": code, "message": ...}`, as the page shows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runtime.catalog import StateMachine
from runtime.console.graph import definition_graph
from runtime.console.locations import placed
from runtime.console.outcomes import state_outcomes
from runtime.dataflow.scope import MISSING
from runtime.engine import Execution, Runtime
from runtime.errors import AslError

JSON = Any
Handler = Callable[[Request], Awaitable[Response]]


class ConsoleApi:
    """Handlers over the Runtime that `get_runtime` returns at each request."""

    def __init__(self, get_runtime: Callable[[], Runtime]) -> None:
        self._get_runtime = get_runtime
        #: Executions forked with another definition -> that definition's text: the Runtime
        #: does not expose the definition an execution runs, only its state machine's.
        self._fork_definitions: dict[str, str] = {}

    @property
    def runtime(self) -> Runtime:
        return self._get_runtime()

    # -- state machines -------------------------------------------------------------------

    async def list_state_machines(self, request: Request) -> Response:
        machines = sorted(self.runtime.catalog.list(), key=lambda m: m.created, reverse=True)
        return _ok({"stateMachines": [_machine(m, with_definition=False) for m in machines]})

    async def describe_state_machine(self, request: Request) -> Response:
        return _ok(_machine(self.runtime.state_machine(_query(request, "arn"))))

    async def create_state_machine(self, request: Request) -> Response:
        body = await _body(request)
        arn = await self.runtime.create_state_machine(
            _field(body, "name"), _field(body, "definition"),
            type=body.get("type") or "STANDARD")
        return _ok({"stateMachineArn": arn})

    async def update_state_machine(self, request: Request) -> Response:
        body = await _body(request)
        machine = self.runtime.catalog.update(_field(body, "stateMachineArn"),
                                              definition=_field(body, "definition"))
        return _ok({"stateMachineArn": machine.arn, "updateDate": machine.updated})

    async def validate(self, request: Request) -> Response:
        body = await _body(request)
        text = _field(body, "definition")
        diagnostics = self.runtime.validate(text, type=body.get("type") or "STANDARD")
        return _ok({"diagnostics": placed(diagnostics, text)})

    async def graph(self, request: Request) -> Response:
        """The layout input for a definition's text (an empty graph if it is not JSON)."""
        try:
            decoded = msgspec.json.decode(_field(await _body(request), "definition"))
        except msgspec.DecodeError:
            decoded = None
        return _ok({"graph": definition_graph(decoded)})

    # -- executions -----------------------------------------------------------------------

    async def list_executions(self, request: Request) -> Response:
        executions = self.runtime.list_executions(_query(request, "stateMachineArn"),
                                                  status=request.query_params.get("status"))
        executions.sort(key=lambda e: e.start_date, reverse=True)
        return _ok({"executions": [_execution(e, with_data=False) for e in executions]})

    async def start_execution(self, request: Request) -> Response:
        body = await _body(request)
        arn = await self.runtime.start_execution(
            _field(body, "stateMachineArn"), input_json=body.get("input") or "{}",
            name=body.get("name") or None)
        return _ok({"executionArn": arn})

    async def describe_execution(self, request: Request) -> Response:
        """The execution, the definition it runs and its history (AWS's shape)."""
        runtime = self.runtime
        arn = _query(request, "arn")
        execution = runtime.describe_execution(arn)
        definition = self._fork_definitions.get(arn) or runtime.state_machine(
            execution.state_machine_arn).definition
        history = [{**event, "timestamp": event["timestamp"].timestamp()}
                   for event in runtime.get_execution_history(arn)]
        return _ok({"execution": _execution(execution, with_data=True),
                    "definition": definition, "events": history})

    async def state_at(self, request: Request) -> Response:
        """The execution just after one event: its frames (time travel's view) and each
        state's outcome so far."""
        runtime = self.runtime
        arn = _query(request, "arn")
        event_id = _int(_query(request, "event"), "event")
        view = runtime.state_at(arn, event_id)
        return _ok({"view": msgspec.to_builtins(view),
                    "states": state_outcomes(runtime.history(arn), event_id)})

    async def fork(self, request: Request) -> Response:
        body = await _body(request)
        definition = body.get("definition") or None
        input_text = body.get("input")
        arn = await self.runtime.fork(
            _field(body, "executionArn"), _int(body.get("event"), "event"),
            definition=definition, name=body.get("name") or None,
            input=MISSING if input_text in (None, "") else _decode(input_text, "input"))
        if definition is not None:
            self._fork_definitions[arn] = definition
        return _ok({"executionArn": arn})

    async def redrive(self, request: Request) -> Response:
        execution = await self.runtime.redrive_execution(
            _field(await _body(request), "executionArn"))
        return _ok({"executionArn": execution.execution_arn, "status": execution.status,
                    "redriveCount": execution.redrive_count})


def guarded(handler: Handler) -> Handler:
    """`handler`, answering the errors a user can cause with HTTP 400."""

    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except AslError as error:
            return JSONResponse({"error": error.code, "message": error.message}, 400)
        except (ValueError, KeyError) as error:
            message = error.args[0] if error.args else str(error)
            return JSONResponse({"error": "ValidationException", "message": str(message)}, 400)

    return answer


def _ok(payload: dict[str, JSON]) -> Response:
    return Response(msgspec.json.encode(payload), media_type="application/json")


async def _body(request: Request) -> dict[str, JSON]:
    decoded = _decode((await request.body()).decode() or "{}", "request body")
    if not isinstance(decoded, dict):
        raise ValueError("the request body must be a JSON object")
    return decoded


def _decode(text: str, what: str) -> JSON:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError as error:
        raise ValueError(f"the {what} is not valid JSON: {error}") from None


def _field(body: dict[str, JSON], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{key}' is required (a string)")
    return value


def _query(request: Request, key: str) -> str:
    value = request.query_params.get(key)
    if not value:
        raise ValueError(f"the query parameter '{key}' is required")
    return value


def _int(value: JSON, key: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"'{key}' must be an event id (an integer)") from None


def _machine(machine: StateMachine, *, with_definition: bool = True) -> dict[str, JSON]:
    out: dict[str, JSON] = {"stateMachineArn": machine.arn, "name": machine.name,
                            "type": machine.type, "creationDate": machine.created,
                            "updateDate": machine.updated}
    if with_definition:
        out["definition"] = machine.definition
    return out


def _execution(execution: Execution, *, with_data: bool) -> dict[str, JSON]:
    out: dict[str, JSON] = {
        "executionArn": execution.execution_arn,
        "stateMachineArn": execution.state_machine_arn, "name": execution.name,
        "status": execution.status, "startDate": execution.start_date,
        "stopDate": execution.stop_date, "redriveCount": execution.redrive_count,
    }
    if with_data:
        out.update(input=execution.input, output=execution.output, error=execution.error,
                   cause=execution.cause)
    return out
