"""What the API operations do beyond the engine: StartExecution's idempotency and alias
routing, which version/alias started an execution, listing order and pagination, and running
TestState's task calls. Handlers translate JSON to these calls and back; nothing here knows
the wire format, and nothing here asks which engine serves: everything goes through a
`Backend` (runtime.api.backend).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from typing import Any, Final, TypeVar

import msgspec
from msgspec.structs import replace

from integrations._base import TaskCall, TaskError
from integrations.mocks import split_test_case
from runtime.activities import Activity
from runtime.api import arns
from runtime.api.backend import Backend, backend_of
from runtime.catalog import Alias, Catalog, Route, StateMachine
from runtime.engine import Execution, Runtime
from runtime.errors import AslError
from runtime.map_runs import labelled_machine
from runtime.model.validate import Diagnostic
from runtime.state import MapRun
from runtime.teststate import TestRun, TestStateRequest, TestStateResult

DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000
T = TypeVar("T")
JSON = Any


class Origin(msgspec.Struct, frozen=True, kw_only=True):
    """The state machine (as it was) that an execution started from, and via which alias."""

    machine: StateMachine
    alias_arn: str | None = None
    #: A Map Run's child execution: the Map's label (its machine is the labelled one).
    label: str | None = None
    #: When StartExecution was answered: the execution's own start time is recorded only
    #: once its actor has run the start, which may be after the response.
    requested_at: float = 0.0


class Page(msgspec.Struct, kw_only=True):
    items: list[Any]
    next_token: str | None = None


def paginate(items: Sequence[T], max_results: int | None, token: str | None, *,
             listing: str) -> Page:
    """A page of `items`; `listing` ties a token to the list it was issued for."""
    size = max_results or DEFAULT_PAGE
    if not 0 < size <= MAX_PAGE:
        raise AslError("ValidationException",
                       f"1 validation error detected: Value '{max_results}' at 'maxResults' "
                       f"failed to satisfy constraint: Member must have value less than or "
                       f"equal to {MAX_PAGE}")
    start = 0
    if token:
        try:
            owner, _, offset = base64.urlsafe_b64decode(token.encode()).decode().rpartition("|")
            start = int(offset)
        except (ValueError, UnicodeDecodeError):
            raise AslError("InvalidToken", f"Invalid Token: '{token}'") from None
        if owner != listing or start < 0:
            raise AslError("InvalidToken", f"Invalid Token: '{token}'")
    end = start + size
    following = None
    if end < len(items):
        following = base64.urlsafe_b64encode(f"{listing}|{end}".encode()).decode()
    return Page(items=list(items[start:end]), next_token=following)


class StepFunctions:
    """The API's operations on one `Backend`, or on a running `Runtime` (entered with
    `async with`)."""

    def __init__(self, target: Runtime | Backend, *, seed: int | None = None) -> None:
        self.backend = backend_of(target)
        self._origins: dict[str, Origin] = {}
        #: Alias routing draws; seeded in tests.
        self._routing = random.Random(seed)

    @property
    def catalog(self) -> Catalog:
        return self.backend.catalog

    # -- state machines ---------------------------------------------------------------------

    async def create_state_machine(
        self, name: str, definition: str, *, role_arn: str, type: str = "STANDARD",
        logging: dict[str, JSON] | None = None, tracing: dict[str, JSON] | None = None,
        tags: dict[str, str] | None = None, publish: bool = False,
        version_description: str | None = None,
    ) -> tuple[StateMachine, StateMachine | None]:
        """The machine, and the version published with it (if `publish`)."""
        if version_description is not None and not publish:
            raise AslError("ValidationException",
                           "Version description can only be set when publish is true")
        if type not in ("STANDARD", "EXPRESS"):
            raise AslError("ValidationException",
                           f"1 validation error detected: Value '{type}' at 'type' failed to "
                           f"satisfy constraint: Member must satisfy enum value set: "
                           f"[STANDARD, EXPRESS]")
        _check_role(role_arn)
        if publish:
            self.backend.require("PublishStateMachineVersion")
        arn = await self.backend.create_state_machine(name, definition, role_arn=role_arn,
                                                      type=type)
        machine = await self.backend.change_catalog(
            lambda catalog: catalog.configure(arn, logging=logging, tracing=tracing))
        if tags:
            self.catalog.tag(arn, tags)
        version = await self._publish(arn, description=version_description) if publish \
            else None
        return machine, version

    def validate(self, definition: str, *, type: str) -> list[Diagnostic]:
        return self.catalog.validate(definition, type=type)

    async def update_state_machine(
        self, arn: str, *, definition: str | None = None, role_arn: str | None = None,
        logging: dict[str, JSON] | None = None, tracing: dict[str, JSON] | None = None,
        publish: bool = False, version_description: str | None = None,
    ) -> tuple[StateMachine, StateMachine | None]:
        arns.require(arn, "stateMachine")
        self.backend.require("UpdateStateMachine")
        if version_description is not None and not publish:
            raise AslError("ValidationException",
                           "Version description can only be set when publish is true")
        if role_arn is not None:
            _check_role(role_arn)
        machine = await self.backend.change_catalog(lambda catalog: catalog.update(
            arn, definition=definition, role_arn=role_arn, logging=logging, tracing=tracing))
        version = await self._publish(arn, description=version_description) if publish \
            else None
        return machine, version

    async def delete_state_machine(self, arn: str) -> None:
        kind = arns.require(arn, "stateMachine", "version")
        self.backend.require("DeleteStateMachine")
        if kind == "version":
            await self.backend.change_catalog(lambda catalog: catalog.delete_version(arn))
        else:
            await self.backend.change_catalog(lambda catalog: catalog.delete(arn))

    async def describe_state_machine(self, arn: str) -> StateMachine:
        arns.require(arn, "stateMachine", "version")
        return await self.backend.state_machine(arn)

    async def list_state_machines(self, max_results: int | None, token: str | None) -> Page:
        return paginate(await self.backend.state_machines(), max_results, token,
                        listing="stateMachines")

    # -- versions and aliases ---------------------------------------------------------------

    async def publish_version(self, arn: str, *, revision_id: str | None = None,
                              description: str | None = None) -> StateMachine:
        arns.require(arn, "stateMachine")
        self.backend.require("PublishStateMachineVersion")
        return await self._publish(arn, revision_id=revision_id, description=description)

    async def _publish(self, arn: str, *, revision_id: str | None = None,
                       description: str | None = None) -> StateMachine:
        return await self.backend.change_catalog(lambda catalog: catalog.publish(
            arn, revision_id=revision_id, description=description))

    async def list_versions(self, arn: str, max_results: int | None, token: str | None
                            ) -> Page:
        arns.require(arn, "stateMachine")
        self.backend.require("ListStateMachineVersions")
        # Read through `change_catalog` (it records nothing) to see every version published.
        versions = await self.backend.change_catalog(lambda catalog: catalog.versions(arn))
        return paginate(versions, max_results, token, listing=arn)

    async def delete_version(self, arn: str) -> None:
        arns.require(arn, "version")
        self.backend.require("DeleteStateMachineVersion")
        await self.backend.change_catalog(lambda catalog: catalog.delete_version(arn))

    async def create_alias(self, name: str, routes: list[Route], *,
                           description: str | None = None) -> Alias:
        self.backend.require("CreateStateMachineAlias")
        for route in routes:
            arns.require(route.version_arn, "version")
        return await self.backend.change_catalog(
            lambda catalog: catalog.create_alias(name, routes, description=description))

    async def alias(self, arn: str) -> Alias:
        arns.require(arn, "alias")
        self.backend.require("DescribeStateMachineAlias")
        return await self._alias(arn)

    async def _alias(self, arn: str) -> Alias:
        """The alias as last recorded (a read through `change_catalog`, which records
        nothing for it)."""
        return await self.backend.change_catalog(lambda catalog: catalog.alias(arn))

    async def update_alias(self, arn: str, *, routes: list[Route] | None = None,
                           description: str | None = None) -> Alias:
        arns.require(arn, "alias")
        self.backend.require("UpdateStateMachineAlias")
        return await self.backend.change_catalog(
            lambda catalog: catalog.update_alias(arn, routes=routes, description=description))

    async def delete_alias(self, arn: str) -> None:
        arns.require(arn, "alias")
        self.backend.require("DeleteStateMachineAlias")
        await self.backend.change_catalog(lambda catalog: catalog.delete_alias(arn))

    async def list_aliases(self, arn: str, max_results: int | None, token: str | None
                           ) -> Page:
        arns.require(arn, "stateMachine")
        self.backend.require("ListStateMachineAliases")
        aliases = await self.backend.change_catalog(lambda catalog: catalog.aliases(arn))
        return paginate(aliases, max_results, token, listing=arn + "#a")

    # -- tags -------------------------------------------------------------------------------

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        arns.require(arn, "stateMachine", "version", "alias")
        self.catalog.tag(arn, tags)

    def untag(self, arn: str, keys: list[str]) -> None:
        arns.require(arn, "stateMachine", "version", "alias")
        self.catalog.untag(arn, keys)

    def tags(self, arn: str) -> dict[str, str]:
        arns.require(arn, "stateMachine", "version", "alias")
        return self.catalog.tags(arn)

    # -- executions -------------------------------------------------------------------------

    async def start_execution(self, arn: str, *, input_json: str | None = None,
                              name: str | None = None) -> Execution:
        """StartExecution. AWS is idempotent by name: the same name and input while that
        execution still runs give back the same execution; otherwise ExecutionAlreadyExists.
        An ARN ending `#TestCase` runs under that test case of the mock configuration, as
        Step Functions Local does."""
        arn, test_case = split_test_case(arn)
        kind = arns.require(arn, "stateMachine", "version", "alias")
        alias_arn = None
        if kind == "alias":
            alias_arn = arn
            arn = self._route(await self._alias(arn))
        machine = await self.backend.state_machine(arn)
        text = "{}" if input_json is None else input_json
        if name is not None:
            existing = await self._same_name(machine, name, text)
            if existing is not None:
                return existing
        requested_at = self.backend.now()
        execution_arn = await self.backend.start_execution(arn, input_json=text, name=name,
                                                           test_case=test_case)
        self._origins[execution_arn] = Origin(machine=machine, alias_arn=alias_arn,
                                              requested_at=requested_at)
        return self._started(await self.backend.describe_execution(execution_arn))

    def _started(self, execution: Execution) -> Execution:
        """`execution` with its start date even before its actor has recorded it."""
        if execution.start_date:
            return execution
        origin = self._origins.get(execution.execution_arn)
        return replace(execution, start_date=origin.requested_at if origin else 0.0)

    async def _same_name(self, machine: StateMachine, name: str, text: str
                         ) -> Execution | None:
        backend = self.backend
        execution_arn = (f"arn:aws:states:{backend.region}:{backend.account}:execution:"
                         f"{machine.name}:{name}")
        try:
            existing = await backend.describe_execution(execution_arn)
        except AslError:
            return None
        try:
            same_input = msgspec.json.decode(text) == existing.input
        except msgspec.DecodeError:
            return None  # the engine reports the input as AWS does
        if existing.status == "RUNNING" and same_input and \
                arns.unqualified(existing.state_machine_arn) == machine.machine_arn:
            return self._started(existing)
        raise AslError("ExecutionAlreadyExists", f"Execution Already Exists: '{execution_arn}'")

    def _route(self, alias: Alias) -> str:
        draw = self._routing.uniform(0, 100)
        for route in alias.routes:
            if draw < route.weight:
                return route.version_arn
            draw -= route.weight
        return alias.routes[-1].version_arn

    async def describe_execution(self, arn: str) -> tuple[Execution, Origin]:
        arns.require(arn, "execution")
        execution = self._started(await self.backend.describe_execution(arn))
        return execution, await self.origin(execution)

    async def origin(self, execution: Execution) -> Origin:
        found = self._origins.get(execution.execution_arn)
        if found is None and execution.map_run_arn:
            # AWS: the state machine of a Map Run's child is the labelled one.
            parent_arn, label = labelled_machine(execution.state_machine_arn)
            parent = await self.backend.state_machine(parent_arn)
            found = Origin(machine=replace(parent, arn=execution.state_machine_arn,
                                           name=f"{parent.name}/{label}"), label=label)
        elif found is None:
            found = Origin(machine=await self.backend.state_machine(execution.state_machine_arn))
        return found

    async def stop_execution(self, arn: str, *, error: str | None = None,
                             cause: str | None = None) -> Execution:
        arns.require(arn, "execution")
        return await self.backend.stop_execution(arn, error=error, cause=cause)

    async def redrive_execution(self, arn: str) -> Execution:
        arns.require(arn, "execution")
        return await self.backend.redrive_execution(arn)

    async def wait(self, arn: str) -> Execution:
        return await self.backend.wait(arn)

    async def list_map_run_executions(self, map_run_arn: str, status: str | None,
                                      max_results: int | None, token: str | None) -> Page:
        """The child executions of a Map Run, newest first."""
        await self.backend.describe_map_run(map_run_arn)
        found = [self._started(e) for e in await self.backend.list_executions(None, status)
                 if e.map_run_arn == map_run_arn]
        found.sort(key=lambda e: e.start_date, reverse=True)
        return paginate(found, max_results, token, listing=f"{map_run_arn}#{status}")

    async def list_executions(self, arn: str, status: str | None, max_results: int | None,
                              token: str | None) -> Page:
        """Newest first. A version or alias ARN lists the executions it started."""
        kind = arns.require(arn, "stateMachine", "version", "alias")
        if kind == "alias":
            await self._alias(arn)
        else:
            await self.backend.state_machine(arn)
        found = []
        for execution in await self.backend.list_executions(arns.unqualified(arn), status):
            origin = self._origins.get(execution.execution_arn)
            if kind == "alias":
                if origin is None or origin.alias_arn != arn:
                    continue
            elif kind == "version" and execution.state_machine_arn != arn:
                continue
            found.append(self._started(execution))
        found.sort(key=lambda e: e.start_date, reverse=True)
        return paginate(found, max_results, token, listing=f"{arn}#{status}")

    async def history(self, arn: str, *, max_results: int | None, token: str | None,
                      reverse: bool, include_data: bool) -> Page:
        arns.require(arn, "execution")
        events = await self.backend.history(arn, include_data=include_data)
        if reverse:
            events.reverse()
        return paginate(events, max_results, token, listing=f"{arn}#{reverse}")

    # -- callbacks, activities, Map Runs ----------------------------------------------------

    async def send_task_success(self, token: str, output_json: str) -> None:
        """AWS checks the token before the output."""
        await self.backend.check_task_token(token)
        try:
            output = msgspec.json.decode(output_json)
        except msgspec.DecodeError:
            raise AslError("InvalidOutput", f"Invalid Output: '{output_json[:200]}'") from None
        await self.backend.send_task_success(token, output)

    async def send_task_failure(self, token: str, *, error: str | None,
                                cause: str | None) -> None:
        await self.backend.send_task_failure(token, error=error, cause=cause)

    async def send_task_heartbeat(self, token: str) -> None:
        await self.backend.send_task_heartbeat(token)

    async def create_activity(self, name: str) -> Activity:
        return await self.backend.create_activity(name)

    async def activity(self, arn: str) -> Activity:
        return await self.backend.activity(arn)

    async def activities(self) -> list[Activity]:
        return await self.backend.activities()

    async def delete_activity(self, arn: str) -> None:
        await self.backend.delete_activity(arn)

    async def get_activity_task(self, arn: str, *, worker_name: str | None,
                                timeout: float) -> tuple[str, JSON] | None:
        return await self.backend.get_activity_task(arn, worker_name=worker_name,
                                                    timeout=timeout)

    async def map_runs(self, execution_arn: str) -> list[MapRun]:
        await self.describe_execution(execution_arn)
        return await self.backend.map_runs(execution_arn)

    async def describe_map_run(self, map_run_arn: str) -> tuple[str, MapRun]:
        return await self.backend.describe_map_run(map_run_arn)

    async def update_map_run(self, map_run_arn: str, *, max_concurrency: int | None,
                             tolerated_failure_count: float | None,
                             tolerated_failure_percentage: float | None) -> None:
        await self.backend.update_map_run(
            map_run_arn, max_concurrency=max_concurrency,
            tolerated_failure_count=tolerated_failure_count,
            tolerated_failure_percentage=tolerated_failure_percentage)

    # -- TestState --------------------------------------------------------------------------

    async def test_state(self, request: TestStateRequest) -> TestStateResult:
        """Run one state; task calls without a mock go to the backend's integrations."""
        run = TestRun(request, now=self.backend.now(), seed=self._routing.getrandbits(32))
        while pending := run.pending():
            for effect in pending:
                context = effect.context or {}
                call = TaskCall(resource=effect.resource, parameters=effect.parameters,
                                execution_arn=context.get("ExecutionArn", ""),
                                state_name=context.get("StateName", ""),
                                idempotency_key=context.get("IdempotencyKey", effect.key))
                try:
                    output = await self.backend.invoke(call)
                except TaskError as failure:
                    run.complete(effect.key, failed=True, error=failure.error,
                                 cause=failure.cause)
                else:
                    run.complete(effect.key, output=output)
        return run.result()


def _check_role(role_arn: str) -> None:
    if not role_arn.startswith("arn:"):
        raise AslError("InvalidArn", f"Invalid Arn: 'Invalid ARN prefix: {role_arn}'")
