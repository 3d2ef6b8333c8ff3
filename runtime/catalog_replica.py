"""A catalog kept as the event log's catalog stream (`runtime.store`): state machines, their
versions and aliases, and activities, as the records appended so far leave them.

Every change is decided on a copy of the catalog, turned into the records it amounts to
(`catalog_records`) and appended only if the stream is still at the version the copy
reflects; the replica itself takes only recorded changes. So a store reopened, or another
server on the same log, applies the same records and holds the same catalog, revision ids
included. Works on any `EventLog`: the single-process runtime's memory or file log, and the
PostgreSQL log every cluster server shares.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import anyio
from msgspec.structs import replace

from runtime import store
from runtime.activities import Activities, Activity
from runtime.actor.clock import Clock
from runtime.catalog import NAME_RE, Alias, Catalog, CatalogContents, StateMachine, revision_of
from runtime.errors import AslError
from runtime.log._base import ConcurrencyError, EventLog
from runtime.program import Program

#: Attempts at a catalog change that other writers' changes keep overtaking; between them a
#: random pause of up to `_BACKOFF_SECONDS` times the attempts so far, so that writers racing
#: each other spread out instead of colliding again.
_CHANGE_ATTEMPTS: Final = 30
_BACKOFF_SECONDS: Final = 0.002
T = TypeVar("T")
#: A catalog stream record as read: (stream version, event type, record or None when the
#: type is one this code does not know).
VersionedRecord = tuple[int, str, store.CatalogRecord | None]


class CatalogReplica:
    """The catalog (`catalog`, `activities`) as of the catalog stream's version `version`
    of `log`, with the definition texts (`definitions`, by content id) its records name.
    `catalog`, `activities` and `definitions` stay the same objects for the replica's life,
    so their holders may keep them."""

    def __init__(self, log: EventLog, *, region: str, account: str, clock: Clock) -> None:
        #: The log the replica reflects (replaceable only before the first refresh).
        self.log = log
        self.region = region
        self.account = account
        self.clock = clock
        self.catalog = Catalog(region=region, account=account, clock=clock)
        self.activities = Activities(region=region, account=account)
        self.definitions: dict[str, str] = {}
        self._programs: dict[str, Program] = {}
        #: The catalog stream's version `catalog` and `activities` reflect.
        self.version = 0

    async def refresh(self) -> None:
        """Apply the catalog records appended since (by any writer). Everything after the
        reads is synchronous, so two refreshes interleaved apply each record once."""
        events = await self.log.read(store.CATALOG_STREAM, gt=self.version)
        records = [(event.version, event.type, store.catalog_record(event))
                   for event in events]
        named = {record.definition_id for _, _, record in records if isinstance(
            record, store.StateMachineRecord | store.StateMachineChangedRecord
            | store.VersionRecord)}
        if not named <= self.definitions.keys():
            self.definitions.update(await store.load_definitions(self.log))
        self._advance(records)

    async def change(self, change: Callable[[Catalog], T], *,
                     refresh: Callable[[], Awaitable[None]] | None = None) -> T:
        """Make a catalog change: `change` applied to the catalog as the log has it now,
        and the records it amounts to appended to the catalog stream. Returns what `change`
        returned, once the records are in the log.

        The change is decided on a copy of the replica brought up to date; its records are
        appended only if the stream is still at the version the copy reflects. When another
        writer's record came first, the change is decided again on the newer catalog. A
        change that fails leaves nothing to undo, and concurrent changes cannot see each
        other's undecided state. A `change` that changes nothing (a read) records nothing;
        tags are not recorded, so they are set on `catalog` itself, not through here.
        `refresh` brings the replica up to date before each attempt (`self.refresh` unless
        given: a holder that tracks how fresh its replica is passes its own).

        Raises:
            AslError: ConflictException when other writers' changes overtook this one
                `_CHANGE_ATTEMPTS` times; whatever `change` raises, recording nothing.
        """
        for attempt in range(_CHANGE_ATTEMPTS):
            if attempt:
                await anyio.sleep(random.random() * _BACKOFF_SECONDS * attempt)
            await (refresh or self.refresh)()
            expected = self.version
            draft = Catalog(region=self.region, account=self.account, clock=self.clock)
            draft.restore(self.catalog.contents())
            result = change(draft)
            records, named = catalog_records(self.catalog.contents(), draft.contents(),
                                             at=self.clock.now())
            if not records:
                return result
            for machine in named:
                # Applying the records compiles nothing again.
                self._programs.setdefault(await self.record_definition(machine.definition),
                                          machine.program)
            try:
                await store.append_catalog_records(self.log, records, expected=expected)
            except ConcurrencyError:
                continue
            self._advance([(expected + number, type_, record)
                          for number, (type_, record) in enumerate(records, start=1)])
            return result
        raise AslError("ConflictException",
                       "The catalog is being changed concurrently; try again")

    async def record_definition(self, text: str) -> str:
        """Record a definition's text once; its content id."""
        return await store.record_definition(self.log, text, self.definitions)

    async def create_activity(self, name: str) -> Activity:
        """CreateActivity; the same name again is the same activity."""
        if not NAME_RE.match(name):
            raise AslError("InvalidName", f"Invalid Name: '{name}'")
        arn = f"arn:aws:states:{self.region}:{self.account}:activity:{name}"
        await self.refresh()
        if not self.activities.exists(arn):
            await store.append_record(self.log, store.CATALOG_STREAM, "ActivityCreated",
                                      store.ActivityRecord(arn=arn, name=name,
                                                           created=self.clock.now()))
            await self.refresh()
        return self.activities.get(arn)

    async def delete_activity(self, arn: str) -> None:
        """DeleteActivity (an unknown ARN is fine, as AWS answers)."""
        await self.refresh()
        if self.activities.exists(arn):
            await store.append_record(self.log, store.CATALOG_STREAM, "ActivityDeleted",
                                      store.DeletionRecord(arn=arn, at=self.clock.now()))
            await self.refresh()

    def _advance(self, records: list[VersionedRecord]) -> None:
        """Apply the catalog stream's records that the replica does not reflect yet, in
        order (their definitions already in `definitions`)."""
        for version, type_, record in records:
            if version <= self.version:
                continue
            if record is not None:
                self._apply(type_, record)
            self.version = version

    def _apply(self, type_: str, record: store.CatalogRecord) -> None:
        """One catalog record, applied as every replica applies it: the first of two
        creations of one name wins; changes to what no longer exists are dropped."""
        catalog = self.catalog
        match record:
            case store.StateMachineRecord() if not catalog.has(record.arn):
                machine = StateMachine(
                    arn=record.arn, name=record.name,
                    definition=self.definitions[record.definition_id],
                    role_arn=record.role_arn, type=record.type, created=record.created,
                    program=self._program(record.definition_id, record.type))
                machine.revision_id = revision_of(machine)
                catalog.put(machine)
            case store.StateMachineChangedRecord() if catalog.has(record.arn):
                machine = catalog.get(record.arn)
                changed = replace(
                    machine, definition=self.definitions[record.definition_id],
                    program=self._program(record.definition_id, machine.type),
                    role_arn=record.role_arn, logging_configuration=record.logging,
                    tracing_configuration=record.tracing, updated=record.updated)
                changed.revision_id = revision_of(changed)
                catalog.put(changed)
            case store.VersionRecord() if catalog.has(record.arn.rpartition(":")[0]):
                machine = catalog.get(record.arn.rpartition(":")[0])
                catalog.put(replace(
                    machine, arn=record.arn, version=record.number,
                    definition=self.definitions[record.definition_id],
                    program=self._program(record.definition_id, machine.type),
                    role_arn=record.role_arn, logging_configuration=record.logging,
                    tracing_configuration=record.tracing, description=record.description,
                    created=record.created, updated=None, revision_id=record.revision_id))
            case Alias():
                catalog.put_alias(record)
            case store.ActivityRecord():
                self.activities.create(record.name, now=record.created)
            case store.DeletionRecord():
                self._delete(type_, record.arn)

    def _delete(self, type_: str, arn: str) -> None:
        match type_:
            case "ActivityDeleted":
                self.activities.delete(arn)
            case "StateMachineDeleted":
                self.catalog.delete(arn)
            case "VersionDeleted":
                self.catalog.forget_version(arn)
            case "AliasDeleted":
                self.catalog.delete_alias(arn)

    def _program(self, definition_id: str, type: str) -> Program:
        """The compiled definition (compiled once per content id)."""
        program = self._programs.get(definition_id)
        if program is None:
            program = self._programs[definition_id] = self.catalog.compile(
                self.definitions[definition_id], type=type)[1]
        return program


def catalog_records(before: CatalogContents, after: CatalogContents, *, at: float
                    ) -> tuple[list[tuple[str, store.CatalogRecord]], list[StateMachine]]:
    """The catalog records that take a replica from `before` to `after` (a change made by
    one operation), and the machines and versions whose definitions they name. A machine
    replaced by an equal one (a configuration set again) is no change."""
    records: list[tuple[str, store.CatalogRecord]] = []
    named: list[StateMachine] = []
    for arn, machine in after.machines.items():
        if arn not in before.machines:
            named.append(machine)
            records.append(("StateMachineCreated", store.StateMachineRecord(
                arn=arn, name=machine.name, definition_id=store.definition_id(
                    machine.definition), role_arn=machine.role_arn, type=machine.type,
                created=machine.created)))
    deleted = before.machines.keys() - after.machines.keys()
    records += [("StateMachineDeleted", store.DeletionRecord(arn=arn, at=at))
                for arn in sorted(deleted)]
    for arn, machine in after.machines.items():
        if arn in before.machines and before.machines[arn] != machine:
            named.append(machine)
            records.append(("StateMachineChanged", store.StateMachineChangedRecord(
                arn=arn, definition_id=store.definition_id(machine.definition),
                role_arn=machine.role_arn, logging=machine.logging_configuration,
                tracing=machine.tracing_configuration, updated=machine.updated)))
    for base, found in after.versions.items():
        known = before.versions.get(base, {})
        for number, version in found.items():
            if number not in known:
                named.append(version)
                records.append(("VersionPublished", store.VersionRecord(
                    arn=version.arn, number=number,
                    definition_id=store.definition_id(version.definition),
                    role_arn=version.role_arn, logging=version.logging_configuration,
                    tracing=version.tracing_configuration, description=version.description,
                    created=version.created, revision_id=version.revision_id)))
    for base, found in before.versions.items():
        remaining = after.versions.get(base, {})
        records += [("VersionDeleted", store.DeletionRecord(arn=version.arn, at=at))
                    for number, version in found.items()
                    if base not in deleted and number not in remaining]
    for arn, alias in after.aliases.items():
        if before.aliases.get(arn) is not alias:
            records.append(("AliasSaved", alias))
    records += [("AliasDeleted", store.DeletionRecord(arn=arn, at=at))
                for arn, alias in before.aliases.items()
                if arn not in after.aliases and alias.machine_arn not in deleted]
    return records, named
