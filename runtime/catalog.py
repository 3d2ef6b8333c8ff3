"""The state machines a runtime knows: validated, compiled once, looked up by ARN; with their
versions, aliases and tags as the Step Functions API manages them.

Rules:
1. A `StateMachine` is never changed in place: an update stores a new struct, so an execution
   that holds the old one keeps the definition it started with.
2. A version is a `StateMachine` too (`version` set, `arn` qualified with `:<n>`), so
   `get(version_arn)` serves StartExecution like an unqualified ARN does.
3. Revision ids are derived from the content they describe, so publishing an unchanged machine
   twice finds the version it already has.
"""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
from msgspec.structs import replace

from runtime.actor.clock import Clock
from runtime.errors import AslError
from runtime.model.machine import decode_machine
from runtime.model.validate import (
    Diagnostic,
    invalid_definition_message,
    parse_definition,
    validate_definition,
    validate_definition_text,
)
from runtime.program import Program, compile_program

NAME_RE = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")
#: CharacterRestrictedName: at least one non-digit, so an alias never reads as a version.
ALIAS_NAME_RE: Final = re.compile(r"^(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]{1,80}$")
MAX_TAGS: Final = 50
MAX_ROUTES: Final = 2
MAX_ALIASES: Final = 4
JSON = Any


class StateMachine(msgspec.Struct, kw_only=True):
    arn: str
    name: str
    definition: str
    role_arn: str
    type: str
    created: float
    program: Program
    #: ACTIVE, or DELETING while executions of a deleted machine still run.
    status: str = "ACTIVE"
    #: Epoch seconds of the last UpdateStateMachine (None: never updated).
    updated: float | None = None
    revision_id: str = ""
    #: Versions only: the description given to PublishStateMachineVersion.
    description: str | None = None
    #: Versions only: the version number (the last part of `arn`).
    version: int | None = None
    logging_configuration: dict[str, JSON] | None = None
    tracing_configuration: dict[str, JSON] | None = None

    @property
    def machine_arn(self) -> str:
        """The unqualified ARN (a version's ARN without its `:<n>`)."""
        return self.arn if self.version is None else self.arn.rpartition(":")[0]


class Route(msgspec.Struct, frozen=True, kw_only=True):
    version_arn: str
    weight: int


class Alias(msgspec.Struct, frozen=True, kw_only=True):
    arn: str
    name: str
    machine_arn: str
    routes: tuple[Route, ...]
    created: float
    updated: float
    description: str | None = None


class CatalogContents(msgspec.Struct, frozen=True, kw_only=True):
    """What a catalog holds at one moment (its containers copied; the structs in them are
    never changed in place, rule 1): taken before a change, to restore or compare with."""

    machines: dict[str, StateMachine]
    versions: dict[str, dict[int, StateMachine]]
    last_version: dict[str, int]
    aliases: dict[str, Alias]
    tags: dict[str, dict[str, str]]


def revision_of(machine: StateMachine) -> str:
    content = msgspec.json.encode([machine.definition, machine.role_arn,
                                   machine.logging_configuration,
                                   machine.tracing_configuration])
    return str(uuid.uuid5(uuid.NAMESPACE_URL, machine.arn + content.decode()))


class Catalog:
    def __init__(self, *, region: str, account: str, clock: Clock) -> None:
        self.region = region
        self.account = account
        self.clock = clock
        self._machines: dict[str, StateMachine] = {}
        #: Unqualified ARN -> its versions by number, oldest first.
        self._versions: dict[str, dict[int, StateMachine]] = {}
        #: Unqualified ARN -> the highest version number ever published (never reused).
        self._last_version: dict[str, int] = {}
        self._aliases: dict[str, Alias] = {}
        self._tags: dict[str, dict[str, str]] = {}

    # -- definitions ----------------------------------------------------------------------

    def validate(self, definition: str | Mapping[str, Any], *, type: str = "STANDARD"
                 ) -> list[Diagnostic]:
        if isinstance(definition, str):
            return validate_definition_text(definition, machine_type=type)
        return validate_definition(dict(definition), machine_type=type)

    def compile(self, definition: str | Mapping[str, Any], *, type: str = "STANDARD"
                ) -> tuple[str, Program]:
        """Validate and compile a definition; raises AslError("InvalidDefinition") if bad."""
        text = definition if isinstance(definition, str) else msgspec.json.encode(
            definition).decode()
        decoded = parse_definition(text)
        problems = [d for d in validate_definition(decoded, machine_type=type)
                    if d.severity == "ERROR"]
        if problems:
            raise AslError("InvalidDefinition", invalid_definition_message(problems))
        return text, compile_program(decode_machine(decoded))

    # -- state machines -------------------------------------------------------------------

    def create(self, name: str, definition: str | Mapping[str, Any], *, role_arn: str,
               type: str = "STANDARD") -> StateMachine:
        if not NAME_RE.match(name):
            raise AslError("InvalidName", f"Invalid Name: '{name}'")
        text, program = self.compile(definition, type=type)
        arn = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"
        existing = self._machines.get(arn)
        if existing is not None:
            if existing.definition != text or existing.role_arn != role_arn:
                raise AslError("StateMachineAlreadyExists",
                               f"State Machine Already Exists: '{arn}'")
            return existing
        machine = StateMachine(arn=arn, name=name, definition=text, role_arn=role_arn,
                               type=type, created=self.clock.now(), program=program)
        machine.revision_id = revision_of(machine)
        self._machines[arn] = machine
        return machine

    def configure(self, arn: str, *, logging: dict[str, JSON] | None = None,
                  tracing: dict[str, JSON] | None = None) -> StateMachine:
        """Set a newly created machine's logging and tracing configuration."""
        machine = self.get(arn)
        changed = replace(machine, logging_configuration=logging,
                          tracing_configuration=tracing)
        changed.revision_id = revision_of(changed)
        self._machines[arn] = changed
        return changed

    def update(self, arn: str, *, definition: str | None = None, role_arn: str | None = None,
               logging: dict[str, JSON] | None = None, tracing: dict[str, JSON] | None = None
               ) -> StateMachine:
        """UpdateStateMachine: a new struct replaces the old one (rule 1)."""
        if definition is None and role_arn is None and logging is None and tracing is None:
            raise AslError("MissingRequiredParameter",
                           "Either the definition, the role ARN, the LoggingConfiguration, "
                           "or the TracingConfiguration must be specified")
        machine = self.get(arn)
        if machine.version is not None:
            raise AslError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this "
                                         f"context: stateMachineVersion ({arn})'")
        text, program = (machine.definition, machine.program) if definition is None \
            else self.compile(definition, type=machine.type)
        updated = replace(
            machine, definition=text, program=program,
            role_arn=role_arn if role_arn is not None else machine.role_arn,
            logging_configuration=logging if logging is not None
            else machine.logging_configuration,
            tracing_configuration=tracing if tracing is not None
            else machine.tracing_configuration,
            updated=self.clock.now(),
        )
        updated.revision_id = revision_of(updated)
        self._machines[arn] = updated
        return updated

    def delete(self, arn: str) -> None:
        """DeleteStateMachine: the machine, its versions, aliases and tags. Unknown ARNs are
        fine (AWS answers success)."""
        self._machines.pop(arn, None)
        for version in self._versions.pop(arn, {}).values():
            self._tags.pop(version.arn, None)
        self._last_version.pop(arn, None)
        for alias_arn in [a.arn for a in self._aliases.values() if a.machine_arn == arn]:
            del self._aliases[alias_arn]
        self._tags.pop(arn, None)

    def get(self, arn: str) -> StateMachine:
        """A state machine by its ARN, or one of its versions by a version ARN."""
        found = self._machines.get(arn)
        if found is None:
            base, _, number = arn.rpartition(":")
            if number.isdigit():
                found = self._versions.get(base, {}).get(int(number))
        if found is None:
            raise AslError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return found

    def list(self) -> list[StateMachine]:
        return list(self._machines.values())

    # -- versions -------------------------------------------------------------------------

    def publish(self, arn: str, *, revision_id: str | None = None,
                description: str | None = None) -> StateMachine:
        """PublishStateMachineVersion: the latest version again when nothing changed since."""
        machine = self.get(arn)
        if revision_id is not None and revision_id != machine.revision_id:
            raise AslError("ConflictException",
                           f"Failed to publish the State Machine version for revision "
                           f"{revision_id}. The current State Machine revision is "
                           f"{machine.revision_id}.")
        versions = self._versions.setdefault(arn, {})
        if versions:
            latest = versions[max(versions)]
            if latest.revision_id == machine.revision_id:
                return latest
        number = self._last_version.get(arn, 0) + 1
        self._last_version[arn] = number
        version = replace(machine, arn=f"{arn}:{number}", version=number,
                          description=description, created=self.clock.now(), updated=None)
        versions[number] = version
        return version

    def versions(self, arn: str) -> builtins.list[StateMachine]:
        """Newest first, as ListStateMachineVersions orders them."""
        self.get(arn)
        found = self._versions.get(arn, {})
        return [found[n] for n in sorted(found, reverse=True)]

    def delete_version(self, version_arn: str) -> None:
        base, _, number = version_arn.rpartition(":")
        for alias in self._aliases.values():
            if any(route.version_arn == version_arn for route in alias.routes):
                raise AslError("ConflictException",
                               f"Version to be deleted must not be referenced by an alias. "
                               f"Current list of aliases referencing this version: "
                               f"[{alias.name}]")
        self._versions.get(base, {}).pop(int(number), None)
        self._tags.pop(version_arn, None)

    # -- aliases --------------------------------------------------------------------------

    def create_alias(self, name: str, routes: Sequence[Route], *,
                     description: str | None = None) -> Alias:
        if not ALIAS_NAME_RE.match(name):
            raise AslError("ValidationException", f"Invalid Name: '{name}'")
        machine_arn = self._check_routes(routes)
        arn = f"{machine_arn}:{name}"
        existing = self._aliases.get(arn)
        if existing is not None:
            if existing.routes == tuple(routes) and existing.description == description:
                return existing
            raise AslError("ConflictException",
                           f"Failed to create alias because an alias with the same name and a "
                           f"different routing configuration already exists: '{arn}'")
        if sum(1 for a in self._aliases.values() if a.machine_arn == machine_arn) >= MAX_ALIASES:
            raise AslError("ServiceQuotaExceededException",
                           f"Aliases per state machine limit exceeded: {MAX_ALIASES}")
        now = self.clock.now()
        alias = Alias(arn=arn, name=name, machine_arn=machine_arn, routes=tuple(routes),
                      created=now, updated=now, description=description)
        self._aliases[arn] = alias
        return alias

    def alias(self, arn: str) -> Alias:
        found = self._aliases.get(arn)
        if found is None:
            raise AslError("ResourceNotFound", f"Resource not found: '{arn}'")
        return found

    def update_alias(self, arn: str, *, routes: Sequence[Route] | None = None,
                     description: str | None = None) -> Alias:
        alias = self.alias(arn)
        if routes is not None and self._check_routes(routes) != alias.machine_arn:
            raise AslError("ValidationException",
                           "Routing configuration versions must belong to the alias's "
                           "state machine")
        changed = replace(
            alias, routes=tuple(routes) if routes is not None else alias.routes,
            description=description if description is not None else alias.description,
            updated=self.clock.now())
        self._aliases[arn] = changed
        return changed

    def delete_alias(self, arn: str) -> None:
        self._aliases.pop(arn, None)
        self._tags.pop(arn, None)

    def aliases(self, machine_arn: str) -> builtins.list[Alias]:
        self.get(machine_arn)
        return [a for a in self._aliases.values() if a.machine_arn == machine_arn]

    def _check_routes(self, routes: Sequence[Route]) -> str:
        """The machine every route's version belongs to; AWS's routing rules otherwise."""
        if not 1 <= len(routes) <= MAX_ROUTES or len({r.version_arn for r in routes}) != len(
                routes) or sum(r.weight for r in routes) != 100:
            raise AslError("ValidationException",
                           "Routing configuration must contain one or two distinct state "
                           "machine versions whose weights add up to 100")
        machines = set()
        for route in routes:
            base, _, number = route.version_arn.rpartition(":")
            if not number.isdigit() or int(number) not in self._versions.get(base, {}):
                raise AslError("ResourceNotFound",
                               f"Resource not found: '{route.version_arn}'")
            machines.add(base)
        if len(machines) != 1:
            raise AslError("ValidationException",
                           "Routing configuration versions must belong to one state machine")
        return machines.pop()

    # -- replicas -------------------------------------------------------------------------

    def put(self, machine: StateMachine) -> None:
        """Keep `machine` as another catalog recorded it: a state machine, or a version when
        `machine.version` is set (its number then counts as used)."""
        if machine.version is None:
            self._machines[machine.arn] = machine
            return
        base = machine.machine_arn
        self._versions.setdefault(base, {})[machine.version] = machine
        self._last_version[base] = max(self._last_version.get(base, 0), machine.version)

    def has(self, arn: str) -> bool:
        """Whether `get(arn)` finds a state machine or version."""
        try:
            self.get(arn)
        except AslError:
            return False
        return True

    def forget_version(self, version_arn: str) -> None:
        """Drop a version another catalog deleted (it checked the aliases already)."""
        base, _, number = version_arn.rpartition(":")
        if number.isdigit():
            self._versions.get(base, {}).pop(int(number), None)
        self._tags.pop(version_arn, None)

    def put_alias(self, alias: Alias) -> None:
        """Keep `alias` as another catalog recorded it."""
        self._aliases[alias.arn] = alias

    def contents(self) -> CatalogContents:
        return CatalogContents(
            machines=dict(self._machines),
            versions={arn: dict(found) for arn, found in self._versions.items()},
            last_version=dict(self._last_version), aliases=dict(self._aliases),
            tags={arn: dict(found) for arn, found in self._tags.items()})

    def restore(self, contents: CatalogContents) -> None:
        """Go back to `contents` (taken by `contents()`)."""
        self._machines = dict(contents.machines)
        self._versions = {arn: dict(found) for arn, found in contents.versions.items()}
        self._last_version = dict(contents.last_version)
        self._aliases = dict(contents.aliases)
        self._tags = {arn: dict(found) for arn, found in contents.tags.items()}

    # -- tags -----------------------------------------------------------------------------

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        current = self._taggable(arn)
        merged = {**current, **tags}
        if len(merged) > MAX_TAGS:
            raise AslError("TooManyTags",
                           f"Too many tags for resource '{arn}': at most {MAX_TAGS}")
        self._tags[arn] = merged

    def untag(self, arn: str, keys: Sequence[str]) -> None:
        current = self._taggable(arn)
        self._tags[arn] = {k: v for k, v in current.items() if k not in set(keys)}

    def tags(self, arn: str) -> dict[str, str]:
        return dict(self._taggable(arn))

    def _taggable(self, arn: str) -> dict[str, str]:
        if arn not in self._machines and arn not in self._aliases:
            try:
                self.get(arn)
            except AslError:
                raise AslError("ResourceNotFound", f"Resource not found: '{arn}'") from None
        return self._tags.get(arn, {})
