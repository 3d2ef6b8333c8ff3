"""Static validation of an ASL definition, on its decoded JSON, before the model decodes it.

Rules of this module:
1. Nothing raises mid-way: every check appends a `Diagnostic`, so one call reports every fault
   (ValidateStateMachineDefinition lists them all; CreateStateMachine joins them into one
   `InvalidDefinition` message).
2. Two phases, as AWS reports them: schema faults first (field presence, types, values,
   query-language rules, path syntax); only a definition without schema errors gets the graph
   checks (missing targets, unreachable states, no terminal state, duplicate names). A missing
   `StartAt` therefore yields one diagnostic, not a cascade.
3. Locations are the JSON locations AWS prints: `/` for the root, `/States/A/Next`, and nested
   machines under their parent, e.g. `/States/M/ItemProcessor/States/B`.
4. A state inherits the query language of the top-level machine, not of an enclosing Map or
   Parallel (measured against AWS: a Map declaring JSONata leaves its processor on the
   machine's language).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

from runtime.dataflow.paths import compile_items_path
from runtime.errors import AslError
from runtime.model.validate_rules import (
    DUPLICATE_STATE_NAME,
    ERROR,
    INVALID_JSON_DESCRIPTION,
    INVALID_LABEL_NAME,
    INVALID_STATE_NAME,
    JSONATA,
    JSONPATH,
    MAX_WAIT,
    MISSING_END_STATE,
    MISSING_TRANSITION_TARGET,
    PASS_RESULT_IS_STATIC,
    RESULT,
    SCHEMA_VALIDATION_FAILED,
    TIMESTAMP,
    Diagnostic,
    RuleChecker,
    compiles,
    dollar_fields,
    is_int,
    is_jsonata,
    path_is_valid,
)

__all__ = [
    "ERROR",
    "Diagnostic",
    "invalid_definition_message",
    "parse_definition",
    "validate_definition",
    "validate_definition_text",
]

# --------------------------------------------------------------------------- field tables

_STATE_TYPES: Final = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")
_COMMON: Final = frozenset({"Type", "Comment", "QueryLanguage"})
_FLOW: Final = frozenset({"Next", "End"})
_IO: Final = frozenset({"InputPath", "OutputPath", "Output"})
_RESULT: Final = frozenset({"ResultPath", "ResultSelector", "Retry", "Catch", "Assign"})
_FIELDS: Final[dict[str, frozenset[str]]] = {
    "Pass": _COMMON | _FLOW | _IO | {"Assign", "Parameters", "ResultPath", "Result"},
    "Task": _COMMON | _FLOW | _IO | _RESULT | {
        "Resource", "Parameters", "Arguments", "Credentials", "TimeoutSeconds",
        "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default", "Assign"},
    "Wait": _COMMON | _FLOW | _IO | {"Assign", "Seconds", "Timestamp", "SecondsPath",
                                     "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON | _FLOW | _IO | _RESULT | {"Branches", "Parameters", "Arguments"},
    "Map": _COMMON | _FLOW | _IO | _RESULT | {
        "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "Parameters",
        "ItemReader", "ResultWriter", "ItemBatcher", "Label", "MaxConcurrency",
        "MaxConcurrencyPath", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
        "ToleratedFailureCount", "ToleratedFailureCountPath",
    },
}
_TOP_FIELDS: Final = frozenset({"Comment", "StartAt", "States", "Version", "TimeoutSeconds",
                                "QueryLanguage"})
_BRANCH_FIELDS: Final = frozenset({"Comment", "StartAt", "States"})
_PROCESSOR_FIELDS: Final = _BRANCH_FIELDS | {"ProcessorConfig"}
_WAIT_FIELDS: Final = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")

_STATE_NAME_MAX: Final = 80
_LABEL_MAX: Final = 40
# Map Run labels follow AWS's resource-name rules (docs: Map state "Label").
_LABEL_FORBIDDEN: Final = frozenset(' <>{}[]?*"#%\\^|~`$&,;:/')

# --------------------------------------------------------------------------- the checker

class _Checker(RuleChecker):
    """Collects diagnostics for one definition; one instance per `validate_definition` call."""

    def __init__(self, machine_type: str, language: str) -> None:
        super().__init__(language)
        self.machine_type = machine_type
        #: Every (location prefix, machine) seen in phase one, for the graph phase.
        self.scopes: list[tuple[str, dict[str, Any]]] = []

    # ----------------------------------------------------------------- machines

    def machine(self, machine: Any, prefix: str, allowed: frozenset[str]) -> None:
        location = prefix or "/"
        if not isinstance(machine, dict):
            self.error("The value must be a JSON object", location)
            return
        missing = [field for field in ("States", "StartAt") if field not in machine]
        if missing:
            self.error(f"These fields are required: [{', '.join(missing)}]", location)
        self.unsupported(machine, allowed, location)
        if "StartAt" in machine and not isinstance(machine["StartAt"], str):
            self.error("The value for the field 'StartAt' must be a STRING",
                       f"{prefix}/StartAt")
        states = machine.get("States")
        if "States" not in machine:
            return
        if not isinstance(states, dict) or not states:
            self.error("The field 'States' must be a non-empty JSON object", f"{prefix}/States")
            return
        self.scopes.append((prefix, machine))
        outer, self.scope = self.scope, prefix
        for name, state in states.items():
            self.state(name, state, f"{prefix}/States/{name}")
        self.scope = outer

    def query_language(self, node: dict[str, Any], location: str) -> str:
        declared = node.get("QueryLanguage")
        if declared is None:
            return self.language
        if declared not in (JSONPATH, JSONATA):
            self.error("The field 'QueryLanguage' should have one of these values: "
                       "[JSONPath, JSONata]", f"{location}/QueryLanguage")
            return self.language
        if declared == JSONPATH and self.language == JSONATA:
            self.error("'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole "
                       "state machine", location)
        return str(declared)

    def state(self, name: str, state: Any, location: str) -> None:
        if len(name) > _STATE_NAME_MAX:
            self.error(f"State name '{name}' exceeds the maximum length of "
                       f"{_STATE_NAME_MAX} characters", location, INVALID_STATE_NAME)
        if not isinstance(state, dict):
            self.error("The value must be a JSON object", location)
            return
        kind = state.get("Type")
        if kind is None:
            self.error("These fields are required: [Type]", location)
            return
        if kind not in _STATE_TYPES:
            self.error(f"The field 'Type' should have one of these values: "
                       f"[{', '.join(_STATE_TYPES)}]", f"{location}/Type")
            return
        language = self.query_language(state, location)
        self.unsupported(state, _FIELDS[kind], location)
        self.language_fields(state, language, location)
        if kind in ("Pass", "Task", "Wait", "Parallel", "Map"):
            self.transition(state, location)
        self.assign(state, location, language)
        if language == JSONPATH:
            self.jsonpath_fields(state, location)
        else:
            self.jsonata_fields(state, location, readable=RESULT if kind in (
                "Task", "Parallel", "Map") else frozenset())
        if "Retry" in _FIELDS[kind] and "Retry" in state:
            self.retry(state["Retry"], f"{location}/Retry")
        if "Catch" in _FIELDS[kind] and "Catch" in state:
            self.catch(state["Catch"], f"{location}/Catch", language)
        match kind:
            case "Task":
                self.state_task(state, location, language)
            case "Wait":
                self.state_wait(state, location, language)
            case "Fail":
                self.state_fail(state, location)
            case "Choice":
                self.state_choice(state, location, language)
            case "Parallel":
                self.state_parallel(state, location)
            case "Map":
                self.state_map(state, location, language)

    # ----------------------------------------------------------------- fields

    def transition(self, state: dict[str, Any], location: str) -> None:
        has_next = "Next" in state
        end = state.get("End")
        if "End" in state and end is not True:
            self.error("The field 'End' must be true when set", f"{location}/End")
        if has_next and "End" in state:
            self.error("Only one of these fields can be set: [Next, End]", location)
        elif not has_next and "End" not in state:
            self.error("These fields are required: [Next or End]", location)
        if has_next and not isinstance(state["Next"], str):
            self.error("The value for the field 'Next' must be a STRING", f"{location}/Next")

    def jsonpath_fields(self, state: dict[str, Any], location: str) -> None:
        for field in ("InputPath", "OutputPath"):
            value = state.get(field)
            if field in state and value is not None and not (
                    isinstance(value, str) and path_is_valid(value)):
                self.error(f"The value for the field '{field}' must be a valid JSONPath",
                           f"{location}/{field}")
        self.result_path(state, location)
        for field in ("Parameters", "ResultSelector", "ItemSelector"):
            if field in state:
                self.payload_template(state[field], f"{location}/{field}")
        if state.get("Type") == "Pass" and any(
                key.endswith(".$") for key, _ in dollar_fields(state.get("Result"))):
            self.warn(PASS_RESULT_IS_STATIC, "The Result field of a Pass state is static: "
                      "paths in it are not evaluated", f"{location}/Result")

    # ----------------------------------------------------------------- per type

    def state_task(self, state: dict[str, Any], location: str, language: str) -> None:
        resource = state.get("Resource")
        if "Resource" not in state:
            self.error("These fields are required: [Resource]", location)
        elif not isinstance(resource, str):
            self.error("The value for the field 'Resource' must be a STRING",
                       f"{location}/Resource")
        elif self.machine_type == "EXPRESS":
            self.express_resource(resource, f"{location}/Resource")
        for field in ("TimeoutSeconds", "HeartbeatSeconds"):
            self.exclusive(state, (field, f"{field}Path"), location)
            self.bounded(state, field, location, language, low=1, high=MAX_WAIT)
            self.path_field(state, f"{field}Path", location)
        timeout, heartbeat = state.get("TimeoutSeconds", 0), state.get("HeartbeatSeconds", 0)
        if is_int(timeout) and is_int(heartbeat) and 0 < timeout <= heartbeat:
            self.error("The value for the field 'HeartbeatSeconds' must be smaller than the "
                       "value for the field 'TimeoutSeconds'", f"{location}/HeartbeatSeconds")

    def express_resource(self, resource: str, location: str) -> None:
        # AWS's own wording, including the trailing space of the first message.
        if resource.endswith(".waitForTaskToken"):
            self.error("Express state machine does not support '.waitForTaskToken' service "
                       "integration ", location)
        elif re.search(r"\.sync(:\d+)?$", resource):
            self.error("Express state machine does not support '.sync' service integration",
                       location)

    def state_wait(self, state: dict[str, Any], location: str, language: str) -> None:
        present = [field for field in _WAIT_FIELDS if field in state]
        if len(present) != 1:
            self.error(f"Exactly one of these fields must be set: [{', '.join(_WAIT_FIELDS)}]",
                       location)
        self.bounded(state, "Seconds", location, language, low=0, high=MAX_WAIT)
        timestamp = state.get("Timestamp")
        if "Timestamp" in state and not (language == JSONATA and is_jsonata(timestamp)) and (
                not isinstance(timestamp, str) or not TIMESTAMP.fullmatch(timestamp)):
            self.error("The value for the field 'Timestamp' must be a valid RFC3339 timestamp",
                       f"{location}/Timestamp")
        self.path_field(state, "SecondsPath", location)
        self.path_field(state, "TimestampPath", location)

    def state_fail(self, state: dict[str, Any], location: str) -> None:
        for field in ("Error", "Cause"):
            self.exclusive(state, (field, f"{field}Path"), location)
            if field in state and not isinstance(state[field], str):
                self.error(f"The value for the field '{field}' must be a STRING",
                           f"{location}/{field}")
            self.path_field(state, f"{field}Path", location, intrinsic=True)

    def state_parallel(self, state: dict[str, Any], location: str) -> None:
        branches = state.get("Branches")
        if "Branches" not in state:
            self.error("These fields are required: [Branches]", location)
        elif not isinstance(branches, list) or not branches:
            self.error("The field 'Branches' must be a non-empty array", f"{location}/Branches")
        else:
            for index, branch in enumerate(branches):
                self.machine(branch, f"{location}/Branches/{index}", _BRANCH_FIELDS)

    def state_map(self, state: dict[str, Any], location: str, language: str) -> None:
        processors = [field for field in ("ItemProcessor", "Iterator") if field in state]
        if not processors:
            self.error("These fields are required: [ItemProcessor]", location)
        elif len(processors) > 1:
            self.error("Only one of these fields can be set: [ItemProcessor, Iterator]",
                       location)
        for processor in processors:
            self.processor(state[processor], f"{location}/{processor}")
        if language == JSONPATH and "ItemsPath" in state and not (
                isinstance(state["ItemsPath"], str)
                and compiles(compile_items_path, state["ItemsPath"])):
            self.error("The value for the field 'ItemsPath' must be a valid ReferencePath",
                       f"{location}/ItemsPath")
        items = state.get("Items")
        if "Items" in state and not (isinstance(items, list) or is_jsonata(items)):
            self.error("The field 'Items' must be an array or a JSONata expression",
                       f"{location}/Items")
        self.exclusive(state, ("ItemSelector", "Parameters"), location)
        for field, low, high, integer in (
                ("MaxConcurrency", 0, None, True),
                ("ToleratedFailurePercentage", 0, 100, False),
                ("ToleratedFailureCount", 0, None, True)):
            self.exclusive(state, (field, f"{field}Path"), location)
            self.bounded(state, field, location, language, low=low, high=high, integer=integer)
            self.path_field(state, f"{field}Path", location)
        if "Label" in state:
            self.label(state["Label"], f"{location}/Label")
        if "ItemReader" in state:
            self.item_reader(state["ItemReader"], f"{location}/ItemReader", language)

    def processor(self, processor: Any, location: str) -> None:
        self.machine(processor, location, _PROCESSOR_FIELDS)
        if not isinstance(processor, dict) or "ProcessorConfig" not in processor:
            return
        config = processor["ProcessorConfig"]
        config_location = f"{location}/ProcessorConfig"
        if not isinstance(config, dict):
            self.error("The value for the field 'ProcessorConfig' must be a JSON object",
                       config_location)
            return
        self.unsupported(config, frozenset({"Mode", "ExecutionType"}), config_location)
        if config.get("Mode", "INLINE") not in ("INLINE", "DISTRIBUTED"):
            self.error("The field 'Mode' should have one of these values: [INLINE, "
                       "DISTRIBUTED]", f"{config_location}/Mode")
        if config.get("ExecutionType", "STANDARD") not in ("STANDARD", "EXPRESS"):
            self.error("The field 'ExecutionType' should have one of these values: "
                       "[STANDARD, EXPRESS]", f"{config_location}/ExecutionType")

    def label(self, label: Any, location: str) -> None:
        if not isinstance(label, str):
            self.error("The value for the field 'Label' must be a STRING", location)
            return
        if len(label) > _LABEL_MAX:
            self.error(f"Label cannot exceed {_LABEL_MAX} characters", location,
                       INVALID_LABEL_NAME)
        for char in label:
            if char in _LABEL_FORBIDDEN or char.isspace() or ord(char) < 0x20 or (
                    0x7F <= ord(char) <= 0x9F):
                self.error(f"Label contains invalid character: {char!r}", location,
                           INVALID_LABEL_NAME)
                return

    # ----------------------------------------------------------------- graph phase

    def graph(self) -> None:
        seen: dict[str, str] = {}
        for prefix, machine in self.scopes:
            for name in machine["States"]:
                if name in seen:
                    self.error(f"Duplicate State name: {name}", f"{prefix}/States/{name}",
                               DUPLICATE_STATE_NAME)
                seen.setdefault(name, prefix)
            self.transitions(prefix, machine)
        self.shadowed_variables()

    def transitions(self, prefix: str, machine: dict[str, Any]) -> None:
        states: dict[str, Any] = machine["States"]
        start = machine["StartAt"]
        edges: dict[str, list[str]] = {}
        for name, state in states.items():
            edges[name] = []
            for field, target, location in _targets(state, f"{prefix}/States/{name}"):
                if target in states:
                    edges[name].append(target)
                else:
                    self.error(f"Missing '{field}' target: {target}", location,
                               MISSING_TRANSITION_TARGET)
        if start not in states:
            self.error(f"Missing 'StartAt' target: {start}", f"{prefix}/StartAt",
                       MISSING_TRANSITION_TARGET)
            return
        if not any(_is_terminal(state) for state in states.values()):
            self.error("Workflow has no terminal state", prefix or None, MISSING_END_STATE)
            return
        reached, pending = {start}, [start]
        while pending:
            for target in edges[pending.pop()]:
                if target not in reached:
                    reached.add(target)
                    pending.append(target)
        for name in states:
            if name not in reached:
                self.error(f'State "{name}" is not reachable.', f"{prefix}/States/{name}",
                           MISSING_TRANSITION_TARGET)


def _targets(state: dict[str, Any], location: str) -> Iterator[tuple[str, Any, str]]:
    if "Next" in state:
        yield "Next", state["Next"], f"{location}/Next"
    if "Default" in state:
        yield "Default", state["Default"], f"{location}/Default"
    for field in ("Choices", "Catch"):
        for index, rule in enumerate(state.get(field) or ()):
            if "Next" in rule:
                yield "Next", rule["Next"], f"{location}/{field}/{index}/Next"


def _is_terminal(state: dict[str, Any]) -> bool:
    return state.get("End") is True or state.get("Type") in ("Succeed", "Fail")


# --------------------------------------------------------------------------- public API

def validate_definition(definition: dict[str, Any], *, machine_type: str = "STANDARD"
                        ) -> list[Diagnostic]:
    """Check a decoded definition as CreateStateMachine/ValidateStateMachineDefinition do.

    Args:
        definition: the decoded JSON of the definition (not mutated).
        machine_type: "STANDARD" or "EXPRESS" (Express machines refuse `.sync` and
            `.waitForTaskToken` integrations).

    Returns:
        Every diagnostic found, errors and warnings, schema faults before graph faults. The
        definition is valid if none has severity "ERROR".
    """
    language = definition.get("QueryLanguage", JSONPATH)
    checker = _Checker(machine_type, language if language in (JSONPATH, JSONATA) else JSONPATH)
    if language not in (JSONPATH, JSONATA):
        checker.error("The field 'QueryLanguage' should have one of these values: "
                      "[JSONPath, JSONata]", "/QueryLanguage")
    if "TimeoutSeconds" in definition:
        checker.bounded(definition, "TimeoutSeconds", "", JSONPATH, low=1)
    checker.machine(definition, "", _TOP_FIELDS)
    if not checker.has_errors():
        checker.graph()
    return checker.found


def _json_error(text: str, error: json.JSONDecodeError) -> Diagnostic:
    """Word a JSON syntax error the way AWS's (Jackson) parser reports it."""
    position = error.pos
    token = re.compile(r"[A-Za-z0-9_$]+").match(text, position)
    if token is not None:
        position = token.end()
        message = (f"Unrecognized token '{token.group()}': was expecting (JSON String, Number, "
                   "Array, Object or token 'null', 'true' or 'false')")
    else:
        message = error.msg
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    source = text if len(text) <= 500 else f'{text[:500]}"[truncated {len(text) - 500} chars]'
    location = f'[Source: (String)"{source}"; line: {line}, column: {column}]'
    return Diagnostic(severity=ERROR, code=INVALID_JSON_DESCRIPTION,
                      message=f"{message}\n at {location}", location=location)


def _decode(text: str) -> tuple[dict[str, Any] | None, Diagnostic | None]:
    not_an_object = Diagnostic(severity=ERROR, code=SCHEMA_VALIDATION_FAILED,
                               message="Definition must be a valid JSON object")
    if not text.strip():
        return None, not_an_object
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as error:
        return None, _json_error(text, error)
    if not isinstance(decoded, dict):
        return None, not_an_object
    return decoded, None


def parse_definition(text: str) -> dict[str, Any]:
    """Decode a definition's JSON text.

    Raises:
        AslError: "InvalidDefinition" if the text is not JSON or not a JSON object, with the
            message CreateStateMachine gives.
    """
    decoded, problem = _decode(text)
    if problem is not None or decoded is None:
        raise AslError("InvalidDefinition", invalid_definition_message(
            [problem] if problem is not None else []))
    return decoded


def validate_definition_text(text: str, *, machine_type: str = "STANDARD") -> list[Diagnostic]:
    """ValidateStateMachineDefinition on raw text: JSON faults, then `validate_definition`."""
    decoded, problem = _decode(text)
    if problem is not None or decoded is None:
        return [problem] if problem is not None else []
    return validate_definition(decoded, machine_type=machine_type)


def invalid_definition_message(diagnostics: Sequence[Diagnostic]) -> str:
    """The InvalidDefinition message for the errors among `diagnostics`.

    AWS words it "Invalid State Machine Definition: 'CODE: message at location, CODE: ...'",
    e.g. "...: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next,
    MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2'"; a fault
    without a location reads "at null".
    """
    parts = []
    for diagnostic in diagnostics:
        if diagnostic.severity != ERROR:
            continue
        location = diagnostic.location
        if location is not None and diagnostic.message.endswith(location):
            parts.append(f"{diagnostic.code}: {diagnostic.message}")
        else:
            parts.append(f"{diagnostic.code}: {diagnostic.message} at {location or 'null'}")
    return f"Invalid State Machine Definition: '{', '.join(parts)}'"

