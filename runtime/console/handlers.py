"""The console's JSON API: each handler reads a request, asks the store behind the console
(`runtime.console.sources`: a Runtime or a cluster's PostgreSQL store) and answers JSON. An
`AslError` (or a bad event id or fork input) is answered with HTTP 400 and
`{"error": code, "message": ...}`, as the page shows it; so is what a cluster cannot do
(forking), named by the ValidationException's message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runtime import events as ev
from runtime.api.backend import Backend
from runtime.catalog import Alias, StateMachine
from runtime.console.graph import definition_graph, sub_machine
from runtime.console.locations import placed
from runtime.console.outcomes import state_outcomes
from runtime.console.sources import ConsoleSource, started_details
from runtime.dataflow.scope import MISSING
from runtime.engine import DEFAULT_ROLE_ARN, Execution
from runtime.errors import AslError
from runtime.history import render_history
from runtime.map_runs import child_state_machine_arn
from runtime.state import MapRun, new_state
from runtime.timetravel import state_at

JSON = Any
Handler = Callable[[Request], Awaitable[Response]]


class ConsoleApi:
    """Handlers over the `ConsoleSource` that `get_source` returns at each request."""

    def __init__(self, get_source: Callable[[], ConsoleSource]) -> None:
        self._get_source = get_source
        #: Executions this console forked with another definition (for the note shown).
        self._forked_with_definition: set[str] = set()

    @property
    def source(self) -> ConsoleSource:
        return self._get_source()

    @property
    def backend(self) -> Backend:
        return self._get_source().backend

    # -- state machines -------------------------------------------------------------------

    async def list_state_machines(self, request: Request) -> Response:
        machines = sorted(await self.backend.state_machines(), key=lambda m: m.created,
                          reverse=True)
        return _ok({"stateMachines": [_machine(m, with_definition=False) for m in machines]})

    async def describe_state_machine(self, request: Request) -> Response:
        """The machine (or version) with its machine's versions (newest first) and aliases."""
        backend = self.backend
        machine = await backend.state_machine(_query(request, "arn"))
        # Read through `change_catalog` (it records nothing) to see every version and alias.
        versions, aliases = await backend.change_catalog(lambda catalog: (
            catalog.versions(machine.machine_arn), catalog.aliases(machine.machine_arn)))
        return _ok({**_machine(machine),
                    "versions": [_machine(v, with_definition=False) for v in versions],
                    "aliases": [_alias(a) for a in aliases]})

    async def create_state_machine(self, request: Request) -> Response:
        """CreateStateMachine, publishing version 1 when `publish` is true."""
        body = await _body(request)
        publish, description = _publishing(body)
        backend = self.backend
        arn = await backend.create_state_machine(
            _field(body, "name"), _field(body, "definition"), role_arn=DEFAULT_ROLE_ARN,
            type=body.get("type") or "STANDARD")
        return _ok({"stateMachineArn": arn,
                    **await _published(backend, arn, publish, description)})

    async def update_state_machine(self, request: Request) -> Response:
        """UpdateStateMachine, publishing a version when `publish` is true (the latest one
        again if the definition did not change since it was published)."""
        body = await _body(request)
        publish, description = _publishing(body)
        backend = self.backend
        arn, definition = _field(body, "stateMachineArn"), _field(body, "definition")
        machine = await backend.change_catalog(
            lambda catalog: catalog.update(arn, definition=definition))
        return _ok({"stateMachineArn": machine.arn, "updateDate": machine.updated,
                    **await _published(backend, machine.arn, publish, description)})

    async def delete_state_machine(self, request: Request) -> Response:
        """DeleteStateMachine: a machine with its versions and aliases, or one version (refused
        while an alias routes to it). Executions already running go on to their end; an ARN
        that names nothing is fine, as AWS answers it."""
        arn = _field(await _body(request), "stateMachineArn")
        backend = self.backend
        try:
            machine = await backend.state_machine(arn)
        except AslError:
            return _ok({})
        if machine.version is None:
            await backend.change_catalog(lambda catalog: catalog.delete(arn))
        else:
            await backend.change_catalog(lambda catalog: catalog.delete_version(arn))
        return _ok({})

    async def validate(self, request: Request) -> Response:
        body = await _body(request)
        text = _field(body, "definition")
        diagnostics = self.backend.catalog.validate(text, type=body.get("type") or "STANDARD")
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
        """A machine's executions, those started on its versions included, newest first."""
        executions = await self.backend.list_executions(
            _query(request, "stateMachineArn"), request.query_params.get("status") or None)
        executions.sort(key=lambda e: e.start_date, reverse=True)
        return _ok({"executions": [_execution(e, with_data=False) for e in executions]})

    async def start_execution(self, request: Request) -> Response:
        body = await _body(request)
        arn = await self.backend.start_execution(
            _field(body, "stateMachineArn"), input_json=body.get("input") or "{}",
            name=body.get("name") or None, test_case=None)
        return _ok({"executionArn": arn})

    async def describe_execution(self, request: Request) -> Response:
        """The execution, the definition it runs (see `_definition_of`), where it came from
        (`parentExecutionArn` for a Map Run's child), whether the store can fork it, and its
        history in AWS's shape: the events after id `after` only, when given (the page polls a
        running execution, whose history only grows)."""
        source = self.source
        arn = _query(request, "arn")
        after = _int(request.query_params.get("after") or 0, "after")
        execution = await source.backend.describe_execution(arn)
        events = await source.events(arn)
        definition, origin = await self._definition_of(execution, events)
        started = started_details(events)
        history = [{**event, "timestamp": event["timestamp"].timestamp()}
                   for event in render_history(events) if event["id"] > after]
        return _ok({"execution": {**_execution(execution, with_data=True),
                                  "parentExecutionArn": started.parent_arn if started else ""},
                    "definition": definition, "definitionSource": origin,
                    "events": history})

    async def _definition_of(self, execution: Execution, events: list[ev.HistoryEvent]
                             ) -> tuple[str | None, str]:
        """The definition the execution runs, and where it came from: "fork" (it was forked
        with it), "mapRun" (a Map Run's child: its Map's ItemProcessor), "version",
        "stateMachine" (not updated since the execution started), "updated" (the machine has
        changed since) or "deleted" (the machine is gone)."""
        arn = execution.execution_arn
        definition = await self.source.definition(arn, events)
        if arn in self._forked_with_definition:
            return definition, "fork"
        started = started_details(events)
        if started is not None and started.machine and definition is not None:
            processor = sub_machine(msgspec.json.decode(definition), started.machine)
            return (None if processor is None else msgspec.json.encode(processor).decode(),
                    "mapRun")
        try:
            machine = await self.backend.state_machine(execution.state_machine_arn)
        except AslError:
            return definition, "deleted"
        if definition is None:
            definition = machine.definition
        if machine.version is not None:
            return definition, "version"
        if machine.updated is not None and machine.updated > execution.start_date:
            return definition, "updated"
        return definition, "stateMachine"

    async def stop_execution(self, request: Request) -> Response:
        """StopExecution (optional `error` and `cause`); answers once the execution ended
        (on a cluster: once a worker recorded it, or after the backend's wait for that)."""
        body = await _body(request)
        execution = await self.backend.stop_execution(
            _field(body, "executionArn"), error=body.get("error") or None,
            cause=body.get("cause") or None)
        return _ok({"execution": _execution(execution, with_data=False)})

    async def state_at(self, request: Request) -> Response:
        """The execution just after one event: its frames (time travel's view) and each
        state's outcome so far, folded from the recorded history."""
        source = self.source
        arn = _query(request, "arn")
        event_id = _int(_query(request, "event"), "event")
        execution = await source.backend.describe_execution(arn)
        events = await source.events(arn, upto=event_id)
        view = state_at(events, event_id, state=new_state(
            arn, execution.state_machine_arn, execution.name))
        return _ok({"view": msgspec.to_builtins(view),
                    "states": state_outcomes(events, event_id)})

    async def fork(self, request: Request) -> Response:
        body = await _body(request)
        definition = body.get("definition") or None
        input_text = body.get("input")
        arn = await self.source.fork(
            _field(body, "executionArn"), _int(body.get("event"), "event"),
            definition=definition, name=body.get("name") or None,
            input=MISSING if input_text in (None, "") else _decode(input_text, "input"))
        if definition is not None:
            self._forked_with_definition.add(arn)
        return _ok({"executionArn": arn})

    async def redrive(self, request: Request) -> Response:
        execution = await self.backend.redrive_execution(
            _field(await _body(request), "executionArn"))
        return _ok({"executionArn": execution.execution_arn, "status": execution.status,
                    "redriveCount": execution.redrive_count})

    # -- Map Runs ---------------------------------------------------------------------------

    async def map_runs(self, request: Request) -> Response:
        """An execution's Map Runs (its Distributed Map states' runs), with live counts."""
        runs = await self.backend.map_runs(_query(request, "arn"))
        return _ok({"mapRuns": [_map_run(run) for run in runs]})

    async def map_run(self, request: Request) -> Response:
        """A Map Run, its parent execution, and its child executions (optionally of one
        status), newest first."""
        backend = self.backend
        arn = _query(request, "arn")
        parent, run = await backend.describe_map_run(arn)
        children = [e for e in await backend.list_executions(
                        child_state_machine_arn(arn), request.query_params.get("status") or None)
                    if e.map_run_arn == arn]
        children.sort(key=lambda e: e.start_date, reverse=True)
        return _ok({"mapRun": _map_run(run), "executionArn": parent,
                    "executions": [_execution(e, with_data=False) for e in children]})


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


def _publishing(body: dict[str, JSON]) -> tuple[bool, str | None]:
    """`publish` and `versionDescription`, refused together as AWS refuses them."""
    publish = body.get("publish") is True
    description = body.get("versionDescription") or None
    if description is not None and not publish:
        raise AslError("ValidationException",
                       "Version description can only be set when publish is true")
    return publish, description


async def _published(backend: Backend, arn: str, publish: bool, description: str | None
                     ) -> dict[str, JSON]:
    if not publish:
        return {}
    version = await backend.change_catalog(
        lambda catalog: catalog.publish(arn, description=description))
    return {"stateMachineVersionArn": version.arn, "version": version.version}


def _version_number(state_machine_arn: str) -> int | None:
    """The version an execution was started on (its state machine ARN is then qualified)."""
    parts = state_machine_arn.split(":")
    return int(parts[7]) if len(parts) == 8 and parts[7].isdigit() else None


def _machine(machine: StateMachine, *, with_definition: bool = True) -> dict[str, JSON]:
    out: dict[str, JSON] = {"stateMachineArn": machine.arn, "name": machine.name,
                            "type": machine.type, "creationDate": machine.created,
                            "updateDate": machine.updated, "version": machine.version,
                            "description": machine.description}
    if with_definition:
        out["definition"] = machine.definition
    return out


def _alias(alias: Alias) -> dict[str, JSON]:
    return {"stateMachineAliasArn": alias.arn, "name": alias.name,
            "description": alias.description, "creationDate": alias.created,
            "updateDate": alias.updated,
            "routingConfiguration": [{"stateMachineVersionArn": r.version_arn,
                                      "weight": r.weight} for r in alias.routes]}


def _execution(execution: Execution, *, with_data: bool) -> dict[str, JSON]:
    out: dict[str, JSON] = {
        "executionArn": execution.execution_arn, "mapRunArn": execution.map_run_arn or None,
        "stateMachineArn": execution.state_machine_arn,
        "version": _version_number(execution.state_machine_arn), "name": execution.name,
        "status": execution.status, "startDate": execution.start_date,
        "stopDate": execution.stop_date, "redriveCount": execution.redrive_count,
    }
    if with_data:
        out.update(input=execution.input, output=execution.output, error=execution.error,
                   cause=execution.cause)
    return out


def _map_run(run: MapRun) -> dict[str, JSON]:
    return {"mapRunArn": run.arn, "state": run.state, "status": run.status,
            "startDate": run.started, "stopDate": run.stopped, "total": run.total,
            "succeeded": run.succeeded, "failed": run.failed,
            "running": max(0, run.total - run.succeeded - run.failed),
            "maxConcurrency": run.max_concurrency}
