"""Mocked service integrations for executions kept in a store that several processes advance
(the PostgreSQL cluster): any worker may run any task call of an execution, including calls of
executions it did not start and consecutive retries of one state, so neither the test case nor
the invocation count can live in one process's memory.

Both are read from the execution's events instead. The test case is the one its
`ExecutionStarted` event records (StartExecution chose it). The invocation number of a call is
the number of task schedulings of the same state name in the execution before the call's own
(`TaskScheduled` / `LambdaFunctionScheduled`, every retry and every re-entry of the state
included, across Map iterations and Parallel branches): exactly what the in-memory counter of
`MockedIntegrations` counts in one process, since every scheduling is one invocation. It is
also the same number each time a call is made again after a worker died mid-call, so the
repeated call gets the same answer. `RetryCount` alone would not do: it starts over when the
state is entered again (a loop, another Map iteration).

The events are read incrementally: each process keeps, per execution, how far it has folded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from integrations._base import JSON, Integration, IntegrationSource, TaskCall, TaskError
from integrations.mocks.config import MockConfig, MockedResponse, UnknownTestCase
from integrations.mocks.source import RUNTIME_ERROR, CallbackSink, MockedIntegrations
from runtime import events as ev
from runtime.log._base import StoredEvent

#: Reads an execution's stored events after a version: `read(execution_arn, gt)`.
ReadEvents = Callable[[str, int], Awaitable[Sequence[StoredEvent]]]

_SCHEDULING: Final = frozenset({"TaskScheduled", "LambdaFunctionScheduled"})
_STATE_ENTERED: Final = "StateEntered"


class ExecutionInvocations:
    """What mocking needs to know of one execution, folded from its stored events."""

    def __init__(self) -> None:
        #: Events folded so far (the stream version).
        self.version = 0
        self.started = False
        self.state_machine_name = ""
        self.test_case: str | None = None
        #: Scheduling event id -> the invocation number of its state.
        self.numbers: dict[int, int] = {}
        self._frame_states: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def fold(self, stored: Sequence[StoredEvent]) -> None:
        """Fold events in version order; ones already folded are skipped, so two readers of
        the same execution interleaving their reads fold each event once."""
        for item in stored:
            if item.version <= self.version:
                continue
            self.version = item.version
            # Only these events matter: the others are not decoded at all.
            if item.type in _SCHEDULING or item.type.endswith(_STATE_ENTERED) \
                    or item.type == "ExecutionStarted":
                self._apply(ev.EVENT_DECODER.decode(item.data))

    def _apply(self, event: ev.HistoryEvent) -> None:
        details = event.details
        if isinstance(details, ev.ExecutionStartedDetails):
            self.started = True
            self.test_case = details.test_case
            # arn:aws:states:region:account:stateMachine:NAME[:version or alias]
            self.state_machine_name = details.state_machine_arn.split(":")[6]
        elif isinstance(details, ev.StateEnteredDetails):
            self._frame_states[event.frame] = details.name
        elif event.type in _SCHEDULING:
            state = self._frame_states.get(event.frame, "")
            number = self._counts.get(state, 0)
            self._counts[state] = number + 1
            self.numbers[event.id] = number


class StoredExecutionMocks(MockedIntegrations):
    """A `MockedIntegrations` that takes each execution's test case and each call's invocation
    number from the execution's stored events (see the module docstring); `bind` is not
    needed. Executions started without a test case go to `fallback`.

    Args:
        read: reads an execution's stored events after a version.
        remembered: the most executions whose folded events are kept (oldest forgotten first;
            a forgotten one is read again from its start when needed).
    """

    def __init__(self, config: MockConfig | Mapping[str, Any], *, read: ReadEvents,
                 fallback: Sequence[IntegrationSource] = (),
                 callbacks: CallbackSink | None = None, remembered: int = 10_000) -> None:
        super().__init__(config, fallback=fallback, callbacks=callbacks)
        self._read = read
        self._remembered = remembered
        self._executions: dict[str, ExecutionInvocations] = {}

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        # Whether the call is mocked is known only from its execution's events.
        return self

    async def execution(self, execution_arn: str, *, scheduled: int = 0
                        ) -> ExecutionInvocations:
        """The execution's folded events, read up to at least its start and the scheduling
        event `scheduled` (when it has a test case)."""
        known = self._executions.get(execution_arn)
        if known is None:
            if len(self._executions) >= self._remembered:
                del self._executions[next(iter(self._executions))]
            known = self._executions[execution_arn] = ExecutionInvocations()
        if not known.started or (known.test_case is not None
                                 and scheduled not in known.numbers):
            known.fold(await self._read(execution_arn, known.version))
        return known

    async def _mocked(self, call: TaskCall) -> tuple[MockedResponse, int] | None:
        scheduled = _scheduling_event(call)
        execution = await self.execution(call.execution_arn, scheduled=scheduled)
        if execution.test_case is None:
            return None
        try:
            states = self.config.test_case(execution.state_machine_name, execution.test_case)
        except UnknownTestCase as error:
            # Started through a server whose mock configuration differs from this process's.
            raise TaskError(RUNTIME_ERROR, f"{error} (this worker's mock configuration)"
                            ) from None
        mocked = states.get(call.state_name)
        if mocked is None:
            return None
        number = execution.numbers.get(scheduled)
        if number is None:
            raise TaskError(RUNTIME_ERROR, f"No scheduling event #{scheduled} of state "
                                           f"'{call.state_name}' in the execution's history")
        return mocked, number


def _scheduling_event(call: TaskCall) -> int:
    """The id of the event that scheduled `call`: its idempotency key ends with the waiting
    key `<frame>@<event id>` (`runtime.state._scheduled`)."""
    _, _, event_id = call.idempotency_key.rpartition("@")
    try:
        return int(event_id)
    except ValueError:
        raise TaskError(RUNTIME_ERROR, f"The call's idempotency key '{call.idempotency_key}' "
                                       "names no scheduling event") from None
