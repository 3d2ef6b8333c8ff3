"""Where the console reads executions from: a single-process `Runtime` or the PostgreSQL
store of a cluster.

Everything the AWS API also does goes through a `Backend` (runtime.api.backend), so the
console and the API see the same things on either store. A `ConsoleSource` adds what only the
console needs: the recorded events (internal ones included, which time travel folds), the text
of the definition an execution runs, and forking. A history is append-only on both stores, so
`events` may be served from a prefix read earlier whenever that prefix holds the event asked
for (the time travel slider asks for one event after another).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final, Protocol

from runtime import events as ev
from runtime import store
from runtime.api.backend import Backend, ClusterBackend, RuntimeBackend
from runtime.engine import Runtime

JSON = Any
#: Histories kept for time travel, per console (the executions being looked at).
_CACHED_HISTORIES: Final = 16


class ConsoleSource(Protocol):
    backend: Backend

    async def events(self, execution_arn: str, *, upto: int | None = None
                     ) -> list[ev.HistoryEvent]:
        """The recorded events; with `upto`, a list holding at least the events up to that
        id when the execution has them (possibly read earlier)."""

    async def definition(self, execution_arn: str, events: list[ev.HistoryEvent]
                         ) -> str | None:
        """The text of the whole definition the execution runs (None when not known)."""

    async def fork(self, execution_arn: str, event_id: int, *, definition: str | None,
                   input: JSON, name: str | None) -> str:
        """Runtime.fork (AslError for a bad event id, input or name)."""


class RuntimeSource:
    """A single-process Runtime: its executions' histories are in its memory."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.backend: Backend = RuntimeBackend(runtime)

    async def events(self, execution_arn: str, *, upto: int | None = None
                     ) -> list[ev.HistoryEvent]:
        return self.runtime.history(execution_arn)

    async def definition(self, execution_arn: str, events: list[ev.HistoryEvent]
                         ) -> str | None:
        return self.runtime.execution_definition(execution_arn)

    async def fork(self, execution_arn: str, event_id: int, *, definition: str | None,
                   input: JSON, name: str | None) -> str:
        return await self.runtime.fork(execution_arn, event_id, definition=definition,
                                       input=input, name=name)


class ClusterSource:
    """The PostgreSQL store of a cluster, read through the server's `ClusterBackend`; a fork
    is written by the client and continued by the workers."""

    def __init__(self, backend: ClusterBackend) -> None:
        self.backend: Backend = backend
        self._client = backend.client
        #: Definition texts by content id (a content id always names the same text).
        self._definitions: dict[str, str] = {}
        self._histories: OrderedDict[str, list[ev.HistoryEvent]] = OrderedDict()

    async def events(self, execution_arn: str, *, upto: int | None = None
                     ) -> list[ev.HistoryEvent]:
        cached = self._histories.get(execution_arn)
        if upto is not None and cached is not None and _last_id(cached) >= upto:
            self._histories.move_to_end(execution_arn)
            return cached
        events = await self._client.history(execution_arn)
        self._histories[execution_arn] = events
        self._histories.move_to_end(execution_arn)
        while len(self._histories) > _CACHED_HISTORIES:
            self._histories.popitem(last=False)
        return events

    async def definition(self, execution_arn: str, events: list[ev.HistoryEvent]
                         ) -> str | None:
        wanted = _definition_id(events)
        if wanted and wanted not in self._definitions:
            self._definitions.update(await store.load_definitions(self._client.log))
        return self._definitions.get(wanted)

    async def fork(self, execution_arn: str, event_id: int, *, definition: str | None,
                   input: JSON, name: str | None) -> str:
        return await self._client.fork_execution(execution_arn, event_id,
                                                 definition=definition, input=input, name=name)


def started_details(events: list[ev.HistoryEvent]) -> ev.ExecutionStartedDetails | None:
    """The details of the execution's (first) ExecutionStarted event."""
    for event in events:
        if isinstance(event.details, ev.ExecutionStartedDetails):
            return event.details
    return None


def _definition_id(events: list[ev.HistoryEvent]) -> str:
    started = started_details(events)
    return started.definition_id if started is not None else ""


def _last_id(events: list[ev.HistoryEvent]) -> int:
    return next((event.id for event in reversed(events) if event.id), 0)

