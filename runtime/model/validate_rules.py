"""The rule checks shared by every state, Choice rules, Retry/Catch, and workflow variables:
the part of definition validation `validate` builds its per-state checks on.

Diagnostics follow `validate`'s rules: nothing raises, every check appends a `Diagnostic` at the
JSON location AWS prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, Literal

import jsonata
import msgspec

from runtime.dataflow.intrinsics import compile_intrinsic
from runtime.dataflow.jsonata import states_fields_read
from runtime.dataflow.paths import compile_path, compile_result_path
from runtime.dataflow.variables import variable_name, variable_name_problem
from runtime.errors import AslError

ERROR: Final = "ERROR"
WARNING: Final = "WARNING"

SCHEMA_VALIDATION_FAILED: Final = "SCHEMA_VALIDATION_FAILED"
INVALID_JSON_DESCRIPTION: Final = "INVALID_JSON_DESCRIPTION"
MISSING_TRANSITION_TARGET: Final = "MISSING_TRANSITION_TARGET"
MISSING_END_STATE: Final = "MISSING_END_STATE"
DUPLICATE_STATE_NAME: Final = "DUPLICATE_STATE_NAME"
INVALID_STATE_NAME: Final = "INVALID_STATE_NAME"
INVALID_LABEL_NAME: Final = "INVALID_LABEL_NAME"
NO_DOLLAR: Final = "NO_DOLLAR"
PASS_RESULT_IS_STATIC: Final = "PASS_RESULT_IS_STATIC"

JSONPATH: Final = "JSONPath"
JSONATA: Final = "JSONata"


class Diagnostic(msgspec.Struct, frozen=True, kw_only=True):
    """One finding, shaped like AWS's ValidateStateMachineDefinitionDiagnostic."""

    #: "ERROR" makes the definition invalid; "WARNING" does not.
    severity: Literal["ERROR", "WARNING"]
    #: AWS's diagnostic code, e.g. SCHEMA_VALIDATION_FAILED, MISSING_TRANSITION_TARGET.
    code: str
    #: Human-readable description, worded as AWS words it where known.
    message: str
    #: JSON location such as "/States/A/Next"; None where AWS gives none.
    location: str | None = None



# --------------------------------------------------------------------------- field tables

JSONPATH_ONLY: Final = frozenset({
    "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Result",
    "ItemsPath", "SecondsPath", "TimestampPath", "ErrorPath", "CausePath",
    "TimeoutSecondsPath", "HeartbeatSecondsPath", "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath", "ToleratedFailureCountPath", "Variable",
})
JSONATA_ONLY: Final = frozenset({"Arguments", "Output", "Items", "Condition"})
_RETRIER_FIELDS: Final = frozenset({"ErrorEquals", "IntervalSeconds", "MaxAttempts",
                                    "BackoffRate", "MaxDelaySeconds", "JitterStrategy",
                                    "Comment"})
_CATCHER_FIELDS: Final = frozenset({"ErrorEquals", "Next", "ResultPath", "Output", "Assign",
                                    "Comment"})
_OPERAND_TYPES: Final[dict[str, str]] = {
    "StringEquals": "str", "StringLessThan": "str", "StringGreaterThan": "str",
    "StringLessThanEquals": "str", "StringGreaterThanEquals": "str", "StringMatches": "str",
    "NumericEquals": "num", "NumericLessThan": "num", "NumericGreaterThan": "num",
    "NumericLessThanEquals": "num", "NumericGreaterThanEquals": "num",
    "BooleanEquals": "bool",
    "TimestampEquals": "ts", "TimestampLessThan": "ts", "TimestampGreaterThan": "ts",
    "TimestampLessThanEquals": "ts", "TimestampGreaterThanEquals": "ts",
    "IsNull": "bool", "IsPresent": "bool", "IsNumeric": "bool", "IsString": "bool",
    "IsBoolean": "bool", "IsTimestamp": "bool",
}
_PATH_OPERATORS: Final = frozenset(
    f"{name}Path" for name, kind in _OPERAND_TYPES.items()
    if kind != "bool" and name != "StringMatches"
) | {"BooleanEqualsPath"}
_OPERATORS: Final = frozenset(_OPERAND_TYPES) | _PATH_OPERATORS
_RULE_FIELDS: Final = _OPERATORS | {"Variable", "And", "Or", "Not", "Next", "Comment",
                                     "Assign", "Output", "Condition"}
# `$states` fields that exist only where a state has a result or a catcher an error output.
_ITEM_READER_FIELDS: Final = frozenset({"Resource", "Parameters", "Arguments", "ReaderConfig"})
# AWS reads items with these S3 actions; `stepline:readFile` is our local-file reader.
_ITEM_READER_RESOURCE: Final = re.compile(
    r"arn:aws[a-z-]*:states:::(?:s3:getObject|s3:listObjectsV2|stepline:readFile)")
_READER_CONFIG_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "InputType": ("MANIFEST", "JSON", "CSV", "JSONL", "PARQUET"),
    "ManifestType": ("ATHENA_DATA", "S3_INVENTORY"),
    "CSVHeaderLocation": ("FIRST_ROW", "GIVEN"),
    "CSVDelimiter": ("COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"),
    "Transformation": ("NONE", "LOAD_AND_FLATTEN"),
}
# docs (ItemReader): "You can specify a limit of up to 100,000,000".
_MAX_ITEMS: Final = 100_000_000
_CONDITIONAL_STATES_FIELDS: Final = frozenset({"result", "errorOutput"})
RESULT: Final = frozenset({"result"})
_ERROR_OUTPUT: Final = frozenset({"errorOutput"})
TIMESTAMP: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"
)
MAX_WAIT: Final = 99_999_999


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_jsonata(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


# --------------------------------------------------------------------------- expressions

def compiles(compile_expression: Callable[[str], object], text: str) -> bool:
    # The dataflow compilers are the grammar: what they refuse, AWS refuses at creation.
    try:
        compile_expression(text)
    except AslError:
        return False
    return True


def path_is_valid(path: str) -> bool:
    return compiles(compile_path, path)


def intrinsic_is_valid(text: str) -> bool:
    return compiles(compile_intrinsic, text)


def jsonata_problem(value: str) -> str | None:
    try:
        jsonata.Jsonata(value[2:-2])
    except Exception as error:  # the parser raises several unrelated exception types
        return str(error)
    return None


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def dollar_fields(value: Any) -> Iterator[tuple[str, Any]]:
    """Yield (key, value) for every key of a payload template, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from dollar_fields(item)
    elif isinstance(value, list):
        for item in value:
            yield from dollar_fields(item)


def looks_dynamic(value: Any) -> bool:
    return isinstance(value, str) and (
        value == "$" or value.startswith(("$.", "$$.", "$[")) or
        (value.startswith("States.") and value.endswith(")"))
    )



# --------------------------------------------------------------------------- the checks

class RuleChecker:
    """Collects diagnostics; `validate`'s checker adds the per-state-type and graph checks."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.found: list[Diagnostic] = []
        #: The location prefix of the machine (top level, branch, processor) being checked.
        self.scope = ""
        #: Variables assigned in each scope: scope prefix -> name -> first `Assign` location.
        self.assigned: dict[str, dict[str, str]] = {}

    def error(self, message: str, location: str | None, code: str = SCHEMA_VALIDATION_FAILED
              ) -> None:
        self.found.append(Diagnostic(severity=ERROR, code=code, message=message,
                                     location=location))

    def warn(self, code: str, message: str, location: str) -> None:
        self.found.append(Diagnostic(severity=WARNING, code=code, message=message,
                                     location=location))

    def has_errors(self) -> bool:
        return any(found.severity == ERROR for found in self.found)

    def unsupported(self, node: dict[str, Any], allowed: frozenset[str], location: str) -> None:
        for field in node:
            if field not in allowed:
                self.error(f"Field '{field}' is not supported", location)

    def language_fields(self, node: dict[str, Any], language: str, location: str) -> None:
        wrong, other = (JSONATA_ONLY, JSONATA) if language == JSONPATH else (
            JSONPATH_ONLY, JSONPATH)
        for field in node:
            if field in wrong:
                self.error(f"The QueryLanguage is set to '{language}', but field '{field}' is "
                           f"only supported for the '{other}' QueryLanguage", location)

    def result_path(self, node: dict[str, Any], location: str) -> None:
        value = node.get("ResultPath")
        if "ResultPath" in node and value is not None and not (
                isinstance(value, str) and compiles(compile_result_path, value)):
            self.error("The value for the field 'ResultPath' must be a valid ReferencePath",
                       f"{location}/ResultPath")

    def payload_template(self, template: Any, location: str) -> None:
        for key, value in dollar_fields(template):
            if key.endswith(".$"):
                if not (isinstance(value, str) and (
                        path_is_valid(value) or intrinsic_is_valid(value))):
                    self.error(f"The value for the field '{key}' must be a valid JSONPath or a "
                               "valid intrinsic function call", location)
            elif looks_dynamic(value):
                self.warn(NO_DOLLAR, f"The value for the field '{key}' looks like a path or "
                          "an intrinsic function, but the field name does not end with '.$'",
                          location)

    def jsonata_fields(self, node: dict[str, Any], location: str, *,
                       readable: frozenset[str] = frozenset()) -> None:
        """Check the `{% %}` expressions of a JSONata node; `readable` names the `$states`
        fields its `Output` and `Assign` may read (`result` in a Task, Parallel or Map state,
        `errorOutput` in a catcher)."""
        for field in ("Arguments", "Output", "Assign", "Items", "ItemSelector", "Condition",
                      "Seconds", "Timestamp", "Error", "Cause", "MaxConcurrency",
                      "ToleratedFailurePercentage", "ToleratedFailureCount",
                      "TimeoutSeconds", "HeartbeatSeconds", "Credentials"):
            allowed = readable if field in ("Output", "Assign") else frozenset()
            for text in strings(node.get(field)):
                if not is_jsonata(text):
                    continue
                problem = jsonata_problem(text)
                if problem is not None:
                    self.error(f"The JSONata expression '{text[2:-2].strip()}' specified "
                               f"for the field '{field}' is invalid: {problem}",
                               f"{location}/{field}")
                    continue
                for name in sorted(states_fields_read(text) & _CONDITIONAL_STATES_FIELDS
                                   - allowed):
                    self.error(f"The JSONata expression '{text[2:-2].strip()}' specified for "
                               f"the field '{field}' references '$states.{name}', which is not "
                               "available in this field", f"{location}/{field}")

    # ----------------------------------------------------------------- variables

    def assign(self, node: dict[str, Any], location: str, language: str) -> None:
        """The `Assign` of a state, a Choice rule or a catcher: an object whose keys are
        variable names (JSONPath keys may end in `.$`), recorded for the scope check."""
        if "Assign" not in node:
            return
        template, here = node["Assign"], f"{location}/Assign"
        if not isinstance(template, dict):
            self.error("The value for the field 'Assign' must be a JSON object", here)
            return
        names = self.assigned.setdefault(self.scope, {})
        for key in template:
            name = variable_name(key, jsonata=language == JSONATA)
            problem = variable_name_problem(name)
            if problem is not None:
                self.error(f"The variable name '{name}' in the field 'Assign' is invalid: "
                           f"{problem}", here)
            names.setdefault(name, here)
        if language == JSONPATH:
            self.payload_template(template, here)

    def shadowed_variables(self) -> None:
        """AWS (workflow-variables, "Variable scope"): "a variable assigned in an inner scope
        cannot have the same name as one assigned in an outer scope". Sibling scopes (two
        branches of one Parallel) may share names."""
        for inner, names in self.assigned.items():
            for outer, outer_names in self.assigned.items():
                if not inner.startswith(f"{outer}/States/"):
                    continue
                for name, location in names.items():
                    if name in outer_names:
                        self.error(f"The variable '{name}' is already assigned in an outer "
                                   f"scope (at {outer_names[name]}); a state inside a Map or "
                                   "Parallel state cannot assign it", location)

    def path_field(self, node: dict[str, Any], field: str, location: str, *,
                   intrinsic: bool = False) -> None:
        value = node.get(field)
        if field not in node:
            return
        if isinstance(value, str) and (
                path_is_valid(value) or (intrinsic and intrinsic_is_valid(value))):
            return
        kind = "a valid JSONPath or a valid intrinsic function call" if intrinsic else (
            "a valid JSONPath")
        self.error(f"The value for the field '{field}' must be {kind}", f"{location}/{field}")

    def exclusive(self, node: dict[str, Any], fields: Sequence[str], location: str) -> None:
        present = [field for field in fields if field in node]
        if len(present) > 1:
            self.error(f"Only one of these fields can be set: [{', '.join(fields)}]", location)

    def bounded(self, node: dict[str, Any], field: str, location: str, language: str, *,
                low: float, high: float | None = None, integer: bool = True) -> None:
        """Check a numeric field; JSONata states may give an expression instead."""
        if field not in node:
            return
        value = node[field]
        if language == JSONATA and is_jsonata(value):
            return
        fits = is_int(value) if integer else is_number(value)
        kind = "an INTEGER" if integer else "a NUMBER"
        if not fits:
            self.error(f"The value for the field '{field}' must be {kind}",
                       f"{location}/{field}")
        elif value < low:
            self.error(f"The value for the field '{field}' must be greater than or equal to "
                       f"{low:g}", f"{location}/{field}")
        elif high is not None and value > high:
            self.error(f"The value for the field '{field}' must be less than or equal to "
                       f"{high:g}", f"{location}/{field}")

    # ----------------------------------------------------------------- choice rules

    def state_choice(self, state: dict[str, Any], location: str, language: str) -> None:
        choices = state.get("Choices")
        if "Choices" not in state:
            self.error("These fields are required: [Choices]", location)
        elif not isinstance(choices, list) or not choices:
            self.error("The field 'Choices' must be a non-empty array", f"{location}/Choices")
        else:
            for index, rule in enumerate(choices):
                self.choice_rule(rule, f"{location}/Choices/{index}", language, top=True)
        if "Default" in state and not isinstance(state["Default"], str):
            self.error("The value for the field 'Default' must be a STRING",
                       f"{location}/Default")

    def choice_rule(self, rule: Any, location: str, language: str, *, top: bool) -> None:
        if not isinstance(rule, dict):
            self.error("A choice rule must be a JSON object", location)
            return
        allowed = _RULE_FIELDS if top else _RULE_FIELDS - {"Next", "Assign", "Output"}
        self.unsupported(rule, allowed, location)
        self.language_fields(rule, language, location)
        if top and not isinstance(rule.get("Next"), str):
            self.error("These fields are required: [Next]", location)
        if top:
            self.assign(rule, location, language)
        if language == JSONATA:
            self.jsonata_fields(rule, location)
            condition = rule.get("Condition")
            if not (is_jsonata(condition) or isinstance(condition, bool)):
                self.error("The field 'Condition' must be a JSONata expression or a boolean",
                           f"{location}/Condition")
            return
        combinators = [field for field in ("And", "Or", "Not") if field in rule]
        operators = [field for field in rule if field in _OPERATORS]
        if combinators:
            if len(combinators) > 1 or operators or "Variable" in rule:
                self.error("A choice rule must have exactly one comparison operator or "
                           "boolean combination", location)
            self.combination(rule, combinators[0], location, language)
            return
        if len(operators) != 1:
            self.error("A choice rule must have exactly one comparison operator or boolean "
                       "combination", location)
        if "Variable" not in rule:
            self.error("These fields are required: [Variable]", location)
        else:
            self.path_field(rule, "Variable", location)
        for operator in operators:
            self.operand(rule, operator, location)

    def combination(self, rule: dict[str, Any], field: str, location: str, language: str
                    ) -> None:
        value = rule[field]
        if field == "Not":
            self.choice_rule(value, f"{location}/Not", language, top=False)
        elif not isinstance(value, list) or not value:
            self.error(f"The field '{field}' must be a non-empty array", f"{location}/{field}")
        else:
            for index, sub in enumerate(value):
                self.choice_rule(sub, f"{location}/{field}/{index}", language, top=False)

    def operand(self, rule: dict[str, Any], operator: str, location: str) -> None:
        value = rule[operator]
        if operator in _PATH_OPERATORS:
            self.path_field(rule, operator, location)
            return
        kind = _OPERAND_TYPES[operator]
        fits = {
            "str": isinstance(value, str),
            "num": is_number(value),
            "bool": isinstance(value, bool),
            "ts": isinstance(value, str) and bool(TIMESTAMP.fullmatch(value)),
        }[kind]
        if not fits:
            expected = {"str": "a STRING", "num": "a NUMBER", "bool": "a BOOLEAN",
                        "ts": "a valid RFC3339 timestamp"}[kind]
            self.error(f"The value for the field '{operator}' must be {expected}",
                       f"{location}/{operator}")

    # ----------------------------------------------------------------- ItemReader

    def item_reader(self, reader: Any, location: str, language: str) -> None:
        """A Distributed Map's ItemReader: an S3 action AWS reads items with (docs: ItemReader)
        or our local-file reader, and a ReaderConfig of AWS's values."""
        if not isinstance(reader, dict):
            self.error("The value for the field 'ItemReader' must be a JSON object", location)
            return
        self.unsupported(reader, _ITEM_READER_FIELDS, location)
        self.language_fields(reader, language, location)
        resource = reader.get("Resource")
        if "Resource" not in reader:
            self.error("These fields are required: [Resource]", location)
        elif not isinstance(resource, str) or not _ITEM_READER_RESOURCE.fullmatch(resource):
            self.error("The field 'Resource' does not match any of the allowed values. "
                       "Examples: [arn:<partition>:states:::s3:getObject, "
                       "arn:<partition>:states:::s3:listObjectsV2]", f"{location}/Resource")
        if language == JSONPATH and "Parameters" in reader:
            self.payload_template(reader["Parameters"], f"{location}/Parameters")
        elif language == JSONATA:
            self.jsonata_fields(reader, location)
        if "ReaderConfig" not in reader:
            return
        config, here = reader["ReaderConfig"], f"{location}/ReaderConfig"
        if not isinstance(config, dict):
            self.error("The value for the field 'ReaderConfig' must be a JSON object", here)
            return
        for field, values in _READER_CONFIG_VALUES.items():
            if field in config and config[field] not in values:
                self.error(f"The field '{field}' should have one of these values: "
                           f"[{', '.join(values)}]", f"{here}/{field}")
        self.exclusive(config, ("MaxItems", "MaxItemsPath"), here)
        self.bounded(config, "MaxItems", here, language, low=0, high=_MAX_ITEMS)
        self.path_field(config, "MaxItemsPath", here)
        self.reader_kind(config, here, resource)

    def reader_kind(self, config: dict[str, Any], location: str, resource: Any) -> None:
        manifest, input_type = config.get("ManifestType"), config.get("InputType")
        # docs: "If you specify ManifestType is S3_INVENTORY then InputType cannot be
        # specified"; an Athena manifest lists CSV, JSONL or Parquet files.
        if manifest == "S3_INVENTORY" and "InputType" in config:
            self.error("The field 'InputType' cannot be set when 'ManifestType' is "
                       "S3_INVENTORY", f"{location}/InputType")
        if manifest == "ATHENA_DATA" and input_type not in ("CSV", "JSONL", "PARQUET"):
            self.error("The field 'InputType' must be CSV, JSONL or PARQUET when "
                       "'ManifestType' is ATHENA_DATA", f"{location}/InputType")
        if isinstance(resource, str) and resource.endswith(":stepline:readFile") and (
                manifest is not None or input_type not in (None, "JSON", "JSONL", "CSV")):
            self.error("A local file is read as JSON, JSONL or CSV: the field 'InputType' "
                       "should have one of these values: [JSON, JSONL, CSV]",
                       f"{location}/InputType")

    # ----------------------------------------------------------------- retry / catch

    def retry(self, retriers: Any, location: str) -> None:
        if self.error_handlers(retriers, location, _RETRIER_FIELDS, "retrier"):
            for index, retrier in enumerate(retriers):
                here = f"{location}/{index}"
                self.bounded(retrier, "IntervalSeconds", here, JSONPATH, low=1,
                             high=MAX_WAIT)
                self.bounded(retrier, "MaxAttempts", here, JSONPATH, low=0, high=MAX_WAIT)
                self.bounded(retrier, "BackoffRate", here, JSONPATH, low=1.0, integer=False)
                self.bounded(retrier, "MaxDelaySeconds", here, JSONPATH, low=1,
                             high=31_622_400)
                if retrier.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
                    self.error("The field 'JitterStrategy' should have one of these values: "
                               "[FULL, NONE]", f"{here}/JitterStrategy")

    def catch(self, catchers: Any, location: str, language: str) -> None:
        if self.error_handlers(catchers, location, _CATCHER_FIELDS, "catcher"):
            for index, catcher in enumerate(catchers):
                here = f"{location}/{index}"
                if not isinstance(catcher.get("Next"), str):
                    self.error("These fields are required: [Next]", here)
                self.language_fields(catcher, language, here)
                self.assign(catcher, here, language)
                if language == JSONPATH:
                    self.result_path(catcher, here)
                else:
                    self.jsonata_fields(catcher, here, readable=_ERROR_OUTPUT)

    def error_handlers(self, handlers: Any, location: str, allowed: frozenset[str],
                       kind: str) -> bool:
        """Check the shape shared by Retry and Catch; True if the entries are objects."""
        if not isinstance(handlers, list):
            self.error("The value must be an array", location)
            return False
        shaped = True
        for index, handler in enumerate(handlers):
            here = f"{location}/{index}"
            if not isinstance(handler, dict):
                self.error("The value must be a JSON object", here)
                shaped = False
                continue
            self.unsupported(handler, allowed, here)
            names = handler.get("ErrorEquals")
            if "ErrorEquals" not in handler:
                self.error("These fields are required: [ErrorEquals]", here)
            elif not isinstance(names, list) or not names or not all(
                    isinstance(name, str) for name in names):
                self.error("The field 'ErrorEquals' must be a non-empty array of strings",
                           f"{here}/ErrorEquals")
            elif "States.ALL" in names and (len(names) > 1 or index != len(handlers) - 1):
                # ASL spec: States.ALL "MUST appear alone" and in the last retrier/catcher.
                self.error(f"'States.ALL' must appear alone in 'ErrorEquals' and in the last "
                           f"{kind}", f"{here}/ErrorEquals")
        return shaped
