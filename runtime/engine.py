"""`Runtime`: the embeddable Step Functions service. It owns the state machines, one actor per
running execution, the timer service, the effect runner and the event log.

    async with Runtime(clock="virtual") as rt:
        rt.register_task("charge", charge_card)
        arn = await rt.create_state_machine("orders", definition)
        done = await rt.run(arn, {"order": 1})
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Mapping
from typing import Any, Literal, Self

import anyio
import msgspec
import structlog
from anyio.abc import TaskGroup

from integrations._base import IntegrationSource
from integrations.aws import AwsIntegrations
from integrations.files import LocalFiles
from integrations.http import HttpIntegrations
from integrations.mocks import (
    MockConfig,
    MockedIntegrations,
    UnknownTestCase,
    load_mock_config,
    split_test_case,
)
from integrations.python import PythonFunctions, TaskHandler
from integrations.resolve import CallResolver
from runtime import events as ev
from runtime import store
from runtime.activities import ActivityTask
from runtime.actor.clock import Clock, SystemClock, VirtualClock
from runtime.actor.execution import ExecutionActor
from runtime.actor.invoke import run_task
from runtime.actor.timers import TimerService
from runtime.catalog import NAME_RE, StateMachine
from runtime.catalog_replica import CatalogReplica
from runtime.dataflow.scope import MISSING
from runtime.effects import (
    Deliver,
    Effect,
    InvokeTask,
    OfferActivityTask,
    StartChildExecution,
    StartTimer,
    WatchExecution,
)
from runtime.errors import AslError
from runtime.history import render_history
from runtime.log._base import EventLog
from runtime.log.file import Durability, FileEventLog
from runtime.log.memory import MemoryEventLog
from runtime.log.snapshots import FileSnapshotStore, SnapshotStore
from runtime.logging import ExecutionLogWriter, execution_log_writer
from runtime.map_runs import check_map_run_update, map_runs_of
from runtime.messages import (
    ActivityStarted,
    ChildExecutionEnded,
    ParentLink,
    RedriveExecution,
    StartExecution,
    StopExecution,
    TaskCallback,
    TaskHeartbeat,
    TimerFired,
    UpdateMapRun,
)
from runtime.metrics import Metrics
from runtime.model.validate import (
    Diagnostic,
)
from runtime.nested import NestedExecutions
from runtime.program import Program
from runtime.reducers import REDRIVABLE, pending_effects
from runtime.reducers.turn import MAX_PAYLOAD_BYTES
from runtime.replay import ReplayResult, replay
from runtime.state import ExecutionState, MapRun, evolve, new_state, project
from runtime.sync_results import failure_cause, sync_result
from runtime.timetravel import StateView, fork_point, replaced_input, rerouted, state_at
from runtime.tokens import read_token

log = structlog.get_logger("stepline.runtime")

DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/stepline"

JSON = Any


class Execution(msgspec.Struct, kw_only=True):
    """What DescribeExecution reports."""

    execution_arn: str
    state_machine_arn: str
    name: str
    status: str
    start_date: float
    stop_date: float | None = None
    input: JSON = None
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    redrive_count: int = 0
    redrive_date: float | None = None
    #: The Map Run that started this execution (a Distributed Map's child), else "".
    map_run_arn: str = ""


def _describe(state: ExecutionState) -> Execution:
    return Execution(
        execution_arn=state.execution_arn, state_machine_arn=state.state_machine_arn,
        name=state.name, status=state.status, start_date=state.start_time,
        stop_date=state.stop_time, input=state.input, output=state.output, error=state.error,
        cause=state.cause, redrive_count=state.redrive_count,
        redrive_date=state.attempt_started if state.redrive_count else None,
        map_run_arn=state.map_run_arn,
    )


class Runtime:
    """Args:
        clock: "system" (real time), "virtual" (Waits and retries complete instantly) or a
            `Clock`.
        event_log: where events go; in memory by default.
        store: a directory for a durable file event log (instead of `event_log`); opening a
            runtime on a store resumes every unfinished execution recorded there.
        durability: the file log's policy: "group" (group commit), "fsync" or "none".
        region, account: used in ARNs.
        sources: extra integration sources consulted after the registered Python callables and
            nested executions, before the AWS service integrations and HTTP tasks.
        aws_endpoint_url, aws_endpoints: where AWS service integrations send requests (one
            URL for all, or per botocore service name); by default botocore's own resolution
            (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`, then AWS).
        snapshot_every: with a store, save an execution's state every this many events, so
            resuming a long execution does not fold its history from the first event.
        files_root: a directory a Distributed Map's local-file ItemReader
            (`arn:aws:states:::stepline:readFile`) may read under; none by default, so that a
            definition sent to a server cannot read its files.
        mocks: a mock configuration (Step Functions Local's SFN_MOCK_CONFIG format, a path
            to it, or the parsed document): an execution started with the state machine ARN
            suffixed `#TestCase` gets that test case's mocked responses.
        tasks: Python callables serving Task states, by name (see `register_task`). Register
            them here, or before entering the runtime, when resuming a store: resumed
            executions re-issue their task calls as soon as the runtime is entered.
    """

    def __init__(self, *, clock: Literal["system", "virtual"] | Clock = "system",
                 event_log: EventLog | None = None, store: str | os.PathLike[str] | None = None,
                 durability: Durability = "group", region: str = "us-east-1",
                 account: str = "123456789012", sources: tuple[IntegrationSource, ...] = (),
                 tasks: Mapping[str, TaskHandler] | None = None,
                 snapshot_every: int = 1000, aws_endpoint_url: str | None = None,
                 aws_endpoints: Mapping[str, str] | None = None,
                 files_root: str | os.PathLike[str] | None = None,
                 mocks: MockConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None
                 ) -> None:
        if clock == "system":
            self.clock: Clock = SystemClock()
        elif clock == "virtual":
            self.clock = VirtualClock()
        else:
            self.clock = clock
        self.event_log: EventLog = event_log if event_log is not None else MemoryEventLog()
        self._store = store
        self._durability: Durability = durability
        self._owns_log = False
        self.snapshots: SnapshotStore | None = None
        self.snapshot_every = snapshot_every
        self.region = region
        self.account = account
        self.functions = PythonFunctions()
        for task_name, handler in (tasks or {}).items():
            self.functions.register(task_name, handler)
        self.aws = AwsIntegrations(endpoint_url=aws_endpoint_url,
                                   endpoints=dict(aws_endpoints or {}), region=region)
        self.http = HttpIntegrations()
        files = (LocalFiles(files_root),) if files_root is not None else ()
        # Imported here: the adapter module imports this one.
        from runtime.api.backend import RuntimeBackend

        nested = NestedExecutions(RuntimeBackend(self),
                                  lambda resource, parameters: self.resolver.resolve(
                                      resource, parameters))
        served: tuple[IntegrationSource, ...] = (
            self.functions, nested, *sources, *files, self.aws, self.http)
        self.mocks: MockedIntegrations | None = None
        if mocks is not None:
            config = load_mock_config(mocks) if isinstance(mocks, (str, os.PathLike)) \
                else mocks
            self.mocks = MockedIntegrations(config, fallback=served, callbacks=self)
            served = (self.mocks, *served)
        self.resolver = CallResolver(served)
        self.timers = TimerService(self.clock)
        #: The catalog as the log's catalog stream records it: every catalog change goes
        #: through it, so a runtime reopened on a store has the same one.
        self.catalog_replica = CatalogReplica(self.event_log, region=region, account=account,
                                              clock=self.clock)
        self.catalog = self.catalog_replica.catalog
        self.activities = self.catalog_replica.activities
        #: Definition texts by content id (every one an execution ran is recorded).
        self._definitions = self.catalog_replica.definitions
        self._executions: dict[str, ExecutionActor] = {}
        self._finished: dict[str, ExecutionActor] = {}
        #: Task calls in flight, by execution: cancelled when the execution ends.
        self._calls: dict[str, set[anyio.CancelScope]] = {}
        self.metrics = Metrics(timers=self.timers, open_executions=lambda: [
            actor.state.state_machine_arn for actor in self._executions.values()])
        self._group: TaskGroup | None = None
        self._entropy = random.Random()

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._store is not None:
            self.event_log = await FileEventLog.open(self._store, durability=self._durability)
            self.snapshots = await FileSnapshotStore.open(self._store)
            self._owns_log = True
            self.catalog_replica.log = self.event_log
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self.timers.run)
        await self._resume()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._group is not None
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(None, None, None)
        self._group = None
        await self.aws.close()
        await self.http.close()
        if self._owns_log:
            await self.event_log.close()
            if self.snapshots is not None:
                await self.snapshots.close()

    async def _resume(self) -> None:
        """Reload state machines and executions from the log; continue unfinished ones,
        re-issuing their pending effects (timers keep their absolute due times; task calls
        run again: at-least-once, with the same idempotency key)."""
        # Executions name definitions no catalog record names (`run`, forks).
        self._definitions.update(await store.load_definitions(self.event_log))
        await self.catalog_replica.refresh()
        resumed: list[ExecutionActor] = []
        for stream_id in await self.event_log.streams():
            if not store.is_execution_stream(stream_id):
                continue
            events = await store.load_events(self.event_log, stream_id)
            started = next((e.details for e in events
                            if isinstance(e.details, ev.ExecutionStartedDetails)), None)
            if started is None:
                continue
            _, program = self.catalog.compile(self._definitions[started.definition_id])
            state = await self._recover_state(stream_id, started.state_machine_arn, events)
            if started.test_case and state.status == "RUNNING" and self.mocks is not None:
                self.mocks.bind(stream_id, started.state_machine_arn.rsplit(":", 1)[-1],
                                started.test_case)
            actor = self._new_actor(program, state, events)
            if state.status != "RUNNING":
                actor.finished.set()
                self._finished[stream_id] = actor
                continue
            self._executions[stream_id] = actor
            resumed.append(actor)
        # Effects only once every execution is loaded: a resumed Map Run finds its children.
        for actor in resumed:
            self.group.start_soon(actor.run)
            for effect in pending_effects(actor.program, actor.state):
                self._run_effect(actor, effect)
        if resumed:
            log.info("executions_resumed", count=len(resumed))

    async def _recover_state(self, stream_id: str, state_machine_arn: str,
                             events: list[ev.HistoryEvent]) -> ExecutionState:
        """Fold the history into state, starting from the latest snapshot it covers."""
        start = new_state(stream_id, state_machine_arn, stream_id.rsplit(":", 1)[-1])
        if self.snapshots is not None:
            snapshot = await self.snapshots.latest(stream_id, lte=len(events))
            if snapshot is not None:
                try:
                    saved = _state_decoder.decode(snapshot.state)
                except msgspec.DecodeError:
                    log.warning("snapshot_unreadable", stream=stream_id,
                                version=snapshot.version)
                else:
                    if saved.version == snapshot.version:
                        return project(events[snapshot.version:], saved)
        return project(events, start)

    async def _snapshot(self, actor: ExecutionActor, before: int) -> None:
        every = self.snapshot_every
        if self.snapshots is not None and actor.state.version // every > before // every:
            await self.snapshots.save(actor.arn, actor.state.version,
                                      msgspec.msgpack.encode(actor.state))

    def _new_actor(self, program: Program, state: ExecutionState,
                   history: list[ev.HistoryEvent]) -> ExecutionActor:
        return ExecutionActor(program=program, state=state, history=history,
                              event_log=self.event_log, run_effect=self._run_effect,
                              on_finished=self._on_finished, activity=self.timers,
                              after_turn=self._snapshot, metrics=self.metrics,
                              execution_log=self._execution_log(state.state_machine_arn),
                              known_activity=self.activities.exists)

    def _execution_log(self, state_machine_arn: str) -> ExecutionLogWriter | None:
        """The writer of the machine's loggingConfiguration (none for a machine deleted
        while its executions run on)."""
        try:
            machine = self.catalog.get(state_machine_arn)
        except AslError:
            return None
        return execution_log_writer(machine.logging_configuration)

    @property
    def group(self) -> TaskGroup:
        if self._group is None:
            raise RuntimeError("use the Runtime inside 'async with'")
        return self._group

    # -- tasks ----------------------------------------------------------------------------

    def register_task(self, name: str, handler: TaskHandler, *,
                      error_names: Mapping[type[BaseException], str] | None = None) -> None:
        """Serve Task states whose Resource names `name` with a Python callable.

        `handler(input)` or `handler(input, call)`, sync or async; its return value is the task
        result, an exception a task error named after its class (or `error_names`).
        """
        self.functions.register(name, handler, error_names=error_names)

    # -- state machines -------------------------------------------------------------------

    def validate(self, definition: str | Mapping[str, Any], *, type: str = "STANDARD"
                 ) -> list[Diagnostic]:
        """ValidateStateMachineDefinition: every diagnostic, JSON faults included."""
        return self.catalog.validate(definition, type=type)

    async def create_state_machine(self, name: str, definition: str | Mapping[str, Any], *,
                                   role_arn: str = DEFAULT_ROLE_ARN, type: str = "STANDARD"
                                   ) -> str:
        """CreateStateMachine; returns the state machine ARN."""
        machine = await self.catalog_replica.change(
            lambda catalog: catalog.create(name, definition, role_arn=role_arn, type=type))
        return machine.arn

    async def _record_definition(self, text: str) -> str:
        return await self.catalog_replica.record_definition(text)

    def state_machine(self, arn: str) -> StateMachine:
        return self.catalog.get(arn)

    # -- executions -----------------------------------------------------------------------

    async def start_execution(self, state_machine_arn: str, input: JSON = None, *,
                              name: str | None = None, input_json: str | None = None,
                              parent: ParentLink | None = None) -> str:
        """Start an execution and return its ARN. `input` is a Python value; `input_json`
        the raw JSON text as StartExecution takes it (checked as AWS checks it). `parent`:
        a `.sync` task's child, which answers that task when it ends."""
        state_machine_arn, test_case = split_test_case(state_machine_arn)
        machine = self.state_machine(state_machine_arn)
        value = _decode_input(input_json) if input_json is not None else (
            {} if input is None else input)
        if len(msgspec.json.encode(value)) > MAX_PAYLOAD_BYTES:
            raise AslError("InvalidExecutionInput",
                           "Input exceeds the maximum size of 262144 bytes.")
        name = name or str(uuid.uuid4())
        if not NAME_RE.match(name):
            raise AslError("InvalidName", f"Invalid Name: '{name}'")
        arn = f"arn:aws:states:{self.region}:{self.account}:execution:{machine.name}:{name}"
        existing = self._executions.get(arn) or self._finished.get(arn)
        if existing is not None:
            # AWS (Standard): the same name and input while the execution runs is the same
            # request again, answered with the same execution.
            if existing.state.status == "RUNNING" and existing.state.input == value:
                return arn
            raise AslError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        state = msgspec.structs.replace(new_state(arn, machine.arn, name), input=value)
        if test_case is not None:
            self._bind_mocks(arn, machine.name, test_case)
        actor = self._new_actor(machine.program, state, [])
        self._executions[arn] = actor
        definition_id = await self._record_definition(machine.definition)
        start = StartExecution(
            at=self.clock.now(), input=value, role_arn=machine.role_arn,
            seed=self._entropy.getrandbits(32), definition_id=definition_id, test_case=test_case,
            parent_arn=parent.execution_arn if parent else "",
            parent_key=parent.key if parent else "",
            sync_version=parent.sync_version if parent else 0)
        if not self.event_log.durable:
            actor.tell(start)
            self.group.start_soon(actor.run)
            return arn
        # On a durable log the first turn is stored before StartExecution answers, so an
        # acknowledged start survives a crash right after it. (Virtual time waits for it.)
        self.timers.work_started()
        try:
            await actor.handle(start)
        finally:
            self.timers.work_finished()
        if actor.state.status == "RUNNING":
            self.group.start_soon(actor.run)
        else:
            actor.finished.set()
            await self._on_finished(actor)
        return arn

    def _bind_mocks(self, execution_arn: str, machine_name: str, test_case: str) -> None:
        if self.mocks is None:
            raise AslError("InvalidArn", f"Invalid Arn: test case '{test_case}' given, but no "
                                         "mock configuration is loaded")
        try:
            self.mocks.bind(execution_arn, machine_name, test_case)
        except UnknownTestCase as error:
            raise AslError("ValidationException", str(error)) from None

    async def run(self, state_machine: str | Mapping[str, Any], input: JSON = None, *,
                  name: str | None = None) -> Execution:
        """Start an execution and wait for its end. `state_machine` is an ARN, or a
        definition (registered under a name derived from its content)."""
        if isinstance(state_machine, str) and state_machine.startswith("arn:"):
            arn = state_machine
        else:
            text, _ = self.catalog.compile(state_machine)
            digest = uuid.uuid5(uuid.NAMESPACE_URL, text).hex[:16]
            arn = await self.create_state_machine(f"inline-{digest}", text)
        execution_arn = await self.start_execution(arn, input, name=name)
        return await self.wait(execution_arn)

    async def wait(self, execution_arn: str) -> Execution:
        actor = self._actor(execution_arn)
        await actor.finished.wait()
        return _describe(actor.state)

    async def stop_execution(self, execution_arn: str, *, error: str | None = None,
                             cause: str | None = None) -> Execution:
        actor = self._actor(execution_arn)
        if actor.state.status == "RUNNING":
            actor.tell(StopExecution(at=self.clock.now(), error=error, cause=cause))
            await actor.finished.wait()
        return _describe(actor.state)

    async def redrive_execution(self, execution_arn: str) -> Execution:
        """RedriveExecution: continue a FAILED, TIMED_OUT or ABORTED execution from its
        unsuccessful states (only the failed or aborted iterations and branches of Map and
        Parallel states run again), keeping its history."""
        actor = self._actor(execution_arn)
        if actor.state.status not in REDRIVABLE:
            raise AslError("ExecutionNotRedrivable",
                           f"Execution with status {actor.state.status} cannot be redriven: "
                           f"'{execution_arn}'")
        revived, at = self._redrive(actor, RedriveExecution(at=self.clock.now()))
        return msgspec.structs.replace(_describe(revived.state), status="RUNNING",
                                       redrive_count=revived.state.redrive_count + 1,
                                       redrive_date=at, stop_date=None)

    def _redrive(self, actor: ExecutionActor, message: RedriveExecution
                 ) -> tuple[ExecutionActor, float]:
        """A new actor for an ended execution, told `message`; (actor, time asked)."""
        self._finished.pop(actor.arn, None)
        revived = self._new_actor(actor.program, actor.state, actor.history)
        self._executions[actor.arn] = revived
        revived.tell(message)
        self.group.start_soon(revived.run)
        return revived, message.at

    # -- replay and time travel ----------------------------------------------------------

    def _initial_state(self, execution_arn: str) -> ExecutionState:
        actor = self._actor(execution_arn)
        return new_state(execution_arn, actor.state.state_machine_arn, actor.state.name)

    def replay(self, execution_arn: str, *, definition: str | Mapping[str, Any] | None = None
               ) -> ReplayResult:
        """Re-run the reducers over the execution's recorded messages (with its own
        definition, or `definition` to ask "would this change replay the same?") and report
        the first event where the run parts from the record."""
        actor = self._actor(execution_arn)
        program = actor.program if definition is None else self.catalog.compile(definition)[1]
        return replay(program, actor.history, state=self._initial_state(execution_arn))

    def state_at(self, execution_arn: str, event_id: int) -> StateView:
        """The execution as of just after event `event_id`: per frame, the state, its input,
        its output if it had just exited, and the variables."""
        return state_at(self._actor(execution_arn).history, event_id,
                        state=self._initial_state(execution_arn))

    async def fork(self, execution_arn: str, at_event: int, *,
                   definition: str | Mapping[str, Any] | None = None, input: JSON = MISSING,
                   name: str | None = None) -> str:
        """Start a new execution from the point of an old one just after `at_event` (the end
        of the turn holding it), optionally with another definition, or another input for the
        state the top level is in there. Returns the new execution's ARN; its history begins
        with the old one's up to that point."""
        source = self._actor(execution_arn)
        events = source.history
        point = fork_point(events, at_event, state=self._initial_state(execution_arn))
        machine = self.state_machine(source.state.state_machine_arn)
        text = machine.definition
        program = source.program
        if definition is not None:
            text, program = self.catalog.compile(definition, type=machine.type)
        definition_id = await self._record_definition(text)
        name = name or f"{source.state.name}-fork-{uuid.uuid4().hex[:8]}"
        if not NAME_RE.match(name):
            raise AslError("InvalidName", f"Invalid Name: '{name}'")
        arn = f"arn:aws:states:{self.region}:{self.account}:execution:{machine.name}:{name}"
        if arn in self._executions or arn in self._finished:
            raise AslError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        prefix = [rerouted(event, definition_id) for event in events[:point.version]]
        state = msgspec.structs.replace(point, execution_arn=arn, name=name)
        if input is not MISSING:
            replacement = replaced_input(state, "", input, at=self.clock.now())
            prefix.append(replacement)
            state = evolve(state, replacement)
        actor = self._new_actor(program, state, prefix)
        await actor.append_history(prefix, expected_version=0)
        if state.status != "RUNNING":
            actor.finished.set()
            self._finished[arn] = actor
            return arn
        self._executions[arn] = actor
        self.group.start_soon(actor.run)
        for effect in pending_effects(program, state):
            self._run_effect(actor, effect)
        return arn

    def execution_definition(self, execution_arn: str) -> str:
        """The text of the definition the execution runs (which its state machine may have
        changed since, and which a fork may have replaced)."""
        actor = self._actor(execution_arn)
        found = self._definitions.get(_definition_id(actor.history))
        if found is not None:
            return found
        return self.state_machine(actor.state.state_machine_arn).definition

    def map_runs(self, execution_arn: str) -> list[MapRun]:
        """The Map Runs (Distributed Map states) of an execution, with live counts."""
        return map_runs_of(self._actor(execution_arn).state)

    def describe_map_run(self, map_run_arn: str) -> tuple[str, MapRun]:
        """(execution ARN, Map Run) for DescribeMapRun."""
        for actor in (*self._executions.values(), *self._finished.values()):
            if map_run_arn in actor.state.map_runs:
                run = next(r for r in self.map_runs(actor.arn) if r.arn == map_run_arn)
                return actor.arn, run
        raise AslError("ResourceNotFound", f"Resource not found: '{map_run_arn}'")

    def update_map_run(self, map_run_arn: str, *, max_concurrency: int | None = None,
                       tolerated_failure_count: float | None = None,
                       tolerated_failure_percentage: float | None = None) -> None:
        """UpdateMapRun: change a running Map Run's concurrency or failure tolerance."""
        execution_arn, run = self.describe_map_run(map_run_arn)
        check_map_run_update(run, max_concurrency, tolerated_failure_count,
                             tolerated_failure_percentage)
        self._actor(execution_arn).tell(UpdateMapRun(
            at=self.clock.now(), map_run_arn=map_run_arn, max_concurrency=max_concurrency,
            tolerated_count=tolerated_failure_count,
            tolerated_percentage=tolerated_failure_percentage))

    def describe_execution(self, execution_arn: str) -> Execution:
        return _describe(self._actor(execution_arn).state)

    def list_executions(self, state_machine_arn: str | None = None, *,
                        status: str | None = None) -> list[Execution]:
        found = []
        for actor in (*self._executions.values(), *self._finished.values()):
            state = actor.state
            if state_machine_arn is not None and state.state_machine_arn != state_machine_arn:
                continue
            if status is not None and state.status != status:
                continue
            found.append(_describe(state))
        return found

    def history(self, execution_arn: str) -> list[ev.HistoryEvent]:
        """The execution's events as recorded (internal ones included)."""
        return self._actor(execution_arn).history

    def get_execution_history(self, execution_arn: str, *, include_data: bool = True
                              ) -> list[dict[str, Any]]:
        """The history in AWS's GetExecutionHistory shape."""
        return render_history(self.history(execution_arn), include_data=include_data)

    def _actor(self, execution_arn: str) -> ExecutionActor:
        actor = self._executions.get(execution_arn) or self._finished.get(execution_arn)
        if actor is None:
            raise AslError("ExecutionDoesNotExist",
                           f"Execution Does Not Exist: '{execution_arn}'")
        return actor

    async def _on_finished(self, actor: ExecutionActor) -> None:
        self._executions.pop(actor.arn, None)
        self._finished[actor.arn] = actor
        actor.close()
        # Task calls of an ended execution (stopped, timed out, failed) are abandoned: their
        # results would be ignored, and a call that never returns would hold virtual time.
        for call in self._calls.pop(actor.arn, set()):
            call.cancel()

    # -- effects --------------------------------------------------------------------------

    def _run_effect(self, actor: ExecutionActor, effect: Effect) -> None:
        match effect:
            case StartTimer(key=key, due=due):
                self.timers.schedule(due, lambda at: actor.tell(TimerFired(at=at, key=key)))
            case InvokeTask():
                self.timers.work_started()
                self.group.start_soon(self._invoke, actor, effect)
            case OfferActivityTask():
                self.activities.offer(effect.activity_arn, ActivityTask(
                    token=effect.token, input=effect.input,
                    live=lambda: _waits_on(actor, effect.key)))
            case WatchExecution():
                child = self._executions.get(effect.execution_arn)
                # A running child started by this task answers it itself when it ends; the
                # watch covers one that ended already (its answer may have been lost in a
                # crash) or that this runtime did not start.
                if child is None or child.state.parent_arn != actor.arn:
                    self.group.start_soon(self._watch, actor, effect)
            case StartChildExecution():
                self._start_child(actor, effect)
            case Deliver():
                target = self._executions.get(effect.execution_arn)
                if target is not None:
                    target.tell(effect.message)

    def _start_child(self, parent: ExecutionActor, effect: StartChildExecution) -> None:
        """A Map Run's child execution: started once; asked again (after a crash, or by a
        redrive), an ended child is redriven or its end told to the parent again. A child
        still running when its parent redrives is being stopped: it is redriven once it
        has stopped."""
        child = self._executions.get(effect.execution_arn)
        if child is not None:
            if effect.redrive:
                self.group.start_soon(self._start_child_after_end, parent, child, effect)
            return
        ended = self._finished.get(effect.execution_arn)
        if ended is not None:
            if effect.redrive and ended.state.status in REDRIVABLE:
                self._redrive(ended, RedriveExecution(at=self.clock.now(),
                                                      parent_key=effect.key))
            else:
                state = ended.state
                parent.tell(ChildExecutionEnded(
                    at=self.clock.now(), key=effect.key, status=state.status,
                    output=state.output, error=state.error, cause=state.cause))
            return
        arn = effect.execution_arn
        state = msgspec.structs.replace(
            new_state(arn, effect.state_machine_arn, arn.rsplit(":", 1)[-1]), input=effect.input)
        actor = self._new_actor(parent.program, state, [])
        self._executions[arn] = actor
        actor.tell(effect.start_message(
            at=self.clock.now(), role_arn=parent.state.role_arn,
            definition_id=_definition_id(parent.history), seed=self._entropy.getrandbits(32)))
        self.group.start_soon(actor.run)

    async def _start_child_after_end(self, parent: ExecutionActor, child: ExecutionActor,
                                     effect: StartChildExecution) -> None:
        self.timers.work_started()
        try:
            await child.finished.wait()
            self._start_child(parent, effect)
        finally:
            self.timers.work_finished()

    async def _watch(self, actor: ExecutionActor, effect: WatchExecution) -> None:
        """A `.sync` task ends with its child execution."""
        try:
            child = await self.wait(effect.execution_arn)
        except AslError as error:
            actor.tell(TaskCallback(at=self.clock.now(), key=effect.key, failed=True,
                                    error="States.TaskFailed", cause=error.message))
            return
        result = sync_result(
            execution_arn=child.execution_arn, state_machine_arn=child.state_machine_arn,
            name=child.name, status=child.status, input=child.input, output=child.output,
            error=child.error, cause=child.cause, start=child.start_date, stop=child.stop_date,
            json_values=effect.json_values)
        if child.status == "SUCCEEDED":
            actor.tell(TaskCallback(at=self.clock.now(), key=effect.key, output=result))
        else:
            actor.tell(TaskCallback(at=self.clock.now(), key=effect.key, failed=True,
                                    error="States.TaskFailed", cause=failure_cause(result)))

    # -- callbacks and activities ---------------------------------------------------------

    def _callback_target(self, token: str) -> tuple[ExecutionActor, str]:
        try:
            arn, key = read_token(token)
        except ValueError:
            raise AslError("InvalidToken", "Invalid Token: 'Invalid token'") from None
        actor = self._executions.get(arn)
        if actor is None or not _waits_on(actor, key):
            raise AslError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
        return actor, key

    def check_task_token(self, token: str) -> None:
        """Raise AWS's error (InvalidToken, TaskTimedOut) if no task waits on `token`."""
        self._callback_target(token)

    def send_task_success(self, token: str, output: JSON) -> None:
        """SendTaskSuccess: the callback task holding `token` succeeds with `output`."""
        actor, key = self._callback_target(token)
        actor.tell(TaskCallback(at=self.clock.now(), key=key, output=output))

    def send_task_failure(self, token: str, *, error: str | None = None,
                          cause: str | None = None) -> None:
        actor, key = self._callback_target(token)
        actor.tell(TaskCallback(at=self.clock.now(), key=key, failed=True, error=error,
                                cause=cause))

    def send_task_heartbeat(self, token: str) -> None:
        actor, key = self._callback_target(token)
        actor.tell(TaskHeartbeat(at=self.clock.now(), key=key))

    async def create_activity(self, name: str) -> str:
        """CreateActivity (recorded); the same name again is the same activity."""
        return (await self.catalog_replica.create_activity(name)).arn

    async def delete_activity(self, activity_arn: str) -> None:
        """DeleteActivity (recorded, so a resumed runtime does not bring it back)."""
        await self.catalog_replica.delete_activity(activity_arn)

    async def get_activity_task(self, activity_arn: str, *, worker_name: str | None = None,
                                timeout: float = 60.0) -> tuple[str, JSON] | None:
        """GetActivityTask: (task token, input) of the next task, or None after `timeout`
        seconds (AWS long-polls for 60)."""
        task = await self.activities.poll(activity_arn, timeout=timeout)
        if task is None:
            return None
        actor, key = self._callback_target(task.token)
        actor.tell(ActivityStarted(at=self.clock.now(), key=key, worker_name=worker_name))
        return task.token, task.input

    async def _invoke(self, actor: ExecutionActor, effect: InvokeTask) -> None:
        """Run one task call (see `runtime.actor.invoke`); TimeoutSeconds and HeartbeatSeconds
        are enforced there in real time, and also by the reducer's timers, which survive a
        crash."""
        started = anyio.current_time()
        calls = self._calls.setdefault(actor.arn, set())
        scope = anyio.CancelScope()
        calls.add(scope)
        try:
            with scope:
                message = await run_task(self.resolver, self.clock, actor.arn, effect)
                self.metrics.observe_task(effect.resource, anyio.current_time() - started)
                # Queue the outcome before the task stops counting as work, so virtual time
                # cannot slip past it.
                actor.tell(message)
        finally:
            calls.discard(scope)
            self.timers.work_finished()


_state_decoder = msgspec.msgpack.Decoder(ExecutionState)


def _waits_on(actor: ExecutionActor, key: str) -> bool:
    frame = actor.state.frames.get(key.rpartition("@")[0])
    return (actor.state.status == "RUNNING" and frame is not None
            and frame.waiting is not None and frame.waiting.key == key)


def _definition_id(history: list[ev.HistoryEvent]) -> str:
    """The content id of the definition an execution runs ("" before it started)."""
    for event in history:
        if isinstance(event.details, ev.ExecutionStartedDetails):
            return event.details.definition_id
    return ""


def _decode_input(text: str) -> JSON:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise AslError("InvalidExecutionInput",
                       f"Invalid execution input: {exc}") from None
