"""The API side of a cluster: what `stepline serve --store postgresql://...` needs.

State machines and activities are kept as the event log's catalog records (`runtime.store`),
so every client and worker on the database sees the same ones: each client holds a replica,
brought up to date by reading the records appended since (`refresh`); a catalog change is
appended only if no other record came first (`change_catalog`). Executions are rows of
`executions` plus their event streams. Starting or stopping an execution only queues a message
in its inbox: the workers do the rest. An activity task is the outbox row its step inserted;
GetActivityTask takes it (see `ClusterStatements.take_activity_task`).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final, Self, TypeVar

import anyio
import asyncpg
import msgspec

from integrations.mocks import MockConfig, UnknownTestCase
from runtime import events as ev
from runtime import store
from runtime.activities import Activity
from runtime.actor.clock import SystemClock
from runtime.catalog import NAME_RE, Catalog, StateMachine
from runtime.catalog_replica import CatalogReplica
from runtime.cluster.rows import encode_message, json_text, plan_commit
from runtime.cluster.schema import channel, migrate_cluster
from runtime.cluster.sql import ClusterStatements, commit_arguments
from runtime.cluster.wakeup import Backoff
from runtime.dataflow.scope import MISSING
from runtime.effects import OfferActivityTask
from runtime.engine import DEFAULT_ROLE_ARN, Execution
from runtime.errors import AslError
from runtime.history import render_history
from runtime.log.pg_schema import DEFAULT_SCHEMA
from runtime.log.postgres import PostgresEventLog
from runtime.map_runs import check_map_run_update, map_runs_of
from runtime.messages import (
    ActivityStarted,
    Message,
    ParentLink,
    RedriveExecution,
    StartExecution,
    StopExecution,
    TaskCallback,
    TaskHeartbeat,
    UpdateMapRun,
)
from runtime.reducers import REDRIVABLE, pending_effects
from runtime.reducers.turn import MAX_PAYLOAD_BYTES
from runtime.state import MapRun, evolve, new_state, project
from runtime.timetravel import fork_point, replaced_input, rerouted
from runtime.tokens import read_token

JSON = Any
#: How often `wait` looks at an execution at first, and at most.
_POLL: Final = (0.02, 0.5)
#: How often GetActivityTask looks for an offer at first, and at most, when no NOTIFY came.
_OFFER_POLL: Final = (0.05, 1.0)
_offer_decoder: Final = msgspec.msgpack.Decoder(OfferActivityTask)
#: How often RedriveExecution looks again while a worker holds the execution's lease (a
#: step of a late message to the ended execution), and for how many seconds at most.
_REDRIVE_RETRY: Final = (0.01, 10.0)
#: Seconds a replica is trusted without a catalog NOTIFY before it is refreshed anyway.
_CATALOG_MAX_AGE: Final = 1.0
#: How long a fork's new row is held by the forking client before the commit releases it.
_FORK_LEASE_SECONDS: Final = 30.0
T = TypeVar("T")


class ClusterClient:
    """Create `await ClusterClient.open(dsn)`; close it (or use `async with`)."""

    def __init__(self, log: PostgresEventLog, pool: Any, schema: str, *, region: str,
                 account: str, dsn: str, mocks: MockConfig | None = None) -> None:
        """Use `ClusterClient.open()`."""
        self.log = log
        #: The mock configuration whose test cases executions may be started under (the
        #: workers answer their task calls from the same configuration).
        self.mocks = mocks
        self._pool = pool
        self._dsn = dsn
        self._schema = schema
        self._sql = ClusterStatements(schema)
        self.region = region
        self.account = account
        self.clock = SystemClock()
        #: The replica of the catalog stream; changed only by `change_catalog` (and
        #: `create_state_machine`, the activity operations), tags aside, which stay with
        #: this client.
        self.replica = CatalogReplica(log, region=region, account=account, clock=self.clock)
        self.catalog = self.replica.catalog
        self.activities = self.replica.activities
        self._catalog_stale = True
        self._refreshed_at = 0.0
        self._entropy = random.Random()
        #: Activity tasks seen in the outbox, by row id (rows are never changed, only taken).
        self._offers: dict[int, OfferActivityTask] = {}
        #: The connection LISTENing for catalog changes and new outbox rows.
        self._listener: Any = None
        self._outbox_changed = anyio.Event()

    @classmethod
    async def open(cls, dsn: str, *, schema: str = DEFAULT_SCHEMA, region: str = "us-east-1",
                   account: str = "123456789012", pool_size: int = 4,
                   mocks: MockConfig | None = None) -> ClusterClient:
        """Connect, creating or migrating the log's and the cluster's tables. With `mocks`,
        `start_execution` accepts that configuration's test cases.

        Raises:
            OSError, asyncpg.PostgresError: the database cannot be reached or refuses.
        """
        log = await PostgresEventLog.open(dsn, schema=schema, pool_size=2, writers=1)
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)
            try:
                async with pool.acquire() as connection:
                    await migrate_cluster(connection, schema)
            except BaseException:
                await pool.close()
                raise
        except BaseException:
            await log.close()
            raise
        client = cls(log, pool, schema, region=region, account=account, dsn=dsn,
                     mocks=mocks)
        try:
            await client._listen()
            await client.refresh()
        except BaseException:
            await client.close()
            raise
        return client

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        await self._pool.close()
        await self.log.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- state machines ---------------------------------------------------------------------

    async def refresh(self) -> None:
        """Apply the catalog records appended since (by any client) to the replica."""
        self._catalog_stale = False
        self._refreshed_at = time.monotonic()
        await self.replica.refresh()

    async def _fresh(self) -> None:
        """Refresh unless the replica is known to be up to date: no catalog NOTIFY came
        since the last refresh, and that was recent (a NOTIFY lost with the listening
        connection delays a change by `_CATALOG_MAX_AGE` at most). So a change made through
        another server is seen here once its NOTIFY arrived, milliseconds later: AWS too
        makes state machine updates eventually consistent ("Read consistency in Step
        Functions"), and saves StartExecution a round trip for them."""
        if self._catalog_stale or time.monotonic() - self._refreshed_at > _CATALOG_MAX_AGE:
            await self.refresh()

    async def change_catalog(self, change: Callable[[Catalog], T]) -> T:
        """Make a catalog change every client's replica applies (`CatalogReplica.change`):
        decided again when another client's change came first; ConflictException when
        others keep overtaking it."""
        return await self.replica.change(change, refresh=self.refresh)

    async def create_state_machine(self, name: str, definition: str | Mapping[str, Any], *,
                                   role_arn: str = DEFAULT_ROLE_ARN, type: str = "STANDARD"
                                   ) -> str:
        """CreateStateMachine; returns its ARN. The same name and definition again is the
        same machine; another definition under the name is StateMachineAlreadyExists."""
        machine = await self.change_catalog(
            lambda catalog: catalog.create(name, definition, role_arn=role_arn, type=type))
        return machine.arn

    async def state_machine(self, arn: str) -> StateMachine:
        """A state machine or version as the catalog has it now (looked for again in the
        store when not known here: it may have just been created elsewhere)."""
        await self._fresh()
        if not self.catalog.has(arn):
            await self.refresh()
        return self.catalog.get(arn)

    async def list_state_machines(self) -> list[StateMachine]:
        await self._fresh()
        return self.catalog.list()

    # -- activities -------------------------------------------------------------------------

    async def create_activity(self, name: str) -> Activity:
        """CreateActivity; the same name again is the same activity."""
        return await self.replica.create_activity(name)

    async def activity(self, arn: str) -> Activity:
        """DescribeActivity: ActivityDoesNotExist when unknown. (Activity reads are rare
        beside a long poll: they read the store every time, seeing every change made.)"""
        await self.refresh()
        return self.activities.get(arn)

    async def list_activities(self) -> list[Activity]:
        await self.refresh()
        return self.activities.list()

    async def delete_activity(self, arn: str) -> None:
        """DeleteActivity (an unknown ARN is fine, as AWS answers). Its waiting tasks stay
        until they time out, as a state machine may name an activity created later."""
        await self.replica.delete_activity(arn)

    async def get_activity_task(self, activity_arn: str, *, worker_name: str | None = None,
                                timeout: float = 60.0) -> tuple[str, JSON] | None:
        """GetActivityTask: (task token, input) of the oldest task of the activity, taken
        from every other poller, or None after `timeout` seconds (AWS long-polls for 60).
        Waits for new outbox rows' NOTIFY, and polls as well (backing off) in case one was
        missed."""
        await self.activity(activity_arn)
        backoff = Backoff(*_OFFER_POLL)
        with anyio.move_on_after(timeout):
            while True:
                # Taken before looking, so a row inserted meanwhile wakes the wait below.
                changed = self._outbox_changed
                offer = await self._take_offer(activity_arn, worker_name)
                if offer is not None:
                    return offer.token, offer.input
                with anyio.move_on_after(backoff.idle()):
                    await changed.wait()
        return None

    async def _take_offer(self, activity_arn: str, worker_name: str | None
                          ) -> OfferActivityTask | None:
        async with self._pool.acquire() as connection:
            ids = [row["id"] for row in await connection.fetch(self._sql.activity_offers)]
            unseen = [offer_id for offer_id in ids if offer_id not in self._offers]
            if unseen:
                for row in await connection.fetch(self._sql.offer_effects, unseen):
                    self._offers[row["id"]] = _offer_decoder.decode(row["effect"])
            # Only rows still there stay remembered (other polls share the memory).
            self._offers = {offer_id: self._offers[offer_id] for offer_id in ids
                            if offer_id in self._offers}
            wanted = {offer_id: offer for offer_id, offer in self._offers.items()
                      if offer.activity_arn == activity_arn}
            if not wanted:
                return None
            at = self.clock.now()
            started = [encode_message(ActivityStarted(at=at, key=offer.key,
                                                      worker_name=worker_name))
                       for offer in wanted.values()]
            taken = await connection.fetchval(self._sql.take_activity_task, list(wanted),
                                              started)
        return None if taken is None else wanted[taken]

    async def _listen(self) -> None:
        """LISTEN for catalog changes and new outbox rows on a connection of its own."""
        listener = await asyncpg.connect(self._dsn)
        try:
            await listener.add_listener(channel(self._schema, "catalog"), self._catalog_moved)
            await listener.add_listener(channel(self._schema, "outbox"), self._outbox_grew)
        except BaseException:
            await listener.close()
            raise
        self._listener = listener

    def _catalog_moved(self, connection: object, pid: int, name: str, payload: str) -> None:
        self._catalog_stale = True

    def _outbox_grew(self, connection: object, pid: int, name: str, payload: str) -> None:
        self._outbox_changed.set()
        self._outbox_changed = anyio.Event()

    # -- executions -------------------------------------------------------------------------

    async def start_execution(self, state_machine_arn: str, input: JSON = None, *,
                              name: str | None = None, input_json: str | None = None,
                              test_case: str | None = None,
                              parent: ParentLink | None = None) -> str:
        """StartExecution: record the execution and queue its start; return its ARN.
        `input` is a Python value, `input_json` the raw JSON text (checked as AWS does).
        `test_case` names a test case of `mocks` for the state machine, as Step Functions
        Local's `stateMachineArn#TestCase`: its task calls get the mocked responses.
        `parent`: a `.sync` task's child, which answers that task when it ends."""
        machine = await self.state_machine(state_machine_arn)
        if test_case is not None:
            self._check_test_case(machine.name, test_case)
        value = _decode_input(input_json) if input_json is not None else (
            {} if input is None else input)
        text = json_text(value)
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise AslError("InvalidExecutionInput",
                           "Input exceeds the maximum size of 262144 bytes.")
        name = name or str(uuid.uuid4())
        if not NAME_RE.match(name):
            raise AslError("InvalidName", f"Invalid Name: '{name}'")
        arn = f"arn:aws:states:{self.region}:{self.account}:execution:{machine.name}:{name}"
        definition_id = await self.replica.record_definition(machine.definition)
        at = self.clock.now()
        message = StartExecution(at=at, input=value, role_arn=machine.role_arn,
                                 seed=self._entropy.getrandbits(32), definition_id=definition_id,
                                 test_case=test_case,
                                 parent_arn=parent.execution_arn if parent else "",
                                 parent_key=parent.key if parent else "",
                                 sync_version=parent.sync_version if parent else 0)
        async with self._pool.acquire() as connection:
            created: int = await connection.fetchval(
                self._sql.start_execution, arn, machine.arn, name, definition_id, at, text,
                encode_message(message))
        if not created:
            existing = await self.describe_execution(arn)
            # AWS (Standard): the same name and input while the execution runs is the same
            # request again, answered with the same execution.
            if existing.status != "RUNNING" or existing.input != value:
                raise AslError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        return arn

    def _check_test_case(self, machine_name: str, test_case: str) -> None:
        """Refuse a test case as the single-process `Runtime` refuses it."""
        if self.mocks is None:
            raise AslError("InvalidArn", f"Invalid Arn: test case '{test_case}' given, but no "
                                         "mock configuration is loaded")
        try:
            self.mocks.test_case(machine_name, test_case)
        except UnknownTestCase as error:
            raise AslError("ValidationException", str(error)) from None

    async def describe_execution(self, execution_arn: str) -> Execution:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(self._sql.describe, execution_arn)
        if row is None:
            raise AslError("ExecutionDoesNotExist",
                           f"Execution Does Not Exist: '{execution_arn}'")
        return _execution(row)

    async def list_executions(self, state_machine_arn: str | None = None, *,
                              status: str | None = None) -> list[Execution]:
        """Executions in the order they were started."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql.list_executions, state_machine_arn, status)
        return [_execution(row) for row in rows]

    async def map_runs(self, execution_arn: str) -> list[MapRun]:
        """The execution's Map Runs, with live counts (folded from its events)."""
        described = await self.describe_execution(execution_arn)
        events = await store.load_events(self.log, execution_arn)
        start = new_state(execution_arn, described.state_machine_arn, described.name)
        return map_runs_of(project(events, start))

    async def describe_map_run(self, map_run_arn: str) -> tuple[str, MapRun]:
        """(parent execution ARN, Map Run), found through the Map Run's children, or (a run
        with no items) through the MapRunStarted events."""
        async with self._pool.acquire() as connection:
            parent = await connection.fetchval(self._sql.map_run_parent, map_run_arn)
            if parent is None:
                for row in await connection.fetch(self._sql.map_run_starts):
                    details = ev.EVENT_DECODER.decode(row["data"]).details
                    if isinstance(details, ev.MapRunStartedDetails) \
                            and details.map_run_arn == map_run_arn:
                        parent = row["stream_id"]
                        break
        for run in await self.map_runs(parent) if parent is not None else []:
            if run.arn == map_run_arn:
                return parent, run
        raise AslError("ResourceNotFound", f"Resource not found: '{map_run_arn}'")

    async def update_map_run(self, map_run_arn: str, *, max_concurrency: int | None = None,
                             tolerated_failure_count: float | None = None,
                             tolerated_failure_percentage: float | None = None) -> None:
        """UpdateMapRun: told to the Map Run's parent execution, whichever worker steps it."""
        execution_arn, run = await self.describe_map_run(map_run_arn)
        check_map_run_update(run, max_concurrency, tolerated_failure_count,
                             tolerated_failure_percentage)
        await self._tell(execution_arn, UpdateMapRun(
            at=self.clock.now(), map_run_arn=map_run_arn, max_concurrency=max_concurrency,
            tolerated_count=tolerated_failure_count,
            tolerated_percentage=tolerated_failure_percentage))

    async def history(self, execution_arn: str) -> list[ev.HistoryEvent]:
        """The execution's events as recorded (internal ones included)."""
        await self.describe_execution(execution_arn)
        return await store.load_events(self.log, execution_arn)

    async def get_execution_history(self, execution_arn: str, *, include_data: bool = True
                                    ) -> list[dict[str, Any]]:
        """The history in AWS's GetExecutionHistory shape."""
        return render_history(await self.history(execution_arn), include_data=include_data)

    async def stop_execution(self, execution_arn: str, *, error: str | None = None,
                             cause: str | None = None, timeout: float | None = None
                             ) -> Execution:
        """StopExecution: queue the stop and wait (up to `timeout` s) until a worker did it."""
        message = StopExecution(at=self.clock.now(), error=error, cause=cause)
        async with self._pool.acquire() as connection:
            queued = await connection.fetchval(self._sql.tell_running, execution_arn,
                                               encode_message(message))
        if queued is None:
            return await self.describe_execution(execution_arn)
        return await self.wait(execution_arn, timeout=timeout)

    async def fork_execution(self, execution_arn: str, at_event: int, *,
                             definition: str | Mapping[str, Any] | None = None,
                             input: JSON = MISSING, name: str | None = None) -> str:
        """Runtime.fork on the cluster: a new execution whose log begins with the old one's
        events up to the end of the turn holding event `at_event` (optionally with another
        definition, or another input for the state the top level is in), its pending work
        queued for the workers. Row, events, timers and task calls commit together."""
        source = await self.describe_execution(execution_arn)
        events = await store.load_events(self.log, execution_arn)
        initial = new_state(execution_arn, source.state_machine_arn, source.name)
        try:
            point = fork_point(events, at_event, state=initial)
        except ValueError as error:
            raise AslError("ValidationException", str(error)) from None
        machine = await self.state_machine(source.state_machine_arn)
        text, program = machine.definition, machine.program
        if definition is not None:
            text, program = self.catalog.compile(definition, type=machine.type)
        definition_id = await self.replica.record_definition(text)
        name = name or f"{source.name}-fork-{uuid.uuid4().hex[:8]}"
        if not NAME_RE.match(name):
            raise AslError("InvalidName", f"Invalid Name: '{name}'")
        arn = f"arn:aws:states:{self.region}:{self.account}:execution:{machine.name}:{name}"
        state = msgspec.structs.replace(point, execution_arn=arn, name=name)
        prefix = [rerouted(event, definition_id) for event in events[:point.version]]
        if input is not MISSING:
            try:
                replacement = replaced_input(state, "", input, at=self.clock.now())
            except (KeyError, ValueError) as error:
                raise AslError("ValidationException", str(error)) from None
            prefix.append(replacement)
            state = evolve(state, replacement)
        commit = plan_commit(0, prefix, pending_effects(program, state), state, definition_id)
        owner = f"fork:{uuid.uuid4().hex}"
        statement, arguments = commit_arguments(self._sql, commit, arn, owner, [], None,
                                                _FORK_LEASE_SECONDS, definition_id)
        async with self._pool.acquire() as connection, connection.transaction():
            created = await connection.fetchval(
                self._sql.create_fork, arn, source.state_machine_arn, name, definition_id,
                point.start_time, json_text(point.input), owner, _FORK_LEASE_SECONDS)
            if created is None:
                raise AslError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
            await connection.fetchrow(statement, *arguments)
        return arn

    async def redrive_execution(self, execution_arn: str) -> Execution:
        """RedriveExecution: continue a FAILED, TIMED_OUT or ABORTED execution from its
        unsuccessful states; it is RUNNING from this call on (a worker does the redrive).

        Raises:
            AslError: ExecutionDoesNotExist; ExecutionNotRedrivable for any other status.
        """
        at = self.clock.now()
        message = encode_message(RedriveExecution(at=at))
        with anyio.fail_after(_REDRIVE_RETRY[1]):
            while True:
                async with self._pool.acquire() as connection:
                    row = await connection.fetchrow(self._sql.redrive, execution_arn, message,
                                                    at)
                if row is None:
                    raise AslError("ExecutionDoesNotExist",
                                   f"Execution Does Not Exist: '{execution_arn}'")
                if row["redriven"]:
                    return await self.describe_execution(execution_arn)
                if not row["leased"] or row["status"] not in REDRIVABLE:
                    raise AslError("ExecutionNotRedrivable",
                                   f"Execution with status {row['status']} cannot be "
                                   f"redriven: '{execution_arn}'")
                await anyio.sleep(_REDRIVE_RETRY[0])

    # -- callbacks --------------------------------------------------------------------------

    async def check_task_token(self, token: str) -> None:
        """Raise AWS's error for a token no task can be waiting on: InvalidToken when it is
        not a token, TaskTimedOut when its execution is not running. (Whether that task still
        waits is known only to the execution's state: a late answer is ignored there.)"""
        arn, _ = _token_target(token)
        async with self._pool.acquire() as connection:
            running = await connection.fetchval(self._sql.is_running, arn)
        if not running:
            raise _task_gone()

    async def send_task_success(self, token: str, output: JSON) -> None:
        """SendTaskSuccess: the callback task holding `token` succeeds with `output`. A token
        whose task no longer waits is ignored by the execution (not refused, as AWS does)."""
        arn, key = _token_target(token)
        await self._tell(arn, TaskCallback(at=self.clock.now(), key=key, output=output))

    async def send_task_failure(self, token: str, *, error: str | None = None,
                                cause: str | None = None) -> None:
        arn, key = _token_target(token)
        await self._tell(arn, TaskCallback(at=self.clock.now(), key=key, failed=True,
                                           error=error, cause=cause))

    async def send_task_heartbeat(self, token: str) -> None:
        arn, key = _token_target(token)
        await self._tell(arn, TaskHeartbeat(at=self.clock.now(), key=key))

    async def _tell(self, execution_arn: str, message: Message) -> None:
        async with self._pool.acquire() as connection:
            queued = await connection.fetchval(self._sql.tell_running, execution_arn,
                                               encode_message(message))
        if queued is None:
            raise _task_gone()

    async def wait(self, execution_arn: str, *, timeout: float | None = None) -> Execution:
        """The execution once it has ended.

        Raises:
            TimeoutError: it still runs after `timeout` seconds.
        """
        interval = _POLL[0]
        with anyio.fail_after(timeout):
            while True:
                execution = await self.describe_execution(execution_arn)
                if execution.status != "RUNNING":
                    return execution
                await anyio.sleep(interval)
                interval = min(_POLL[1], interval * 2)


def _execution(row: Any) -> Execution:
    return Execution(
        execution_arn=row["arn"], state_machine_arn=row["state_machine_arn"], name=row["name"],
        status=row["status"], start_date=row["start_date"], stop_date=row["stop_date"],
        input=msgspec.json.decode(row["input"]),
        output=None if row["output"] is None else msgspec.json.decode(row["output"]),
        error=row["error"], cause=row["cause"], redrive_count=row["redrive_count"],
        redrive_date=row["redrive_date"], map_run_arn=row["map_run_arn"] or "")


def _task_gone() -> AslError:
    return AslError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")


def _token_target(token: str) -> tuple[str, str]:
    try:
        return read_token(token)
    except ValueError:
        raise AslError("InvalidToken", "Invalid Token: 'Invalid token'") from None


def _decode_input(text: str) -> JSON:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise AslError("InvalidExecutionInput", f"Invalid execution input: {exc}") from None
