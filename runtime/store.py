"""What the runtime keeps in its event log besides executions: the definitions executions
run, and its catalog, so that a runtime opened on the same store has the same state machines,
versions, aliases and activities, and resumes every unfinished execution with the definition
it started with.

Streams: `stepline:definitions` (one record per distinct definition text, keyed by content
id) and `stepline:catalog` (one record per catalog change: state machines, versions, aliases,
activities; see `runtime.catalog_replica`); each execution's events are the stream named by its
ARN.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from runtime import events as ev
from runtime.catalog import Alias
from runtime.log._base import ConcurrencyError, EventLog, StoredEvent

DEFINITIONS_STREAM: Final = "stepline:definitions"
CATALOG_STREAM: Final = "stepline:catalog"


class DefinitionRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    text: str


class StateMachineRecord(msgspec.Struct, frozen=True, kw_only=True):
    arn: str
    name: str
    definition_id: str
    role_arn: str
    type: str
    created: float


class ActivityRecord(msgspec.Struct, frozen=True, kw_only=True):
    arn: str
    name: str
    created: float


class DeletionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The end of a catalog entry: what was deleted (`arn`) and when."""

    arn: str
    at: float


_definition_decoder = msgspec.msgpack.Decoder(DefinitionRecord)
_activity_decoder = msgspec.msgpack.Decoder(ActivityRecord)
_deletion_decoder = msgspec.msgpack.Decoder(DeletionRecord)
_machine_decoder = msgspec.msgpack.Decoder(StateMachineRecord)
_encode = msgspec.msgpack.encode


def definition_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def is_execution_stream(stream_id: str) -> bool:
    return stream_id.startswith("arn:") and ":execution:" in stream_id


async def append_record(log: EventLog, stream_id: str, type_: str,
                        record: msgspec.Struct) -> None:
    """Append one record at the end of a shared stream (retrying a lost race)."""
    data = _encode(record)
    while True:
        version = await log.version(stream_id)
        try:
            await log.append(stream_id, [StoredEvent(stream_id=stream_id, version=version + 1,
                                                     type=type_, data=data)],
                             expected_version=version)
            return
        except ConcurrencyError:
            continue


async def record_definition(log: EventLog, text: str, known: dict[str, str]) -> str:
    """Record a definition's text once (`known` maps the ids already recorded); return its
    content id."""
    found = definition_id(text)
    if found not in known:
        await append_record(log, DEFINITIONS_STREAM, "Definition",
                            DefinitionRecord(id=found, text=text))
        known[found] = text
    return found


async def load_definitions(log: EventLog) -> dict[str, str]:
    return {record.id: record.text for record in
            (_definition_decoder.decode(e.data) for e in await log.read(DEFINITIONS_STREAM))}


async def load_activities(log: EventLog) -> list[ActivityRecord]:
    """The activities that exist: created, and not deleted since."""
    live: dict[str, ActivityRecord] = {}
    for event in await log.read(CATALOG_STREAM):
        if event.type == "ActivityCreated":
            created = _activity_decoder.decode(event.data)
            live[created.arn] = created
        elif event.type == "ActivityDeleted":
            live.pop(_deletion_decoder.decode(event.data).arn, None)
    return list(live.values())


class StateMachineChangedRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A state machine as UpdateStateMachine (or its configuration at creation) left it."""

    arn: str
    definition_id: str
    role_arn: str
    logging: dict[str, Any] | None
    tracing: dict[str, Any] | None
    updated: float | None


class VersionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A published version: the machine's content at the time, under its number."""

    arn: str
    number: int
    definition_id: str
    role_arn: str
    logging: dict[str, Any] | None
    tracing: dict[str, Any] | None
    description: str | None
    created: float
    revision_id: str


#: What a `stepline:catalog` event holds, by its type.
CatalogRecord = (StateMachineRecord | ActivityRecord | DeletionRecord
                 | StateMachineChangedRecord | VersionRecord | Alias)

_CATALOG_DECODERS: Final[dict[str, msgspec.msgpack.Decoder[Any]]] = {
    "StateMachineCreated": _machine_decoder,
    "ActivityCreated": _activity_decoder,
    "ActivityDeleted": _deletion_decoder,
    "StateMachineChanged": msgspec.msgpack.Decoder(StateMachineChangedRecord),
    "StateMachineDeleted": _deletion_decoder,
    "VersionPublished": msgspec.msgpack.Decoder(VersionRecord),
    "VersionDeleted": _deletion_decoder,
    "AliasSaved": msgspec.msgpack.Decoder(Alias),
    "AliasDeleted": _deletion_decoder,
}


def catalog_record(event: StoredEvent) -> CatalogRecord | None:
    """The record a catalog event holds; None for a type this code does not know (written
    by newer code: skipped, as an older reader cannot act on it)."""
    decoder = _CATALOG_DECODERS.get(event.type)
    if decoder is None:
        return None
    record: CatalogRecord = decoder.decode(event.data)
    return record


async def append_catalog_records(log: EventLog, records: Sequence[tuple[str, msgspec.Struct]],
                                 *, expected: int) -> None:
    """Append (type, record) pairs to the catalog stream, all or nothing, only if it is
    still at version `expected` (the version the writer decided the change on).

    Raises:
        ConcurrencyError: another record came first; decide again on the newer catalog.
    """
    await log.append(CATALOG_STREAM, [
        StoredEvent(stream_id=CATALOG_STREAM, version=expected + number, type=type_,
                    data=_encode(record))
        for number, (type_, record) in enumerate(records, start=1)], expected_version=expected)


async def load_events(log: EventLog, stream_id: str) -> list[ev.HistoryEvent]:
    return [ev.EVENT_DECODER.decode(e.data) for e in await log.read(stream_id)]
