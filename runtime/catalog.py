"""The state machines a runtime knows: validated, compiled once, looked up by ARN."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

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


class StateMachine(msgspec.Struct, kw_only=True):
    arn: str
    name: str
    definition: str
    role_arn: str
    type: str
    created: float
    program: Program


class Catalog:
    def __init__(self, *, region: str, account: str, clock: Clock) -> None:
        self.region = region
        self.account = account
        self.clock = clock
        self._machines: dict[str, StateMachine] = {}

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
        self._machines[arn] = machine
        return machine

    def get(self, arn: str) -> StateMachine:
        found = self._machines.get(arn)
        if found is None:
            raise AslError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return found

    def list(self) -> list[StateMachine]:
        return list(self._machines.values())
