from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.dataflow.conditions import (
    compile_choice_rule,
    glob_segments,
    is_timestamp,
    parse_timestamp,
)
from runtime.dataflow.scope import Scope
from runtime.errors import RUNTIME, AslError, StatesError

CASES = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "cases"

# One value of every JSON kind, including the ones Python conflates (bool/int, 0/0.0/False).
KINDS: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    "zero": 0,
    "float": 1.5,
    "empty": "",
    "text": "HelloWorld",
    "timestamp": "2012-10-09T19:00:55Z",
    "list": [1],
    "object": {"A": 0},
}


def evaluate(rule: dict[str, Any], value: Any = None, **fields: Any) -> bool:
    """Evaluate `rule` against the input {"v": value, **fields}."""
    return compile_choice_rule(rule)(Scope({"v": value, **fields}))


def kinds_matching(rule: dict[str, Any]) -> set[str]:
    return {name for name, value in KINDS.items() if evaluate(rule, value)}


# --- structure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param({"Variable": "$.v", "Next": "X"}, id="no-operator"),
        pytest.param({"Variable": "$.v", "StringEquals": "a", "IsNull": True}, id="two-operators"),
        pytest.param({"StringEquals": "a"}, id="no-variable"),
        pytest.param({"Variable": 3, "StringEquals": "a"}, id="variable-not-a-string"),
        pytest.param({"Variable": "v", "StringEquals": "a"}, id="variable-not-a-path"),
        pytest.param({"Variable": "$.v", "StringEquals": 1}, id="string-operand-number"),
        pytest.param({"Variable": "$.v", "NumericEquals": "1"}, id="numeric-operand-string"),
        pytest.param({"Variable": "$.v", "NumericEquals": True}, id="numeric-operand-bool"),
        pytest.param({"Variable": "$.v", "BooleanEquals": 1}, id="boolean-operand-number"),
        pytest.param({"Variable": "$.v", "IsNull": "true"}, id="is-operand-string"),
        pytest.param({"Variable": "$.v", "IsPresent": 1}, id="is-present-operand-number"),
        pytest.param({"Variable": "$.v", "StringMatches": None}, id="matches-operand-null"),
        pytest.param({"Variable": "$.v", "TimestampEquals": "2012-10-09"}, id="bad-timestamp"),
        pytest.param({"Variable": "$.v", "TimestampEquals": 0}, id="timestamp-number"),
        pytest.param({"Variable": "$.v", "StringEqualsPath": 3}, id="path-operand-number"),
        pytest.param({"Variable": "$.v", "StringEqualsPath": "v"}, id="path-operand-no-dollar"),
        pytest.param({"Variable": "$.v", "StringMatchesPath": "$.p"}, id="no-matches-path"),
        pytest.param({"Variable": "$.v", "StringEquals": "a", "Extra": 1}, id="unknown-field"),
        pytest.param({"And": []}, id="empty-and"),
        pytest.param({"Or": {"Variable": "$.v", "IsNull": True}}, id="or-not-a-list"),
        pytest.param({"And": ["rule"]}, id="and-element-not-object"),
        pytest.param({"Not": [{"Variable": "$.v", "IsNull": True}]}, id="not-a-list"),
        pytest.param({"And": [{"Variable": "$.v", "IsNull": True}], "Variable": "$.v"},
                     id="variable-on-composite"),
        pytest.param({"Not": {"Variable": "$.v", "IsNull": True, "Next": "X"}},
                     id="next-inside-not"),
        pytest.param({"Or": [{"Variable": "$.v", "IsNull": True, "Assign": {}}]},
                     id="assign-inside-or"),
    ],
)
def test_malformed_rule_is_an_invalid_definition(rule: dict[str, Any]) -> None:
    with pytest.raises(AslError) as raised:
        compile_choice_rule(rule)
    assert raised.value.code == "InvalidDefinition"


def test_invalid_definition_names_the_location() -> None:
    with pytest.raises(AslError) as raised:
        compile_choice_rule({"And": [{"Variable": "$.v"}]}, location="/States/C/Choices/2")
    assert raised.value.message.startswith(
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
    )
    assert raised.value.message.endswith(" at /States/C/Choices/2/And/0'")


def test_top_level_next_comment_assign_are_ignored() -> None:
    rule = {"Variable": "$.v", "IsNull": True, "Next": "X", "Comment": "c", "Assign": {"a": 1}}
    assert evaluate(rule, None)


def test_nested_comment_is_allowed() -> None:
    assert evaluate({"Not": {"Variable": "$.v", "IsNull": False, "Comment": "c"}}, None)


# --- missing values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.missing", "StringEquals": "a"},
        {"Variable": "$.missing", "NumericEquals": 1},
        {"Variable": "$.missing", "IsNull": True},
        {"Variable": "$.missing", "IsString": False},
        {"Variable": "$.missing", "BooleanEqualsPath": "$.v"},
        {"Not": {"Variable": "$.missing", "IsTimestamp": True}},
    ],
)
def test_missing_variable_fails_with_states_runtime(rule: dict[str, Any]) -> None:
    # AWS: "If the state input doesn't contain the $.type field, the execution fails".
    with pytest.raises(StatesError) as raised:
        evaluate(rule, "a")
    assert raised.value.error == RUNTIME
    assert raised.value.cause == (
        "Invalid path '$.missing': The choice state's condition path references an invalid value."
    )


def test_missing_path_operand_fails_naming_the_operand() -> None:
    with pytest.raises(StatesError) as raised:
        evaluate({"Variable": "$.v", "StringEqualsPath": "$.other"}, "a")
    assert raised.value.error == RUNTIME
    assert raised.value.cause.startswith("Invalid path '$.other': ")


def test_missing_variable_is_reported_before_missing_operand() -> None:
    with pytest.raises(StatesError) as raised:
        evaluate({"Variable": "$.nope", "NumericEqualsPath": "$.other"})
    assert "'$.nope'" in raised.value.cause


def test_is_present() -> None:
    assert evaluate({"Variable": "$.v", "IsPresent": True}, None)
    assert not evaluate({"Variable": "$.v", "IsPresent": False}, None)
    assert not evaluate({"Variable": "$.w", "IsPresent": True})
    assert evaluate({"Variable": "$.w", "IsPresent": False})
    assert evaluate({"Variable": "$.v[3]", "IsPresent": False}, [1])


def test_and_short_circuits_so_is_present_guards_a_comparison() -> None:
    # The documented guard idiom must not fail on the absent value it guards against.
    rule = {"And": [{"Variable": "$.w", "IsPresent": True},
                    {"Variable": "$.w", "StringEquals": "x"}]}
    assert not evaluate(rule)
    either = {"Or": [{"Variable": "$.w", "IsPresent": False},
                     {"Variable": "$.w", "StringEquals": "x"}]}
    assert evaluate(either)
    three = {"And": [{"Variable": "$.v", "IsNull": True}, {"Variable": "$.w", "IsPresent": True},
                     {"Variable": "$.w", "NumericEquals": 1}]}
    assert not evaluate(three, None)


# --- type tests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "kinds"),
    [
        ("IsNull", {"null"}),
        ("IsBoolean", {"true", "false"}),
        ("IsNumeric", {"zero", "float"}),
        ("IsString", {"empty", "text", "timestamp"}),
        ("IsTimestamp", {"timestamp"}),
    ],
)
def test_type_tests(operator: str, kinds: set[str]) -> None:
    assert kinds_matching({"Variable": "$.v", operator: True}) == kinds
    assert kinds_matching({"Variable": "$.v", operator: False}) == set(KINDS) - kinds


# --- booleans ------------------------------------------------------------------------------


def test_boolean_equals_matches_only_booleans() -> None:
    assert kinds_matching({"Variable": "$.v", "BooleanEquals": True}) == {"true"}
    assert kinds_matching({"Variable": "$.v", "BooleanEquals": False}) == {"false"}


@pytest.mark.parametrize("other", [True, False, 0, 1, "true", None])
def test_boolean_equals_path(other: Any) -> None:
    rule = {"Variable": "$.v", "BooleanEqualsPath": "$.o"}
    for value in (True, False, 0, 1, None, "true"):
        expected = type(value) is bool and type(other) is bool and value == other
        assert evaluate(rule, value, o=other) is expected


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("NumericEquals", 1, True),
        ("NumericEquals", 1.0, True),
        ("NumericEquals", 1.1, False),
        ("NumericGreaterThan", 1, False),
        ("NumericGreaterThan", 1.5, True),
        ("NumericGreaterThanEquals", 1, True),
        ("NumericGreaterThanEquals", 0, False),
        ("NumericLessThan", 0, True),
        ("NumericLessThan", 1.0, False),
        ("NumericLessThanEquals", 1.0, True),
        ("NumericLessThanEquals", 2, False),
    ],
)
def test_numeric_comparisons(operator: str, value: Any, expected: bool) -> None:
    assert evaluate({"Variable": "$.v", operator: 1}, value) is expected
    assert evaluate({"Variable": "$.v", f"{operator}Path": "$.o"}, value, o=1) is expected


@pytest.mark.parametrize("operator", ["NumericEquals", "NumericLessThanEquals",
                                      "NumericGreaterThanEquals"])
def test_booleans_and_strings_are_not_numbers(operator: str) -> None:
    # True == 1 and False == 0 in Python; never in Step Functions.
    assert kinds_matching({"Variable": "$.v", operator: 1}) & {"true", "false"} == set()
    assert kinds_matching({"Variable": "$.v", operator: 0}) & {"true", "false"} == set()
    assert not evaluate({"Variable": "$.v", operator: 1}, "1")
    assert not evaluate({"Variable": "$.v", f"{operator}Path": "$.o"}, 1, o=True)
    assert not evaluate({"Variable": "$.v", f"{operator}Path": "$.o"}, 1, o="1")


def test_numeric_equals_with_float_operand() -> None:
    assert evaluate({"Variable": "$.v", "NumericEquals": 2.22}, 2.22)
    assert evaluate({"Variable": "$.v", "NumericEquals": 0.0}, 0)


# --- strings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("StringEquals", "AB", True),
        ("StringEquals", "AB ", False),
        ("StringGreaterThan", "ABC", True),
        ("StringGreaterThan", "AB", False),
        ("StringGreaterThan", "B", True),
        ("StringGreaterThanEquals", "AB", True),
        ("StringGreaterThanEquals", "A", False),
        ("StringLessThan", "A", True),
        ("StringLessThan", "", True),
        ("StringLessThan", "AB", False),
        ("StringLessThanEquals", "AB", True),
        ("StringLessThanEquals", "a", False),
    ],
)
def test_string_comparisons(operator: str, value: str, expected: bool) -> None:
    assert evaluate({"Variable": "$.v", operator: "AB"}, value) is expected
    assert evaluate({"Variable": "$.v", f"{operator}Path": "$.o"}, value, o="AB") is expected


@pytest.mark.parametrize("operator", ["StringEquals", "StringLessThan", "StringGreaterThan"])
def test_string_operators_ignore_other_types(operator: str) -> None:
    matching = kinds_matching({"Variable": "$.v", operator: "HelloWorld"})
    assert matching <= {"empty", "text", "timestamp"}
    assert not evaluate({"Variable": "$.v", f"{operator}Path": "$.o"}, "1", o=1)


def test_string_order_is_java_utf16_order() -> None:
    # AWS documents Java's String.compareTo: U+1F600 is the surrogate pair D83D DE00, which
    # sorts before U+FF01 although its code point is larger.
    emoji, fullwidth = "\U0001f600", "\uff01"
    assert evaluate({"Variable": "$.v", "StringLessThan": fullwidth}, emoji)
    assert evaluate({"Variable": "$.v", "StringGreaterThanPath": "$.o"}, fullwidth, o=emoji)
    assert evaluate({"Variable": "$.v", "StringLessThan": "é"}, "e")
    assert evaluate({"Variable": "$.v", "StringGreaterThan": "a"}, "é")


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("log-*.txt", "log-2024.txt", True),
        ("log-*.txt", "log-.txt", True),
        ("log-*.txt", "log-2024.csv", False),
        ("*", "", True),
        ("*", "anything\nat all", True),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYbZc", True),
        ("a*b*c", "acb", False),
        ("ab*ba", "aba", False),
        ("a*b*b", "ab", False),  # the middle segment may not overlap the tail
        ("*x*x", "x", False),
        ("*.*", "no-dot", False),
        (r"a\*b", "a*b", True),
        (r"a\*b", "aXb", False),
        (r"a\\*", "a\\tail", True),
        (r"a\\*", "atail", False),
        (r"a\x", "a\\x", True),
        ("a?c", "abc", False),
        ("[ab]", "a", False),
        ("", "", True),
        ("", "a", False),
    ],
)
def test_string_matches(pattern: str, value: str, expected: bool) -> None:
    assert evaluate({"Variable": "$.v", "StringMatches": pattern}, value) is expected


def test_string_matches_ignores_non_strings() -> None:
    assert kinds_matching({"Variable": "$.v", "StringMatches": "*"}) == {
        "empty", "text", "timestamp"}


def escape_glob(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*")


@given(st.text())
def test_escaped_literal_matches_itself(text: str) -> None:
    assert glob_segments(escape_glob(text)) == [text]
    assert evaluate({"Variable": "$.v", "StringMatches": escape_glob(text)}, text)


@given(st.text(), st.text())
def test_escaped_literal_matches_only_itself(text: str, other: str) -> None:
    matched = evaluate({"Variable": "$.v", "StringMatches": escape_glob(text)}, other)
    assert matched is (text == other)


@settings(max_examples=500)
@given(st.lists(st.text(alphabet="ab*\\", max_size=3), min_size=1, max_size=4),
       st.text(alphabet="ab*\\"))
def test_wildcards_agree_with_a_regular_expression(pieces: list[str], value: str) -> None:
    pattern = "*".join(escape_glob(piece) for piece in pieces)
    reference = re.compile(".*".join(re.escape(piece) for piece in pieces), re.DOTALL)
    matched = evaluate({"Variable": "$.v", "StringMatches": pattern}, value)
    assert matched is (reference.fullmatch(value) is not None)


# --- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2016-03-14T01:59:00Z",
        "2016-03-14T01:59:00.5Z",
        "2016-03-14T01:59:00.123456789Z",
        "2016-03-14T01:59:00+01:00",
        "2016-03-14T01:59:00-07:30",
        "2016-03-14T01:59:00.25-00:00",
        "2016-02-29T23:59:59Z",
        "2016-03-14T01:59:00+18:00",
    ],
)
def test_rfc3339_timestamps(text: str) -> None:
    assert is_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "2016-03-14T01:59:00",  # no offset
        "2016-03-14",
        "2016-03-14 01:59:00Z",
        "2016-03-14t01:59:00Z",  # the guide requires an uppercase T
        "2016-03-14T01:59:00z",  # ... and an uppercase Z
        "2016-03-14T01:59Z",
        "2016-03-14T01:59:00.Z",
        "2016-03-14T01:59:00.1234567890Z",
        "2016-03-14T01:59:00+0100",
        "2016-03-14T01:59:00+01",
        "2016-03-14T01:59:00+19:00",
        "2016-13-14T01:59:00Z",
        "2015-02-29T01:59:00Z",
        "2016-04-31T01:59:00Z",
        "2016-03-14T24:00:00Z",
        "2016-03-14T01:60:00Z",
        "2016-03-14T01:59:60Z",
        "16-03-14T01:59:00Z",
        " 2016-03-14T01:59:00Z",
        "\uff12\uff10\uff11\uff16-03-14T01:59:00Z",  # fullwidth digits
        "",
    ],
)
def test_not_timestamps(text: str) -> None:
    assert not is_timestamp(text)


def test_timestamps_compare_instants() -> None:
    assert parse_timestamp("2012-10-09T20:00:55+01:00") == parse_timestamp("2012-10-09T19:00:55Z")
    assert parse_timestamp("1970-01-01T00:00:00Z") == 0
    assert parse_timestamp("1970-01-01T00:00:00.000000001Z") == 1
    assert parse_timestamp("1969-12-31T23:00:00-01:00") == 0
    rule = {"Variable": "$.v", "TimestampEquals": "2012-10-09T19:00:55Z"}
    assert evaluate(rule, "2012-10-09T21:00:55+02:00")
    assert evaluate(rule, "2012-10-09T19:00:55.000Z")
    assert not evaluate(rule, "2012-10-09T19:00:55.001Z")


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("TimestampEquals", "2012-10-09T19:00:55Z", True),
        ("TimestampGreaterThan", "2012-10-09T19:00:55.1Z", True),
        ("TimestampGreaterThan", "2012-10-09T19:00:55Z", False),
        ("TimestampGreaterThanEquals", "2012-10-09T19:00:55Z", True),
        ("TimestampGreaterThanEquals", "2012-10-09T19:00:54Z", False),
        ("TimestampLessThan", "2012-10-09T19:00:55+00:01", True),
        ("TimestampLessThan", "2012-10-09T19:00:55Z", False),
        ("TimestampLessThanEquals", "2012-10-09T19:00:55Z", True),
        ("TimestampLessThanEquals", "2012-10-09T19:00:55-00:01", False),
    ],
)
def test_timestamp_comparisons(operator: str, value: str, expected: bool) -> None:
    when = "2012-10-09T19:00:55Z"
    assert evaluate({"Variable": "$.v", operator: when}, value) is expected
    assert evaluate({"Variable": "$.v", f"{operator}Path": "$.o"}, value, o=when) is expected


@pytest.mark.parametrize("operator", ["TimestampEquals", "TimestampLessThanEquals",
                                      "TimestampGreaterThanEquals"])
def test_timestamp_operators_never_match_non_timestamps(operator: str) -> None:
    assert kinds_matching({"Variable": "$.v", operator: "2012-10-09T19:00:55Z"}) == {"timestamp"}
    path_rule = {"Variable": "$.v", f"{operator}Path": "$.o"}
    assert not evaluate(path_rule, "2012-10-09T19:00:55Z", o="not a timestamp")
    assert not evaluate(path_rule, "2012-10-09T19:00:55Z", o=0)


# --- composites and roots ------------------------------------------------------------------


def test_and_or_not() -> None:
    twenties = {"And": [{"Variable": "$.v", "NumericGreaterThanEquals": 20},
                        {"Variable": "$.v", "NumericLessThan": 30}]}
    assert evaluate(twenties, 22)
    assert not evaluate(twenties, 30)
    outside = {"Not": twenties}
    assert evaluate(outside, 19)
    edges = {"Or": [{"Variable": "$.v", "NumericEquals": 0}, {"Variable": "$.v", "IsNull": True},
                    {"Variable": "$.v", "StringEquals": "none"}]}
    assert [evaluate(edges, value) for value in (0, None, "none", 1)] == [True] * 3 + [False]
    assert evaluate({"And": [{"Variable": "$.v", "IsString": True}]}, "single")


def test_context_and_variable_roots() -> None:
    rule = compile_choice_rule({"Variable": "$$.Execution.Input.n", "NumericLessThanEquals": 0})
    assert rule(Scope({}, context={"Execution": {"Input": {"n": 0}}}))
    guess = compile_choice_rule({"Variable": "$guess", "StringEqualsPath": "$answer"})
    assert guess(Scope({}, variables={"guess": "42", "answer": "42"}))
    assert not guess(Scope({}, variables={"guess": "41", "answer": "42"}))
    with pytest.raises(StatesError):
        guess(Scope({}, variables={"answer": "42"}))


def test_whole_input_and_nested_paths() -> None:
    assert compile_choice_rule({"Variable": "$", "NumericEquals": 3})(Scope(3))
    rule = compile_choice_rule({"Variable": "$.a.b[1]", "StringEquals": "x"})
    assert rule(Scope({"a": {"b": ["w", "x"]}}))


def test_rule_does_not_mutate_its_input() -> None:
    value = {"v": [1, {"a": "2012-10-09T19:00:55Z"}]}
    snapshot = json.dumps(value)
    evaluate({"Or": [{"Variable": "$.v[1].a", "TimestampLessThan": "2013-01-01T00:00:00Z"},
                     {"Variable": "$.v", "IsNull": True}]}, value["v"])
    assert json.dumps(value) == snapshot


# --- numeric consistency -------------------------------------------------------------------

NUMBERS = st.one_of(st.integers(-(2**60), 2**60),
                    st.floats(allow_nan=False, allow_infinity=False))
ORDERINGS = ("Equals", "GreaterThan", "GreaterThanEquals", "LessThan", "LessThanEquals")


def numeric_outcomes(value: Any, operand: Any) -> dict[str, bool]:
    return {
        ordering: evaluate({"Variable": "$.v", f"Numeric{ordering}": operand}, value)
        for ordering in ORDERINGS
    }


@given(NUMBERS, NUMBERS)
def test_numeric_operators_are_consistent(value: Any, operand: Any) -> None:
    outcome = numeric_outcomes(value, operand)
    assert [outcome["LessThan"], outcome["Equals"], outcome["GreaterThan"]].count(True) == 1
    assert outcome["LessThanEquals"] is (outcome["LessThan"] or outcome["Equals"])
    assert outcome["GreaterThanEquals"] is (outcome["GreaterThan"] or outcome["Equals"])
    mirrored = numeric_outcomes(operand, value)
    assert mirrored["LessThan"] is outcome["GreaterThan"]
    for ordering in ORDERINGS:
        path_rule = {"Variable": "$.v", f"Numeric{ordering}Path": "$.o"}
        assert evaluate(path_rule, value, o=operand) is outcome[ordering]


@given(st.integers(-(2**53), 2**53))
def test_integer_equals_its_float(number: int) -> None:
    assert evaluate({"Variable": "$.v", "NumericEquals": float(number)}, number)
    assert evaluate({"Variable": "$.v", "NumericEqualsPath": "$.o"}, float(number), o=number)


@given(NUMBERS, st.booleans())
def test_booleans_never_compare_as_numbers(operand: Any, flag: bool) -> None:
    assert not any(numeric_outcomes(flag, operand).values())


# --- the AWS-recorded corpus ---------------------------------------------------------------


def choose(state: dict[str, Any], scope: Scope) -> str | None:
    """The Choice state's next state: the first matching rule's Next, else Default."""
    for rule in state["Choices"]:
        if compile_choice_rule(rule)(scope):
            return str(rule["Next"])
    return state.get("Default")


def recorded_next(case: dict[str, Any]) -> tuple[str, Any, str] | None:
    """(choice state, its input, the state AWS entered next), read from the history."""
    entered = [event for event in case["history"] if event["type"].endswith("StateEntered")]
    for event, following in itertools.pairwise(entered):
        if event["type"] == "ChoiceStateEntered":
            details = event["stateEnteredEventDetails"]
            taken = following["stateEnteredEventDetails"]["name"]
            return details["name"], details["input"], taken
    return None


def branch_from_output(case: dict[str, Any]) -> str:
    """choice_operators cases record no history: each branch is a Pass with its own Result."""
    states = case["definition"]["States"]
    names = [name for name, state in states.items()
             if state["Type"] == "Pass" and state.get("Result") == case["expected"]["output"]]
    assert len(names) == 1, case["id"]
    return str(names[0])


def load(pattern: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for file in sorted(CASES.glob(pattern)):
        cases.extend(json.loads(file.read_text()))
    return cases


corpus = pytest.mark.skipif(not CASES.is_dir(), reason="conformance corpus not available")


@corpus
def test_choice_operators_corpus() -> None:
    cases = load("choice_operators__*.json")
    mismatches = []
    for case in cases:
        definition = case["definition"]
        taken = choose(definition["States"][definition["StartAt"]], Scope(case["input"]))
        expected = branch_from_output(case)
        if taken != expected:
            mismatches.append(f"{case['id']}: took {taken}, AWS took {expected}")
    assert len(cases) >= 385
    assert not mismatches, f"{len(cases) - len(mismatches)}/{len(cases)} matched: {mismatches}"


@corpus
def test_jsonpath_choice_scenarios_corpus() -> None:
    cases = [case for case in load("scenarios__*choice*.json") + load("context_object__*.json")
             if case["query_language"] == "JSONPath" and case["kind"] == "execution"]
    checked = 0
    for case in cases:
        recorded = recorded_next(case)
        if recorded is None:
            continue
        name, state_input, expected = recorded
        context = {"Execution": {"Input": case["input"]}}
        assert choose(case["definition"]["States"][name], Scope(state_input, context=context)) \
            == expected, case["id"]
        checked += 1
    assert checked >= 4
