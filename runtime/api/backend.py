"""What the API serves from: one async interface, `Backend`, with an adapter per engine.

`RuntimeBackend` serves from a single-process `Runtime` (memory or file store);
`ClusterBackend` from a `ClusterClient` (the PostgreSQL store, advanced by cluster workers).
`StepFunctions` (runtime.api.service) and the handlers call only `Backend`, so they never ask
which engine is behind it. What the cluster cannot do yet answers AWS's ValidationException
naming the operation, raised by the `ClusterBackend` method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from msgspec.structs import replace

from integrations._base import TaskCall, TaskError
from runtime.activities import Activity
from runtime.api import arns
from runtime.catalog import Catalog, StateMachine
from runtime.cluster.client import ClusterClient
from runtime.engine import Execution, Runtime
from runtime.errors import AslError
from runtime.messages import ParentLink
from runtime.state import MapRun

JSON = Any
T = TypeVar("T")


def not_in_cluster(what: str) -> AslError:
    return AslError("ValidationException", f"{what} is not supported with a PostgreSQL store")


class Backend(Protocol):
    """The engine the API operations run on. Errors are `AslError`s with AWS's codes."""

    region: str
    account: str

    @property
    def catalog(self) -> Catalog:
        """The state machines known here, for reads; tags (kept by this server only) are set
        on it too. Every other change goes through `change_catalog`."""

    async def change_catalog(self, change: Callable[[Catalog], T]) -> T:
        """What `change` returns, applied to the catalog up to date with every change
        recorded so far (by any server) and recorded as the engine records catalog changes.
        A `change` that only reads records nothing: reads that must see a change just made
        through another server (versions, aliases) go through here too."""

    def now(self) -> float:
        """Epoch seconds on the engine's clock."""

    def require(self, operation: str) -> None:
        """Raise ValidationException if this backend does not serve the catalog change
        `operation` (an API operation name)."""

    async def create_state_machine(self, name: str, definition: str, *, role_arn: str,
                                   type: str) -> str:
        """CreateStateMachine (idempotent for the same name and definition); its ARN."""

    async def state_machine(self, arn: str) -> StateMachine:
        """A state machine or version, including ones created through other servers."""

    async def state_machines(self) -> list[StateMachine]:
        """Every state machine, in creation order."""

    async def start_execution(self, machine_arn: str, *, input_json: str, name: str | None,
                              test_case: str | None, parent: ParentLink | None = None) -> str:
        """StartExecution of a state machine or version; the execution's ARN. `test_case`
        names a test case of the mock configuration; `parent`: a `.sync` task's child."""

    async def describe_execution(self, arn: str) -> Execution:
        """ExecutionDoesNotExist when unknown."""

    async def list_executions(self, machine_arn: str | None, status: str | None
                              ) -> list[Execution]:
        """Executions of `machine_arn` (and its versions), any order."""

    async def history(self, arn: str, *, include_data: bool) -> list[dict[str, JSON]]:
        """GetExecutionHistory's events in order, with `timestamp` as a datetime."""

    async def stop_execution(self, arn: str, *, error: str | None, cause: str | None
                             ) -> Execution:
        """StopExecution; the execution as stopped (unchanged if it had ended)."""

    async def redrive_execution(self, arn: str) -> Execution: ...

    async def wait(self, arn: str) -> Execution:
        """The execution once it has ended."""

    async def check_task_token(self, token: str) -> None:
        """InvalidToken / TaskTimedOut unless a task may still wait on `token`."""

    async def send_task_success(self, token: str, output: JSON) -> None: ...

    async def send_task_failure(self, token: str, *, error: str | None,
                                cause: str | None) -> None: ...

    async def send_task_heartbeat(self, token: str) -> None: ...

    async def create_activity(self, name: str) -> Activity: ...

    async def activity(self, arn: str) -> Activity: ...

    async def activities(self) -> list[Activity]: ...

    async def delete_activity(self, arn: str) -> None: ...

    async def get_activity_task(self, arn: str, *, worker_name: str | None,
                                timeout: float) -> tuple[str, JSON] | None:
        """(task token, input) of the next task, or None after `timeout` s."""

    async def map_runs(self, execution_arn: str) -> list[MapRun]: ...

    async def describe_map_run(self, map_run_arn: str) -> tuple[str, MapRun]:
        """(execution ARN, Map Run)."""

    async def update_map_run(self, map_run_arn: str, *, max_concurrency: int | None,
                             tolerated_failure_count: float | None,
                             tolerated_failure_percentage: float | None) -> None:
        """UpdateMapRun (ValidationException unless the Map Run is running)."""

    async def invoke(self, call: TaskCall) -> JSON:
        """Run one task call for TestState; TaskError when it fails."""


class RuntimeBackend:
    """A `Backend` over one running single-process `Runtime`: it serves every operation."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.region = runtime.region
        self.account = runtime.account

    @property
    def catalog(self) -> Catalog:
        return self.runtime.catalog

    def now(self) -> float:
        return self.runtime.clock.now()

    def require(self, operation: str) -> None:
        return None

    async def change_catalog(self, change: Callable[[Catalog], T]) -> T:
        return await self.runtime.catalog_replica.change(change)

    async def create_state_machine(self, name: str, definition: str, *, role_arn: str,
                                   type: str) -> str:
        return await self.runtime.create_state_machine(name, definition, role_arn=role_arn,
                                                       type=type)

    async def state_machine(self, arn: str) -> StateMachine:
        return self.runtime.catalog.get(arn)

    async def state_machines(self) -> list[StateMachine]:
        return self.runtime.catalog.list()

    async def start_execution(self, machine_arn: str, *, input_json: str, name: str | None,
                              test_case: str | None, parent: ParentLink | None = None) -> str:
        target = f"{machine_arn}#{test_case}" if test_case else machine_arn
        return await self.runtime.start_execution(target, input_json=input_json, name=name,
                                                  parent=parent)

    async def describe_execution(self, arn: str) -> Execution:
        return self.runtime.describe_execution(arn)

    async def list_executions(self, machine_arn: str | None, status: str | None
                              ) -> list[Execution]:
        return [e for e in self.runtime.list_executions(status=status)
                if machine_arn is None or arns.unqualified(e.state_machine_arn) == machine_arn]

    async def history(self, arn: str, *, include_data: bool) -> list[dict[str, JSON]]:
        return self.runtime.get_execution_history(arn, include_data=include_data)

    async def stop_execution(self, arn: str, *, error: str | None, cause: str | None
                             ) -> Execution:
        return await self.runtime.stop_execution(arn, error=error, cause=cause)

    async def redrive_execution(self, arn: str) -> Execution:
        return await self.runtime.redrive_execution(arn)

    async def wait(self, arn: str) -> Execution:
        return await self.runtime.wait(arn)

    async def check_task_token(self, token: str) -> None:
        self.runtime.check_task_token(token)

    async def send_task_success(self, token: str, output: JSON) -> None:
        self.runtime.send_task_success(token, output)

    async def send_task_failure(self, token: str, *, error: str | None,
                                cause: str | None) -> None:
        self.runtime.send_task_failure(token, error=error, cause=cause)

    async def send_task_heartbeat(self, token: str) -> None:
        self.runtime.send_task_heartbeat(token)

    async def create_activity(self, name: str) -> Activity:
        return self.runtime.activities.get(await self.runtime.create_activity(name))

    async def activity(self, arn: str) -> Activity:
        return self.runtime.activities.get(arn)

    async def activities(self) -> list[Activity]:
        return self.runtime.activities.list()

    async def delete_activity(self, arn: str) -> None:
        await self.runtime.delete_activity(arn)

    async def get_activity_task(self, arn: str, *, worker_name: str | None,
                                timeout: float) -> tuple[str, JSON] | None:
        return await self.runtime.get_activity_task(arn, worker_name=worker_name,
                                                    timeout=timeout)

    async def map_runs(self, execution_arn: str) -> list[MapRun]:
        return self.runtime.map_runs(execution_arn)

    async def describe_map_run(self, map_run_arn: str) -> tuple[str, MapRun]:
        return self.runtime.describe_map_run(map_run_arn)

    async def update_map_run(self, map_run_arn: str, *, max_concurrency: int | None,
                             tolerated_failure_count: float | None,
                             tolerated_failure_percentage: float | None) -> None:
        self.runtime.update_map_run(map_run_arn, max_concurrency=max_concurrency,
                                    tolerated_failure_count=tolerated_failure_count,
                                    tolerated_failure_percentage=tolerated_failure_percentage)

    async def invoke(self, call: TaskCall) -> JSON:
        integration = self.runtime.resolver.resolve(call.resource, call.parameters)
        if integration is None:
            raise TaskError("States.TaskFailed",
                            f"No task handler serves the resource '{call.resource}'")
        return await integration.invoke(call)


class ClusterBackend:
    """A `Backend` over a `ClusterClient`: executions are rows the cluster's workers advance.

    State machines, their versions and aliases, and activities come from the store's catalog
    records, so every server and worker on the database sees them; tags are kept by this
    server only. StopExecution queues the stop and waits up to `stop_wait` seconds for a worker to
    record it; a stop still queued after that answers the time it was asked for (AWS's
    StopExecution returns without waiting either).
    """

    def __init__(self, client: ClusterClient, *, stop_wait: float = 10.0) -> None:
        self.client = client
        self.region = client.region
        self.account = client.account
        self.stop_wait = stop_wait

    @property
    def catalog(self) -> Catalog:
        return self.client.catalog

    def now(self) -> float:
        return self.client.clock.now()

    def require(self, operation: str) -> None:
        return None

    async def change_catalog(self, change: Callable[[Catalog], T]) -> T:
        return await self.client.change_catalog(change)

    async def create_state_machine(self, name: str, definition: str, *, role_arn: str,
                                   type: str) -> str:
        return await self.client.create_state_machine(name, definition, role_arn=role_arn,
                                                      type=type)

    async def state_machine(self, arn: str) -> StateMachine:
        return await self.client.state_machine(arn)

    async def state_machines(self) -> list[StateMachine]:
        return await self.client.list_state_machines()

    async def start_execution(self, machine_arn: str, *, input_json: str, name: str | None,
                              test_case: str | None, parent: ParentLink | None = None) -> str:
        return await self.client.start_execution(machine_arn, input_json=input_json, name=name,
                                                 test_case=test_case, parent=parent)

    async def describe_execution(self, arn: str) -> Execution:
        return await self.client.describe_execution(arn)

    async def list_executions(self, machine_arn: str | None, status: str | None
                              ) -> list[Execution]:
        return await self.client.list_executions(machine_arn, status=status)

    async def history(self, arn: str, *, include_data: bool) -> list[dict[str, JSON]]:
        return await self.client.get_execution_history(arn, include_data=include_data)

    async def stop_execution(self, arn: str, *, error: str | None, cause: str | None
                             ) -> Execution:
        asked = self.now()
        try:
            return await self.client.stop_execution(arn, error=error, cause=cause,
                                                    timeout=self.stop_wait)
        except TimeoutError:
            execution = await self.client.describe_execution(arn)
            return replace(execution, stop_date=execution.stop_date or asked)

    async def redrive_execution(self, arn: str) -> Execution:
        return await self.client.redrive_execution(arn)

    async def wait(self, arn: str) -> Execution:
        return await self.client.wait(arn)

    async def check_task_token(self, token: str) -> None:
        await self.client.check_task_token(token)

    async def send_task_success(self, token: str, output: JSON) -> None:
        await self.client.send_task_success(token, output)

    async def send_task_failure(self, token: str, *, error: str | None,
                                cause: str | None) -> None:
        await self.client.send_task_failure(token, error=error, cause=cause)

    async def send_task_heartbeat(self, token: str) -> None:
        await self.client.send_task_heartbeat(token)

    async def create_activity(self, name: str) -> Activity:
        return await self.client.create_activity(name)

    async def activity(self, arn: str) -> Activity:
        return await self.client.activity(arn)

    async def activities(self) -> list[Activity]:
        return await self.client.list_activities()

    async def delete_activity(self, arn: str) -> None:
        await self.client.delete_activity(arn)

    async def get_activity_task(self, arn: str, *, worker_name: str | None,
                                timeout: float) -> tuple[str, JSON] | None:
        return await self.client.get_activity_task(arn, worker_name=worker_name,
                                                   timeout=timeout)

    async def map_runs(self, execution_arn: str) -> list[MapRun]:
        return await self.client.map_runs(execution_arn)

    async def describe_map_run(self, map_run_arn: str) -> tuple[str, MapRun]:
        return await self.client.describe_map_run(map_run_arn)

    async def update_map_run(self, map_run_arn: str, *, max_concurrency: int | None,
                             tolerated_failure_count: float | None,
                             tolerated_failure_percentage: float | None) -> None:
        await self.client.update_map_run(
            map_run_arn, max_concurrency=max_concurrency,
            tolerated_failure_count=tolerated_failure_count,
            tolerated_failure_percentage=tolerated_failure_percentage)

    async def invoke(self, call: TaskCall) -> JSON:
        raise not_in_cluster("TestState with a task call that is not mocked")


def backend_of(target: Runtime | Backend) -> Backend:
    """`target` as a Backend (a Runtime is adapted)."""
    return RuntimeBackend(target) if isinstance(target, Runtime) else target
