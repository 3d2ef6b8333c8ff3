from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import AslError
from runtime.model.validate import (
    Diagnostic,
    invalid_definition_message,
    parse_definition,
    validate_definition,
    validate_definition_text,
)

CASES_DIR = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "cases"


def _load_cases(kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(CASES_DIR.glob("*.json")):
        found.extend(case for case in json.loads(path.read_text()) if case["kind"] == kind)
    return found


def _machine_type(case: dict[str, Any]) -> str:
    return str((case.get("create_args") or {}).get("type", "STANDARD"))


def _text(case: dict[str, Any]) -> str:
    definition = case["definition"]
    return definition if isinstance(definition, str) else json.dumps(definition)


def _errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [found for found in diagnostics if found.severity == "ERROR"]


def _codes(definition: dict[str, Any], machine_type: str = "STANDARD") -> list[str]:
    return [found.code for found in _errors(validate_definition(definition,
                                                                machine_type=machine_type))]


def _messages(definition: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(found.message, found.location) for found in _errors(validate_definition(definition))]


def _machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def _one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    return _machine({"S": state}, **top)


PASS_END: dict[str, Any] = {"Type": "Pass", "End": True}

# --------------------------------------------------------------------------- corpus

needs_corpus = pytest.mark.skipif(not CASES_DIR.is_dir(), reason="conformance corpus absent")


@needs_corpus
def test_every_recorded_execution_definition_is_accepted() -> None:
    cases = _load_cases("execution")
    rejected = [(case["id"], _errors(validate_definition(case["definition"],
                                                         machine_type=_machine_type(case))))
                for case in cases]
    rejected = [item for item in rejected if item[1]]
    assert len(cases) == 651
    assert rejected == []


# Raised by the API layer from CreateStateMachine arguments, not by the definition.
API_ARGUMENT_ERRORS = {"ValidationException"}


@needs_corpus
def test_every_recorded_invalid_definition_is_rejected() -> None:
    cases = [case for case in _load_cases("create_error")
             if case["expected"]["create_error"]["code"] not in API_ARGUMENT_ERRORS]
    accepted = [case["id"] for case in cases
                if not _errors(validate_definition_text(_text(case),
                                                        machine_type=_machine_type(case)))]
    assert len(cases) == 91
    assert accepted == []


@needs_corpus
def test_recorded_invalid_definition_messages() -> None:
    exact = detail = 0
    for case in _load_cases("create_error"):
        recorded = case["expected"]["create_error"].get("message")
        errors = _errors(validate_definition_text(_text(case), machine_type=_machine_type(case)))
        if not recorded or not errors:
            continue
        if recorded.startswith("Invalid State Machine Definition"):
            assert invalid_definition_message(errors) == recorded
            exact += 1
        else:
            # The Map Label recordings wrap the fault as "Error=ValueError Args=[<repr>] in
            # definition '...'": the fault text itself must still be ours, verbatim.
            assert repr(errors[0].message) in recorded
            detail += 1
    assert (exact, detail) == (3, 88)


@needs_corpus
@pytest.mark.parametrize("case", _load_cases("validate") if CASES_DIR.is_dir() else [],
                         ids=lambda case: str(case["id"]).split("::")[-2])
def test_recorded_validate_results(case: dict[str, Any]) -> None:
    diagnostics = validate_definition_text(_text(case), machine_type=_machine_type(case))
    expected = case["expected"]["validate"]
    assert ("FAIL" if _errors(diagnostics) else "OK") == expected["result"]
    assert Counter(found.code for found in diagnostics) == Counter(
        found["code"] for found in expected["diagnostics"])
    assert [(found.message, found.location) for found in diagnostics] == [
        (found["message"], found.get("location")) for found in expected["diagnostics"]]


# --------------------------------------------------------------------------- parsing

def test_parse_definition_returns_the_object() -> None:
    assert parse_definition('{"StartAt": "A"}') == {"StartAt": "A"}


def test_parse_definition_rejects_an_unrecognized_token_as_jackson_words_it() -> None:
    with pytest.raises(AslError) as raised:
        parse_definition("not a definition")
    assert raised.value.code == "InvalidDefinition"
    assert raised.value.message == (
        "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unrecognized token "
        "'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or "
        "'false')\n at [Source: (String)\"not a definition\"; line: 1, column: 4]'")


@pytest.mark.parametrize("text", ["", "   ", "[]", '"text"', "1"])
def test_a_definition_must_be_a_json_object(text: str) -> None:
    assert validate_definition_text(text) == [Diagnostic(
        severity="ERROR", code="SCHEMA_VALIDATION_FAILED",
        message="Definition must be a valid JSON object")]
    with pytest.raises(AslError):
        parse_definition(text)


def test_other_json_syntax_errors_carry_line_and_column() -> None:
    [found] = validate_definition_text('{\n  "StartAt": }')
    assert found.code == "INVALID_JSON_DESCRIPTION"
    assert found.location is not None and found.location.endswith("line: 2, column: 14]")


# --------------------------------------------------------------------------- message format

def test_message_joins_errors_as_aws_does_and_skips_warnings() -> None:
    # The wording AWS returned for this shape, as quoted in localstack issue #11978.
    definition = _machine({"pass1": {"Type": "Pass", "Next": "pass3"}, "pass2": PASS_END})
    assert invalid_definition_message(validate_definition(definition)) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: "
        "pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State \"pass2\" is not "
        "reachable. at /States/pass2'")
    warning = Diagnostic(severity="WARNING", code="NO_DOLLAR", message="m", location="/")
    error = Diagnostic(severity="ERROR", code="MISSING_END_STATE", message="Workflow has no "
                       "terminal state")
    assert invalid_definition_message([warning, error]) == (
        "Invalid State Machine Definition: 'MISSING_END_STATE: Workflow has no terminal state "
        "at null'")


# --------------------------------------------------------------------------- top level

def test_a_minimal_machine_is_valid() -> None:
    assert validate_definition(_one(PASS_END)) == []


def test_required_top_level_fields_in_aws_order() -> None:
    assert _messages({}) == [("These fields are required: [States, StartAt]", "/")]


def test_unknown_top_level_field() -> None:
    assert _messages(_one(PASS_END, Coment="typo")) == [("Field 'Coment' is not supported", "/")]


def test_states_must_not_be_empty() -> None:
    assert _codes({"StartAt": "A", "States": {}}) == ["SCHEMA_VALIDATION_FAILED"]


def test_top_level_timeout_must_be_positive() -> None:
    assert _messages(_one(PASS_END, TimeoutSeconds=0)) == [
        ("The value for the field 'TimeoutSeconds' must be greater than or equal to 1",
         "/TimeoutSeconds")]


def test_start_at_must_name_a_state() -> None:
    assert _messages({"StartAt": "Nope", "States": {"A": PASS_END}}) == [
        ("Missing 'StartAt' target: Nope", "/StartAt")]


def test_state_type_must_be_known() -> None:
    assert _messages(_one({"Type": "Sleep", "End": True})) == [
        ("The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, "
         "Choice, Parallel, Map]", "/States/S/Type")]
    assert _messages(_one({"End": True})) == [("These fields are required: [Type]",
                                               "/States/S")]


def test_state_name_length_is_at_most_80() -> None:
    assert _codes(_machine({"x" * 80: PASS_END})) == []
    assert _codes(_machine({"x" * 81: PASS_END})) == ["INVALID_STATE_NAME"]


# --------------------------------------------------------------------------- fields

@pytest.mark.parametrize(("state_type", "extra"), [
    ("Pass", {"End": True}), ("Wait", {"Seconds": 1, "End": True}),
    ("Choice", {"Choices": [{"Variable": "$.x", "IsNull": True, "Next": "S"}]}),
    ("Succeed", {}), ("Fail", {}),
])
def test_timeout_seconds_is_a_task_field(state_type: str, extra: dict[str, Any]) -> None:
    # Measured against AWS (floci issue #2735): Field 'TimeoutSeconds' is not supported.
    state = {"Type": state_type, "TimeoutSeconds": 5, **extra}
    assert ("Field 'TimeoutSeconds' is not supported", "/States/S") in _messages(_one(state))


@pytest.mark.parametrize("state_type", ["Pass", "Wait", "Succeed", "Fail"])
def test_retry_and_catch_only_on_task_parallel_map(state_type: str) -> None:
    state = {"Type": state_type, "Retry": [], "Catch": []}
    messages = [message for message, _ in _messages(_one(state))]
    assert "Field 'Retry' is not supported" in messages
    assert "Field 'Catch' is not supported" in messages


def test_terminal_states_may_not_transition() -> None:
    assert _messages(_machine({"S": {"Type": "Succeed", "Next": "F"},
                               "F": {"Type": "Fail"}})) == [
        ("Field 'Next' is not supported", "/States/S")]


def test_exactly_one_of_next_and_end() -> None:
    assert _messages(_one({"Type": "Pass"})) == [
        ("These fields are required: [Next or End]", "/States/S")]
    both = _machine({"S": {"Type": "Pass", "Next": "T", "End": True}, "T": PASS_END})
    assert _messages(both) == [("Only one of these fields can be set: [Next, End]",
                                "/States/S")]
    assert _messages(_one({"Type": "Pass", "End": False})) == [
        ("The field 'End' must be true when set", "/States/S/End")]


# --------------------------------------------------------------------------- query language

def test_jsonata_states_refuse_jsonpath_fields() -> None:
    definition = _one({"Type": "Pass", "InputPath": "$.a", "End": True},
                      QueryLanguage="JSONata")
    assert _messages(definition) == [(
        "The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for "
        "the 'JSONPath' QueryLanguage", "/States/S")]


def test_jsonpath_states_refuse_jsonata_fields() -> None:
    assert _messages(_one({"Type": "Pass", "Output": {}, "End": True})) == [(
        "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for "
        "the 'JSONata' QueryLanguage", "/States/S")]


def test_a_state_may_upgrade_to_jsonata_but_not_downgrade() -> None:
    upgrade = _one({"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}",
                    "End": True})
    assert _codes(upgrade) == []
    downgrade = _one({"Type": "Pass", "QueryLanguage": "JSONPath", "End": True},
                     QueryLanguage="JSONata")
    assert _messages(downgrade) == [("'QueryLanguage' can not be 'JSONPath' if set to "
                                     "'JSONata' for whole state machine", "/States/S")]


def test_unknown_query_language() -> None:
    assert _codes(_one(PASS_END, QueryLanguage="XPath")) == ["SCHEMA_VALIDATION_FAILED"]


def test_processor_states_inherit_the_machine_language_not_the_maps() -> None:
    # Measured against AWS (floci issue #2968): the processor stays on the machine's language.
    inner = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": 1, "End": True}}}
    definition = _one({"Type": "Map", "QueryLanguage": "JSONata", "ItemProcessor": inner,
                       "End": True})
    assert _messages(definition) == [(
        "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for "
        "the 'JSONata' QueryLanguage", "/States/S/ItemProcessor/States/P")]


def test_processor_may_not_declare_a_query_language() -> None:
    inner = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": PASS_END}}
    assert _messages(_one({"Type": "Map", "ItemProcessor": inner, "End": True})) == [
        ("Field 'QueryLanguage' is not supported", "/States/S/ItemProcessor")]


def test_unparseable_jsonata_is_rejected() -> None:
    definition = _one({"Type": "Pass", "Output": {"a": "{% a[1,2) %}"}, "End": True},
                      QueryLanguage="JSONata")
    [(message, location)] = _messages(definition)
    assert location == "/States/S/Output"
    assert message.startswith("The JSONata expression 'a[1,2)'")


# --------------------------------------------------------------------------- paths

@pytest.mark.parametrize("path", ["$", "$.a.b[0]", "$$.Execution.Input", "$var.x",
                                  "$['a b'].c", "$.items[*].id", "$..name",
                                  "$.a[?(@.x > 1)]", "$.input-value"])
def test_valid_input_paths(path: str) -> None:
    assert _codes(_one({"Type": "Pass", "InputPath": path, "End": True})) == []


@pytest.mark.parametrize("path", ["a.b", "$.", "$.a[", "$.a..", 5])
def test_invalid_input_paths(path: Any) -> None:
    assert _messages(_one({"Type": "Pass", "InputPath": path, "End": True})) == [
        ("The value for the field 'InputPath' must be a valid JSONPath", "/States/S/InputPath")]


def test_null_paths_discard() -> None:
    state = {"Type": "Pass", "InputPath": None, "OutputPath": None, "ResultPath": None,
             "End": True}
    assert _codes(_one(state)) == []


@pytest.mark.parametrize("path", ["$.a[*]", "$..a", "$$.Execution", "$.a[?(@.b)]"])
def test_result_path_must_be_a_reference_path(path: str) -> None:
    assert _codes(_one({"Type": "Pass", "ResultPath": path, "End": True})) == [
        "SCHEMA_VALIDATION_FAILED"]


@pytest.mark.parametrize("value", [
    "$.a", "States.Format('{} and {}', $.a, $$.State.Name)", "States.UUID()",
    "States.ArrayGetItem(States.StringSplit($.s, ','), States.MathAdd(1, -1))",
    "States.StringToJson('{\"a\": \"it\\'s\"}')", "States.Array()",
])
def test_valid_dollar_fields(value: str) -> None:
    state = {"Type": "Pass", "Parameters": {"nested": [{"v.$": value}]}, "End": True}
    assert _codes(_one(state)) == []


@pytest.mark.parametrize("value", [
    "States.Format('unclosed", "States.Format('x', $.a", "States.NoSuch($.a)",
    "States.Format('x') trailing", "plain text", 7,
])
def test_invalid_dollar_fields(value: Any) -> None:
    state = {"Type": "Pass", "Parameters": {"v.$": value}, "End": True}
    assert _messages(_one(state)) == [(
        "The value for the field 'v.$' must be a valid JSONPath or a valid intrinsic function "
        "call", "/States/S/Parameters")]


def test_path_without_dollar_suffix_is_a_warning() -> None:
    [found] = validate_definition(_one({"Type": "Pass", "Parameters": {"v": "$.a"},
                                        "End": True}))
    assert (found.severity, found.code) == ("WARNING", "NO_DOLLAR")


def test_pass_result_paths_are_static_warning() -> None:
    [found] = validate_definition(_one({"Type": "Pass", "Result": {"a.$": "$.x", "b.$": "$"},
                                        "End": True}))
    assert (found.severity, found.code) == ("WARNING", "PASS_RESULT_IS_STATIC")


# --------------------------------------------------------------------------- graph

def test_missing_next_target() -> None:
    assert _messages(_machine({"S": {"Type": "Pass", "Next": "Gone"}})) == [
        ("Missing 'Next' target: Gone", "/States/S/Next"),
        ("Workflow has no terminal state", None)]


def test_unreachable_state() -> None:
    assert _messages(_machine({"A": PASS_END, "B": PASS_END})) == [
        ('State "B" is not reachable.', "/States/B")]


def test_a_loop_without_terminal_state() -> None:
    # floci issue #2735, measured on AWS: MISSING_END_STATE "at null".
    definition = _machine({"A": {"Type": "Pass", "Next": "B"},
                           "B": {"Type": "Pass", "Next": "A"}})
    assert validate_definition(definition) == [Diagnostic(
        severity="ERROR", code="MISSING_END_STATE", message="Workflow has no terminal state")]


def test_a_loop_with_an_unreachable_terminal_reports_reachability() -> None:
    definition = _machine({"A": {"Type": "Pass", "Next": "B"},
                           "B": {"Type": "Pass", "Next": "A"}, "C": PASS_END})
    assert _codes(definition) == ["MISSING_TRANSITION_TARGET"]


def test_choice_and_catch_targets_count_as_transitions() -> None:
    definition = _machine({
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "T"}],
              "Default": "D"},
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}], "End": True},
        "D": {"Type": "Succeed"}, "H": {"Type": "Fail"},
    })
    assert _codes(definition) == []
    definition["States"]["C"]["Default"] = "Nowhere"
    assert _messages(definition) == [("Missing 'Default' target: Nowhere", "/States/C/Default"),
                                     ('State "D" is not reachable.', "/States/D")]


def test_graph_checks_wait_for_a_clean_schema() -> None:
    definition = _machine({"A": {"Type": "Pass", "Next": "Gone", "Bogus": 1}})
    assert _messages(definition) == [("Field 'Bogus' is not supported", "/States/A")]


def test_state_names_are_unique_across_nested_machines() -> None:
    branch = {"StartAt": "A", "States": {"A": PASS_END}}
    definition = _machine({"A": {"Type": "Parallel", "Branches": [branch], "End": True}})
    assert _messages(definition) == [("Duplicate State name: A",
                                      "/States/A/Branches/0/States/A")]


def test_nested_machines_are_checked_with_their_location() -> None:
    branch = {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}, "Z": PASS_END}}
    definition = _one({"Type": "Parallel", "Branches": [branch], "End": True})
    assert _messages(definition) == [
        ("Missing 'Next' target: Y", "/States/S/Branches/0/States/X/Next"),
        ('State "Z" is not reachable.', "/States/S/Branches/0/States/Z")]


# --------------------------------------------------------------------------- choice

def _choice(*rules: Any, **extra: Any) -> dict[str, Any]:
    return _machine({"C": {"Type": "Choice", "Choices": list(rules), **extra},
                     "T": {"Type": "Succeed"}})


def test_choice_needs_rules() -> None:
    assert _codes(_machine({"C": {"Type": "Choice", "Choices": []}})) == [
        "SCHEMA_VALIDATION_FAILED"]
    assert _codes(_machine({"C": {"Type": "Choice"}})) == ["SCHEMA_VALIDATION_FAILED"]


def test_choice_rule_needs_exactly_one_operator() -> None:
    two = {"Variable": "$.x", "IsNull": True, "IsString": True, "Next": "T"}
    none = {"Variable": "$.x", "Next": "T"}
    assert _codes(_choice(two)) == ["SCHEMA_VALIDATION_FAILED"]
    assert _codes(_choice(none)) == ["SCHEMA_VALIDATION_FAILED"]


@pytest.mark.parametrize(("operator", "operand"), [
    ("NumericEquals", "1"), ("StringEquals", 1), ("BooleanEquals", "true"),
    ("IsNull", 1), ("TimestampEquals", "yesterday"), ("NumericEqualsPath", "x"),
])
def test_choice_operand_types(operator: str, operand: Any) -> None:
    rule = {"Variable": "$.x", operator: operand, "Next": "T"}
    assert _codes(_choice(rule)) == ["SCHEMA_VALIDATION_FAILED"]


def test_top_rules_need_next_and_nested_rules_may_not_have_it() -> None:
    assert _messages(_choice({"Variable": "$.x", "IsNull": True})) == [
        ("These fields are required: [Next]", "/States/C/Choices/0")]
    nested = {"And": [{"Variable": "$.x", "IsNull": True, "Next": "T"}], "Next": "T"}
    assert _messages(_choice(nested)) == [("Field 'Next' is not supported",
                                           "/States/C/Choices/0/And/0")]


def test_boolean_combinations() -> None:
    good = {"Not": {"Variable": "$.x", "IsNull": True},
            "Next": "T"}
    assert _codes(_choice(good)) == []
    assert _codes(_choice({"Or": [], "Next": "T"})) == ["SCHEMA_VALIDATION_FAILED"]


def test_jsonata_choice_rules_use_condition() -> None:
    assert _codes(_choice({"Condition": "{% $states.input.x %}", "Next": "T"},
                          QueryLanguage="JSONata")) == []
    assert _codes(_choice({"Variable": "$.x", "IsNull": True, "Next": "T"},
                          QueryLanguage="JSONata")) != []


# --------------------------------------------------------------------------- retry / catch

def _task(**fields: Any) -> dict[str, Any]:
    return _one({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                 **fields})


def test_well_formed_retry() -> None:
    retrier = {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 0,
               "BackoffRate": 1.0, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"}
    assert _codes(_task(Retry=[retrier, {"ErrorEquals": ["States.ALL"]}])) == []


@pytest.mark.parametrize("retrier", [
    {"ErrorEquals": []}, {}, {"ErrorEquals": ["States.ALL", "X"]},
    {"ErrorEquals": ["X"], "IntervalSeconds": 0}, {"ErrorEquals": ["X"], "MaxAttempts": -1},
    {"ErrorEquals": ["X"], "BackoffRate": 0.5}, {"ErrorEquals": ["X"], "JitterStrategy": "X"},
    {"ErrorEquals": ["X"], "MaxDelaySeconds": 0}, {"ErrorEquals": ["X"], "Next": "S"},
    {"ErrorEquals": ["X"], "MaxAttempts": 1.5},
])
def test_bad_retriers(retrier: dict[str, Any]) -> None:
    assert _codes(_task(Retry=[retrier])) == ["SCHEMA_VALIDATION_FAILED"]


def test_states_all_must_be_in_the_last_handler() -> None:
    catchers = [{"ErrorEquals": ["States.ALL"], "Next": "S"}, {"ErrorEquals": ["X"],
                                                               "Next": "S"}]
    assert _messages(_task(Catch=catchers)) == [(
        "'States.ALL' must appear alone in 'ErrorEquals' and in the last catcher",
        "/States/S/Catch/0/ErrorEquals")]


def test_catcher_needs_next() -> None:
    assert _codes(_task(Catch=[{"ErrorEquals": ["X"]}])) == ["SCHEMA_VALIDATION_FAILED"]


# --------------------------------------------------------------------------- task / wait / fail

def test_task_timeouts() -> None:
    assert _codes(_task(TimeoutSeconds=10, HeartbeatSeconds=5)) == []
    assert _codes(_task(TimeoutSeconds=0)) == ["SCHEMA_VALIDATION_FAILED"]
    assert _codes(_task(TimeoutSeconds=5, HeartbeatSeconds=5)) == ["SCHEMA_VALIDATION_FAILED"]
    assert _codes(_task(TimeoutSeconds=5, TimeoutSecondsPath="$.t")) == [
        "SCHEMA_VALIDATION_FAILED"]


def test_task_needs_a_resource() -> None:
    assert _messages(_one({"Type": "Task", "End": True})) == [
        ("These fields are required: [Resource]", "/States/S")]


@pytest.mark.parametrize(("resource", "message"), [
    ("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
     "Express state machine does not support '.waitForTaskToken' service integration "),
    ("arn:aws:states:::states:startExecution.sync:2",
     "Express state machine does not support '.sync' service integration"),
])
def test_express_refuses_callback_and_sync_integrations(resource: str, message: str) -> None:
    state = {"Type": "Task", "Resource": resource, "End": True}
    assert _codes(_one(state)) == []
    assert [(found.message, found.location)
            for found in validate_definition(_one(state), machine_type="EXPRESS")] == [
        (message, "/States/S/Resource")]


@pytest.mark.parametrize("fields", [
    {}, {"Seconds": 1, "Timestamp": "2024-01-01T00:00:00Z"}, {"Seconds": -1},
    {"Timestamp": "2024-01-01"}, {"SecondsPath": "nope"},
])
def test_bad_waits(fields: dict[str, Any]) -> None:
    assert _codes(_one({"Type": "Wait", "End": True, **fields})) == ["SCHEMA_VALIDATION_FAILED"]


def test_jsonata_wait_takes_an_expression() -> None:
    wait = {"Type": "Wait", "Seconds": "{% $states.input.n %}", "End": True}
    assert _codes(_one(wait, QueryLanguage="JSONata")) == []


def test_fail_error_and_error_path_are_exclusive() -> None:
    assert _codes(_one({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})) == [
        "SCHEMA_VALIDATION_FAILED"]
    assert _codes(_one({"Type": "Fail", "CausePath": "States.Format('{}', $.c)"})) == []


# --------------------------------------------------------------------------- map / parallel

def _map(**fields: Any) -> dict[str, Any]:
    processor = {"StartAt": "I", "States": {"I": PASS_END}}
    return _one({"Type": "Map", "ItemProcessor": processor, "End": True, **fields})


def test_map_bounds() -> None:
    assert _codes(_map(MaxConcurrency=0, ToleratedFailurePercentage=100,
                       ToleratedFailureCount=0)) == []
    for bad in ({"MaxConcurrency": -1}, {"ToleratedFailurePercentage": 101},
                {"ToleratedFailureCount": -1}, {"MaxConcurrency": 1, "MaxConcurrencyPath": "$.m"},
                {"ItemsPath": "$.a[*]"}):
        assert _codes(_map(**bad)) == ["SCHEMA_VALIDATION_FAILED"], bad


def test_map_needs_exactly_one_processor() -> None:
    assert _codes(_one({"Type": "Map", "End": True})) == ["SCHEMA_VALIDATION_FAILED"]
    processor = {"StartAt": "I", "States": {"I": PASS_END}}
    assert _codes(_map(Iterator=processor)) == ["SCHEMA_VALIDATION_FAILED"]


def test_processor_config_values() -> None:
    processor = {"ProcessorConfig": {"Mode": "SIDEWAYS"}, "StartAt": "I",
                 "States": {"I": PASS_END}}
    assert _messages(_one({"Type": "Map", "ItemProcessor": processor, "End": True})) == [
        ("The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]",
         "/States/S/ItemProcessor/ProcessorConfig/Mode")]


def test_map_label_rules() -> None:
    assert _codes(_map(Label="label_ok-1")) == []
    assert _messages(_map(Label="x" * 41)) == [("Label cannot exceed 40 characters",
                                                "/States/S/Label")]
    assert _messages(_map(Label="a\x98")) == [("Label contains invalid character: '\\x98'",
                                               "/States/S/Label")]


def test_parallel_needs_branches() -> None:
    assert _codes(_one({"Type": "Parallel", "Branches": [], "End": True})) == [
        "SCHEMA_VALIDATION_FAILED"]
    assert _codes(_one({"Type": "Parallel", "Branches": [{"StartAt": "A"}], "End": True})) == [
        "SCHEMA_VALIDATION_FAILED"]


def test_validation_never_mutates_the_definition() -> None:
    definition = _map(Label="x" * 50, Retry=[{"ErrorEquals": []}])
    snapshot = json.dumps(definition, sort_keys=True)
    validate_definition(definition)
    assert json.dumps(definition, sort_keys=True) == snapshot


# --------------------------------------------------------------------------- workflow variables
# AWS developer guide, "Passing data between states with variables" (workflow-variables).

JSONATA = {"QueryLanguage": "JSONata"}


def _pass_assign(assign: Any, **fields: Any) -> dict[str, Any]:
    return {"Type": "Pass", "Assign": assign, "End": True, **fields}


@pytest.mark.parametrize("name", ["x", "productName", "constant_str", "_private", "héllo",
                                  "日本", "a1", "x" * 80])
def test_variable_names_follow_unicode_identifier_rules(name: str) -> None:
    # "The first character ... must be a Unicode ID_Start character, and the second and
    # subsequent characters must be Unicode ID_Continue characters."
    assert _codes(_one(_pass_assign({name: 1}))) == []
    assert _codes(_one(_pass_assign({name: "{% 1 %}"}), **JSONATA)) == []


@pytest.mark.parametrize("name", ["1x", "a-b", "a b", "a.b", "", "x$", "x" * 81])
def test_variable_names_outside_the_rules_are_rejected(name: str) -> None:
    # "The maximum length of a variable name is 80."
    messages = _messages(_one(_pass_assign({name: 1})))
    assert len(messages) == 1
    message, location = messages[0]
    assert message.startswith(f"The variable name '{name}' in the field 'Assign' is invalid")
    assert location == "/States/S/Assign"


def test_states_is_a_reserved_variable_name_in_both_query_languages() -> None:
    # "Step Functions defines a single reserved variable called $states."
    assert _messages(_one(_pass_assign({"states.$": "$.a"}))) == [
        ("The variable name 'states' in the field 'Assign' is invalid: 'states' is a reserved "
         "variable name", "/States/S/Assign")]
    assert _codes(_one(_pass_assign({"states": 1}), **JSONATA)) == ["SCHEMA_VALIDATION_FAILED"]


def test_jsonpath_assign_keys_drop_the_path_suffix_but_jsonata_keys_do_not() -> None:
    assert _codes(_one(_pass_assign({"x.$": "$.a"}))) == []
    assert _messages(_one(_pass_assign({"x.$": "{% 1 %}"}), **JSONATA))[0][0].startswith(
        "The variable name 'x.$'")


def test_assign_must_be_an_object() -> None:
    assert _messages(_one(_pass_assign([1]))) == [
        ("The value for the field 'Assign' must be a JSON object", "/States/S/Assign")]


def test_assign_names_are_checked_in_choice_rules_and_catchers() -> None:
    # "The Assign field is available at the top level of each state (except Succeed and Fail),
    # inside Choice state rules, and inside Catch fields."
    choice = _machine({
        "C": {"Type": "Choice", "Default": "D", "Choices": [
            {"Variable": "$.a", "IsPresent": True, "Next": "D", "Assign": {"bad name": 1}}]},
        "D": {"Type": "Parallel", "End": True, "Branches": [_one(PASS_END)],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "E", "Assign": {"2x": 1}}]},
        "E": PASS_END,
    })
    assert [location for _, location in _messages(choice)] == [
        "/States/C/Choices/0/Assign", "/States/D/Catch/0/Assign"]


def test_assign_is_refused_in_succeed_fail_and_nested_choice_rules() -> None:
    assert _codes(_one({"Type": "Succeed", "Assign": {"x": 1}})) == ["SCHEMA_VALIDATION_FAILED"]
    nested = {"Type": "Choice", "Default": "D", "Choices": [{"Next": "D", "Not": {
        "Variable": "$.a", "IsPresent": True, "Assign": {"x": 1}}}]}
    assert _messages(_machine({"C": nested, "D": PASS_END})) == [
        ("Field 'Assign' is not supported", "/States/C/Choices/0/Not")]


def _map_assigning(inner: dict[str, Any], mode: str = "INLINE") -> dict[str, Any]:
    return {"Type": "Map", "Next": "After", "ItemProcessor": {
        "ProcessorConfig": {"Mode": mode}, "StartAt": "I",
        "States": {"I": _pass_assign(inner)}}}


@pytest.mark.parametrize("mode", ["INLINE", "DISTRIBUTED"])
def test_an_inner_scope_cannot_assign_a_variable_of_an_outer_scope(mode: str) -> None:
    # "A variable assigned in an inner scope cannot have the same name as one assigned in an
    # outer scope" -- even when the outer assignment comes later in the definition.
    definition = _machine({"M": _map_assigning({"x.$": "$", "y": 1}, mode),
                           "After": _pass_assign({"x": 1})})
    assert _messages(definition) == [(
        "The variable 'x' is already assigned in an outer scope (at /States/After/Assign); a "
        "state inside a Map or Parallel state cannot assign it",
        "/States/M/ItemProcessor/States/I/Assign")]


def test_nested_scopes_are_checked_against_every_enclosing_scope() -> None:
    branch = _machine({"M": _map_assigning({"top": 1}), "After": PASS_END})
    definition = _machine({
        "Start": {"Type": "Pass", "Assign": {"top": 0}, "Next": "P"},
        "P": {"Type": "Parallel", "End": True, "Branches": [branch]},
    })
    assert [location for _, location in _messages(definition)] == [
        "/States/P/Branches/0/States/M/ItemProcessor/States/I/Assign"]


def test_sibling_scopes_and_an_outer_catcher_may_share_names() -> None:
    # corpus assign/test_base_parallel_cases: three branches all assign `innerX`; and "the
    # Assign field in a Catch can assign values to variables in the outer scope".
    branches = [{"StartAt": name, "States": {name: _pass_assign({"innerX": 1})}}
                for name in ("B1", "B2")]
    definition = _machine({
        "P": {"Type": "Parallel", "End": True, "Branches": branches,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "E", "Assign": {"seen": 1}}]},
        "E": _pass_assign({"seen": 2}),
    })
    assert _codes(definition) == []


def _jsonata_state(kind: str, **fields: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "Task": {"Resource": "arn:aws:states:::lambda:invoke"},
        "Parallel": {"Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}]},
        "Map": {"ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}},
        "Pass": {}, "Wait": {"Seconds": 1},
    }[kind]
    return {"Type": kind, "End": True, **extra, **fields}


@pytest.mark.parametrize("kind", ["Task", "Parallel", "Map"])
@pytest.mark.parametrize("field", ["Output", "Assign"])
def test_states_result_is_readable_in_output_and_assign_of_states_with_a_result(
        kind: str, field: str) -> None:
    value = "{% $states.result %}" if field == "Output" else {"r": "{% $states.result.x %}"}
    assert _codes(_one(_jsonata_state(kind, **{field: value}), **JSONATA)) == []


@pytest.mark.parametrize(("kind", "field"), [("Pass", "Output"), ("Wait", "Assign"),
                                             ("Task", "Arguments"), ("Map", "ItemSelector")])
def test_states_result_elsewhere_is_caught_at_validation(kind: str, field: str) -> None:
    # "Attempting to access $states.result or $states.errorOutput in fields and states where
    # they are not accessible will be caught at creation, update, or validation."
    state = _jsonata_state(kind, **{field: {"v": "{% $count([$states.result]) %}"}})
    assert _messages(_one(state, **JSONATA)) == [(
        f"The JSONata expression '$count([$states.result])' specified for the field '{field}' "
        "references '$states.result', which is not available in this field",
        f"/States/S/{field}")]


def test_states_error_output_only_in_a_catcher() -> None:
    catcher = {"ErrorEquals": ["States.ALL"], "Next": "E",
               "Output": "{% $states.errorOutput %}",
               "Assign": {"why": "{% $states.errorOutput.Cause %}"}}
    ok = _machine({"T": _jsonata_state("Task", Catch=[catcher]), "E": PASS_END}, **JSONATA)
    assert _codes(ok) == []
    in_state = _one(_jsonata_state("Task", Output="{% $states.errorOutput %}"), **JSONATA)
    assert _messages(in_state)[0][1] == "/States/S/Output"
    in_catcher = {**catcher, "Output": "{% $states.result %}"}
    bad = _machine({"T": _jsonata_state("Task", Catch=[in_catcher]), "E": PASS_END}, **JSONATA)
    assert _messages(bad)[0][1] == "/States/T/Catch/0/Output"


def test_states_fields_in_choice_rules_are_unavailable() -> None:
    choice = {"Type": "Choice", "Default": "D", "Choices": [
        {"Condition": "{% true %}", "Next": "D", "Output": "{% $states.errorOutput %}"}]}
    assert _messages(_machine({"C": choice, "D": PASS_END}, **JSONATA))[0][1] == \
        "/States/C/Choices/0/Output"


def test_states_input_and_context_are_readable_everywhere() -> None:
    state = _jsonata_state("Pass", Output="{% [$states.input, $states.context, $states] %}")
    assert _codes(_one(state, **JSONATA)) == []
