"""A worker: one of many processes advancing executions kept in one PostgreSQL database.

Protocol (tables in `runtime.cluster.schema`, statements in `runtime.cluster.sql`):

1. Steps. A worker claims executions that have inbox messages and no live lease (SKIP LOCKED, so
   workers never wait on each other's claims), folds each one's state (kept in memory from its
   previous step here, else the latest snapshot plus the events after it), decides every claimed
   message in order, and commits in ONE statement: the events appended to the stream under the
   event log's version rule, the decided inbox rows deleted, timers and outbox rows for the
   effects inserted, the execution row advanced and its lease released. The commit happens only
   while the worker still holds the lease and the execution is still at the version it folded,
   so exactly one worker advances an execution at a time, and a worker that lost its lease
   (stalled past expiry, taken over) writes nothing.
2. Timers are rows; any worker moves the due ones into the inbox, each exactly once.
3. Task invocations are outbox rows, run through the same integration resolution as the
   single-process runtime. The step that schedules them inserts them already leased to its
   worker (while it has room for them, `max_tasks`), which runs them at once; other rows are
   claimed with a lease. The outcome replaces the row by an inbox message in one statement (at
   most one outcome per row is ever delivered), and that statement also claims the execution
   when its lease is free, so the worker that holds its state steps it next: an execution
   whose work is Task calls stays on one worker, with two statements per task (the step's
   commit, the outcome's delivery) and no state reloads. A worker that dies mid-call stops
   renewing its leases; after they expire another worker runs the call again with the same
   idempotency key (at-least-once calls, exactly-once outcomes).
4. Leases live `lease_seconds` and are renewed every third of that while the work runs.
   NOTIFY wakes idle loops; they also poll, backing off while idle.
5. Mocked responses (`mocks=`): an execution started with a test case has its task calls
   answered from it by whichever worker runs them, which reads the test case and each call's
   invocation number from the execution's events (`integrations.mocks.stored`). A mocked
   callback task's result is queued as its callback before the call's outcome is delivered,
   in the order the single-process runtime gives them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, NamedTuple

import anyio
import asyncpg
import msgspec
import structlog
from anyio.abc import TaskGroup, TaskStatus

from integrations._base import JSON, IntegrationSource
from integrations.aws import AwsIntegrations
from integrations.http import HttpIntegrations
from integrations.mocks import MockConfig
from integrations.mocks.stored import StoredExecutionMocks
from integrations.python import PythonFunctions, TaskHandler
from integrations.resolve import CallResolver
from runtime import events as ev
from runtime import store
from runtime.actor.clock import SystemClock
from runtime.actor.invoke import run_task
from runtime.cluster.nested import ClusterStepFunctions
from runtime.cluster.rows import (
    TASK_KIND,
    Commit,
    decode_task,
    encode_message,
    inbox_message,
    plan_commit,
)
from runtime.cluster.schema import WORKER_SETTING, migrate_cluster
from runtime.cluster.sql import ClusterStatements, commit_arguments
from runtime.cluster.wakeup import Backoff, Wakeups
from runtime.effects import Effect
from runtime.log._base import StoredEvent
from runtime.log.pg_schema import DEFAULT_SCHEMA
from runtime.log.postgres import PostgresEventLog, PostgresSnapshotStore
from runtime.messages import Message, TaskCallback
from runtime.model.machine import decode_machine
from runtime.model.validate import parse_definition
from runtime.program import Program, compile_program, program_activities
from runtime.reducers import decide
from runtime.state import ExecutionState, new_state, project
from runtime.tokens import read_token

log = structlog.get_logger("stepline.cluster")

#: Errors after which a loop carries on (the database went away for a while): the claims it
#: held expire and are taken up again.
_TRANSIENT: Final = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
_state_decoder: Final = msgspec.msgpack.Decoder(ExecutionState)


#: How long a worker trusts its copy of the activities (seconds).
_ACTIVITIES_FRESH: Final = 5.0

#: Executions whose state a worker keeps in memory between steps.
_STATE_CACHE: Final = 10_000


class WorkerStats(msgspec.Struct, kw_only=True):
    """What a worker did since it started (for tests and benchmarks)."""

    steps: int = 0
    messages: int = 0
    events: int = 0
    tasks: int = 0
    #: Task calls this worker claimed from the outbox rather than inserted leased to itself.
    tasks_claimed: int = 0
    #: Executions claimed by the statement delivering a task's outcome.
    claimed_on_completion: int = 0
    timers_fired: int = 0
    #: Claims given back untouched: another worker committed between snapshot and lock.
    stale_claims: int = 0
    #: Commits refused: the lease had been taken over.
    lost_leases: int = 0


class _Claim(NamedTuple):
    arn: str
    version: int
    seen_version: int
    state_machine_arn: str
    name: str
    definition_id: str
    inbox_ids: list[int]
    messages: list[Message]


class Worker:
    """Advances executions stored in the PostgreSQL database at `dsn` (see the module
    docstring); run any number of them, in any number of processes and hosts.

    Args:
        dsn: the database (`postgresql://...`).
        tasks: Python callables serving Task states, by name (as `Runtime(tasks=...)`).
        sources: further integration sources, consulted after `tasks` and before the AWS
            service integrations and HTTP tasks.
        worker_id: this worker's name in lease columns (default: host, pid and a random part).
        schema: the PostgreSQL schema holding the event log and the cluster tables.
        lease_seconds: how long a claim lives without renewal: how soon a dead worker's
            executions and task calls are taken over.
        claim_batch: the most executions claimed (and task calls started) per statement.
        max_tasks: the most task calls this worker runs at once.
        poll_seconds: the shortest and longest poll interval of an idle loop.
        snapshot_every: save an execution's state every this many events.
        pool_size: connections for claims and commits (the event log reads use two more, the
            snapshots one, and LISTEN one).
        mocks: a mock configuration (Step Functions Local's format): executions started with
            a test case get its mocked responses. Give every worker on the database the same
            one: a worker without it calls the real integrations.
    """

    def __init__(self, dsn: str, *, tasks: Mapping[str, TaskHandler] | None = None,
                 sources: tuple[IntegrationSource, ...] = (), worker_id: str | None = None,
                 schema: str = DEFAULT_SCHEMA, lease_seconds: float = 10.0,
                 claim_batch: int = 32, max_tasks: int = 64,
                 poll_seconds: tuple[float, float] = (0.05, 1.0), snapshot_every: int = 1000,
                 pool_size: int = 6, region: str = "us-east-1",
                 aws_endpoint_url: str | None = None, mocks: MockConfig | None = None) -> None:
        if lease_seconds <= 0 or claim_batch < 1 or max_tasks < 1 or pool_size < 2:
            raise ValueError("lease_seconds > 0, claim_batch >= 1, max_tasks >= 1 and "
                             "pool_size >= 2 are required")
        self.dsn = dsn
        self.schema = schema
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.claim_batch = claim_batch
        self.max_tasks = max_tasks
        self.snapshot_every = snapshot_every
        self.pool_size = pool_size
        self.stats = WorkerStats()
        self.clock = SystemClock()
        self.functions = PythonFunctions()
        for name, handler in (tasks or {}).items():
            self.functions.register(name, handler)
        self._aws = AwsIntegrations(endpoint_url=aws_endpoint_url, region=region)
        self._http = HttpIntegrations()
        self._step_functions = ClusterStepFunctions(
            dsn, schema, region, lambda resource, parameters: self.resolver.resolve(
                resource, parameters))
        served: tuple[IntegrationSource, ...] = (
            self.functions, self._step_functions, *sources, self._aws, self._http)
        #: Results of mocked callback tasks, by task token, until sent as their callbacks.
        self._mocked_callbacks = _HeldCallbacks()
        self.mocks = None if mocks is None else StoredExecutionMocks(
            mocks, read=self._read_events, fallback=served, callbacks=self._mocked_callbacks)
        self.resolver = CallResolver(served if self.mocks is None else (self.mocks, *served))
        self._sql = ClusterStatements(schema)
        self._wakeups = Wakeups(schema)
        self._poll = poll_seconds
        Backoff(*poll_seconds)  # checks the bounds now rather than in a loop
        self._pool: Any = None
        self._log: PostgresEventLog | None = None
        self._snapshots: PostgresSnapshotStore | None = None
        #: Execution ARN -> its state after this worker's last commit of it.
        self._states: dict[str, ExecutionState] = {}
        self._programs: dict[str, Program] = {}
        #: The activities that exist, as last read from the catalog, and when.
        self._activities: set[str] = set()
        self._activities_read = 0.0
        #: Executions being stepped and outbox rows being run: their leases are renewed.
        self._stepping: set[str] = set()
        self._running: set[int] = set()
        self._task_finished = anyio.Event()
        self._completed: list[tuple[int, bytes]] = []
        self._completion_queued = anyio.Event()
        #: Where steps and task calls that outlive the loop starting them run.
        self._group: TaskGroup | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Work until cancelled (start it with `task_group.start(worker.run)` to wait until it
        is connected). On cancellation the task calls in flight are handed back at once.

        Raises:
            OSError, asyncpg.PostgresError: the database cannot be reached at start.
        """
        self._log = await PostgresEventLog.open(self.dsn, schema=self.schema, pool_size=2,
                                                writers=1)
        listener: Any = None
        try:
            self._snapshots = await PostgresSnapshotStore.open(self.dsn, schema=self.schema,
                                                               pool_size=1)
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1,
                                                   max_size=self.pool_size, init=self._name,
                                                   reset=_keep_session)
            async with self._pool.acquire() as connection:
                await migrate_cluster(connection, self.schema)
            listener = await asyncpg.connect(self.dsn)
            await self._wakeups.listen(listener)
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self._loop, "steps", self._step_once)
                group.start_soon(self._loop, "timers", self._fire_timers)
                group.start_soon(self._task_loop)
                group.start_soon(self._completion_loop)
                group.start_soon(self._renew_loop)
                task_status.started()
        finally:
            with anyio.CancelScope(shield=True):
                await self._close(listener)

    async def _name(self, connection: Any) -> None:
        """Name this worker in the session (kept: the pool does not reset sessions), so the
        inbox trigger knows the rows it inserts for executions it holds need no NOTIFY."""
        await connection.execute("SELECT set_config($1, $2, false)", WORKER_SETTING,
                                 self.worker_id)

    async def _close(self, listener: Any) -> None:
        if self._pool is not None and self._running:
            try:
                async with self._pool.acquire() as connection:
                    await connection.execute(self._sql.release_tasks, self.worker_id,
                                             list(self._running))
            except _TRANSIENT:
                log.warning("cluster.release_failed", worker=self.worker_id)
        if listener is not None:
            await listener.close()
        if self._pool is not None:
            await self._pool.close()
        if self._snapshots is not None:
            await self._snapshots.close()
        if self._log is not None:
            await self._log.close()
        await self._aws.close()
        await self._http.close()
        await self._step_functions.close()

    async def _loop(self, table: str, attempt: Callable[[], Awaitable[float | None]]
                    ) -> None:
        """Run `attempt()` (returns whether it found work) forever, waiting while idle."""
        backoff = Backoff(*self._poll)
        while True:
            try:
                wait: float | None = await attempt()
            except _TRANSIENT as error:
                log.warning("cluster.database_error", worker=self.worker_id, loop=table,
                            error=repr(error))
                await anyio.sleep(backoff.idle())
                continue
            if wait == 0:
                backoff.busy()
                continue
            await self._wakeups.wait("inbox" if table == "steps" else table,
                                     backoff.idle() if wait is None else wait)

    # -- steps ------------------------------------------------------------------------------

    async def _step_once(self) -> float | None:
        """Claim and step a batch of executions; 0 if there was work, else None (poll)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql.claim_executions, self.worker_id,
                                          self.lease_seconds, self.claim_batch)
        if not rows:
            return None
        async with anyio.create_task_group() as group:
            for claim in self._claims(rows):
                group.start_soon(self._step, claim)
        return 0

    def _claims(self, rows: list[Any]) -> list[_Claim]:
        """The claims in rows of `claim_executions` (one per message), marked as stepping."""
        claims: dict[str, _Claim] = {}
        for row in rows:
            claim = claims.get(row["arn"])
            if claim is None:
                claim = claims[row["arn"]] = _Claim(
                    row["arn"], row["version"], row["seen_version"], row["state_machine_arn"],
                    row["name"], row["definition_id"], [], [])
                self._stepping.add(claim.arn)
            claim.inbox_ids.append(row["id"])
            claim.messages.append(inbox_message(row["message"], row["timer_key"],
                                                row["fired_at"]))
        return list(claims.values())

    async def _step(self, claim: _Claim) -> None:
        try:
            stepped = await self._decide_and_commit(claim)
        finally:
            # The commit released the lease: from here on the execution may be claimed again,
            # by this worker too (delivering the outcome of a call started below).
            self._stepping.discard(claim.arn)
        if stepped is None:
            return
        state, commit, leased = stepped
        self._remember(state)
        self._run_leased(claim.arn, commit, leased)
        await self._snapshot(state, claim.version)
        if len(leased) < commit.outbox_kinds.count(TASK_KIND):
            self._wakeups.notify("outbox")
        if commit.timer_keys:
            self._wakeups.notify("timers")

    async def _decide_and_commit(self, claim: _Claim
                                 ) -> tuple[ExecutionState, Commit, dict[str, int]] | None:
        """Decide the claim's messages and commit; None if nothing was committed."""
        if claim.version != claim.seen_version:
            self.stats.stale_claims += 1
            await self._release(claim.arn)
            return None
        try:
            program = await self._program(claim.definition_id)
            state = await self._state(claim)
            known_activity = await self._known_activities(program)
            events: list[ev.HistoryEvent] = []
            effects: list[Effect] = []
            for message in claim.messages:
                decision = decide(program, state, message, known_activity=known_activity)
                events.extend(decision.events)
                effects.extend(decision.effects)
                state = decision.state
        except Exception:
            # Left to its lease: another attempt comes after it expires.
            log.exception("cluster.step_failed", worker=self.worker_id,
                          execution_arn=claim.arn)
            self._states.pop(claim.arn, None)
            return None
        commit = plan_commit(claim.version, events, effects, state, claim.definition_id)
        # Task calls beyond this worker's room are left unleased, for any worker.
        runs_tasks = len(self._running) < self.max_tasks
        leased = await self._commit(claim, commit, runs_tasks)
        if leased is None:
            self.stats.lost_leases += 1
            self._states.pop(claim.arn, None)
            return None
        self.stats.steps += 1
        self.stats.messages += len(claim.messages)
        self.stats.events += len(events)
        return state, commit, leased

    async def _commit(self, claim: _Claim, commit: Commit, runs_tasks: bool
                      ) -> dict[str, int] | None:
        """Commit a step; None if the lease was lost, else the task calls inserted leased to
        this worker (key -> outbox id)."""
        try:
            statement, arguments = commit_arguments(
                self._sql, commit, claim.arn, self.worker_id, claim.inbox_ids,
                self.worker_id if runs_tasks else None, self.lease_seconds, claim.definition_id)
            async with self._pool.acquire() as connection:
                row = await connection.fetchrow(statement, *arguments)
        except BaseException:
            # The commit may or may not have happened: forget the state, reload next time.
            self._states.pop(claim.arn, None)
            raise
        if row["committed"] != 1:
            return None
        return dict(zip(row["leased_keys"], row["leased_ids"], strict=True))

    def _run_leased(self, arn: str, commit: Commit, leased: Mapping[str, int]) -> None:
        """Start the task calls a commit inserted leased to this worker."""
        if not leased:
            return
        assert self._group is not None
        for kind, key, effect in zip(commit.outbox_kinds, commit.outbox_keys,
                                     commit.outbox_effects, strict=True):
            outbox_id = leased.get(key)
            if kind == TASK_KIND and outbox_id is not None:
                self._running.add(outbox_id)
                self._group.start_soon(self._run_task, outbox_id, arn, effect)

    async def _release(self, arn: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(self._sql.release_execution, arn, self.worker_id)

    def _remember(self, state: ExecutionState) -> None:
        arn = state.execution_arn
        self._states.pop(arn, None)
        if state.status != "RUNNING":
            return
        if len(self._states) >= _STATE_CACHE:
            del self._states[next(iter(self._states))]
        self._states[arn] = state

    async def _program(self, definition_id: str) -> Program:
        program = self._programs.get(definition_id)
        if program is None:
            assert self._log is not None
            text = (await store.load_definitions(self._log)).get(definition_id)
            if text is None:
                raise LookupError(f"definition {definition_id} is not in the store")
            program = compile_program(decode_machine(parse_definition(text)))
            self._programs[definition_id] = program
        return program

    async def _known_activities(self, program: Program) -> Callable[[str], bool]:
        """Which activities exist, for a program that names some: read again from the
        catalog when one is missing here or the copy is a few seconds old (an activity
        created or deleted through any server)."""
        named = program_activities(program)
        if named and (not named <= self._activities
                      or self.clock.now() - self._activities_read > _ACTIVITIES_FRESH):
            assert self._log is not None
            self._activities = {a.arn for a in await store.load_activities(self._log)}
            self._activities_read = self.clock.now()
        return self._activities.__contains__

    async def _state(self, claim: _Claim) -> ExecutionState:
        cached = self._states.get(claim.arn)
        if cached is not None and cached.version == claim.version:
            return cached
        start = new_state(claim.arn, claim.state_machine_arn, claim.name)
        if claim.version == 0:
            return start
        assert self._log is not None and self._snapshots is not None
        snapshot = await self._snapshots.latest(claim.arn, lte=claim.version)
        if snapshot is not None:
            try:
                saved = _state_decoder.decode(snapshot.state)
            except msgspec.DecodeError:
                log.warning("cluster.snapshot_unreadable", execution_arn=claim.arn,
                            version=snapshot.version)
            else:
                if saved.version == snapshot.version:
                    start = saved
        stored = await self._log.read(claim.arn, gt=start.version, lte=claim.version)
        state = project((ev.EVENT_DECODER.decode(event.data) for event in stored), start)
        if state.version != claim.version:
            raise LookupError(f"{claim.arn}: events end at {state.version}, "
                              f"the execution is at {claim.version}")
        return state

    async def _snapshot(self, state: ExecutionState, before: int) -> None:
        every = self.snapshot_every
        if state.status == "RUNNING" and state.version // every > before // every:
            assert self._snapshots is not None
            await self._snapshots.save(state.execution_arn, state.version,
                                       msgspec.msgpack.encode(state))

    # -- timers -----------------------------------------------------------------------------

    async def _fire_timers(self) -> float | None:
        """Move due timers to the inbox; return 0 if more may be due, else how long to wait
        for the next one (None: no timer at all)."""
        async with self._pool.acquire() as connection:
            fired: int = await connection.fetchval(self._sql.fire_timers, self.clock.now(),
                                                   self.claim_batch)
            if fired == self.claim_batch:
                self.stats.timers_fired += fired
                self._wakeups.notify("inbox")
                return 0
            due: float | None = await connection.fetchval(self._sql.next_due)
        self.stats.timers_fired += fired
        if fired:
            # Timers of executions this worker is stepping notify nobody: look again after.
            self._wakeups.notify("inbox")
        if due is None:
            return None
        # Never 0 (that means "work found"); a tiny wait for a timer due now is harmless.
        return min(max(due - self.clock.now(), 0.001), self._poll[1])

    # -- task calls -------------------------------------------------------------------------

    async def _task_loop(self) -> None:
        assert self._group is not None
        backoff = Backoff(*self._poll)
        while True:
            free = self.max_tasks - len(self._running)
            if free <= 0:
                await self._task_finished.wait()
                self._task_finished = anyio.Event()
                continue
            try:
                async with self._pool.acquire() as connection:
                    rows = await connection.fetch(self._sql.claim_tasks, self.worker_id,
                                                  self.lease_seconds,
                                                  min(free, self.claim_batch))
            except _TRANSIENT as error:
                log.warning("cluster.database_error", worker=self.worker_id, loop="tasks",
                            error=repr(error))
                await anyio.sleep(backoff.idle())
                continue
            if not rows:
                await self._wakeups.wait("outbox", backoff.idle())
                continue
            backoff.busy()
            self.stats.tasks_claimed += len(rows)
            for row in rows:
                self._running.add(row["id"])
                self._group.start_soon(self._run_task, row["id"], row["arn"], row["effect"])

    async def _run_task(self, outbox_id: int, arn: str, effect: bytes) -> None:
        task = decode_task(effect)
        message = await run_task(self.resolver, self.clock, arn, task)
        output = self._mocked_callbacks.results.pop(task.token or "", _NOT_HELD)
        if output is not _NOT_HELD and not await self._send_callback(task.token or "", output):
            # Left to its lease: another worker makes the call again and, counting from the
            # same events, gets the same mocked response.
            self._running.discard(outbox_id)
            self._task_finished.set()
            return
        self._completed.append((outbox_id, encode_message(message)))
        self._completion_queued.set()

    async def _send_callback(self, token: str, output: JSON) -> bool:
        arn, key = read_token(token)
        callback = TaskCallback(at=self.clock.now(), key=key, output=output)
        try:
            async with self._pool.acquire() as connection:
                await connection.execute(self._sql.tell_running, arn, encode_message(callback))
        except _TRANSIENT as error:
            log.warning("cluster.callback_failed", worker=self.worker_id, error=repr(error))
            return False
        return True

    async def _read_events(self, arn: str, after: int) -> list[StoredEvent]:
        assert self._log is not None
        return await self._log.read(arn, gt=after)

    async def _completion_loop(self) -> None:
        """Deliver finished calls' outcomes, all that finished meanwhile in one statement,
        and step the executions that statement claimed."""
        assert self._group is not None
        while True:
            await self._completion_queued.wait()
            self._completion_queued = anyio.Event()
            batch, self._completed = self._completed, []
            ids = [outbox_id for outbox_id, _ in batch]
            try:
                async with self._pool.acquire() as connection:
                    rows = await connection.fetch(
                        self._sql.complete_tasks, self.worker_id, ids,
                        [message for _, message in batch], self.lease_seconds)
            except _TRANSIENT as error:
                # Their leases lapse and the calls are made again elsewhere.
                log.warning("cluster.completion_failed", worker=self.worker_id,
                            error=repr(error), calls=len(ids))
                rows = []
            self._running.difference_update(ids)
            self._task_finished.set()
            if not rows:
                continue
            delivered = rows[0]["delivered"]
            self.stats.tasks += delivered
            claims = self._claims([row for row in rows if row["arn"] is not None])
            self.stats.claimed_on_completion += len(claims)
            for claim in claims:
                self._group.start_soon(self._step, claim)
            if len(claims) < rows[0]["executions"]:
                # Some went to executions leased at the time, possibly by this worker: look
                # for them again once the steps under way are committed.
                self._wakeups.notify("inbox")

    # -- leases -----------------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        while True:
            await anyio.sleep(self.lease_seconds / 3)
            try:
                async with self._pool.acquire() as connection:
                    if self._stepping:
                        await connection.execute(self._sql.renew_executions, self.worker_id,
                                                 self.lease_seconds, list(self._stepping))
                    if self._running:
                        await connection.execute(self._sql.renew_tasks, self.worker_id,
                                                 self.lease_seconds, list(self._running))
            except _TRANSIENT as error:
                log.warning("cluster.renew_failed", worker=self.worker_id, error=repr(error))


_NOT_HELD: Final = object()


class _HeldCallbacks:
    """The `callbacks` sink of the worker's mocks: keeps a mocked callback task's result for
    `_run_task` to send once the call returns (the sink itself cannot await)."""

    def __init__(self) -> None:
        self.results: dict[str, object] = {}

    def send_task_success(self, token: str, output: JSON) -> None:
        self.results[token] = output


async def _keep_session(connection: object) -> None:
    """Pool release hook that leaves the connection as it is (no reset round trip)."""
