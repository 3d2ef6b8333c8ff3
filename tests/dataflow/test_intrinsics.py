"""Intrinsic functions: parser, each States.* function, AWS error wording, corpus replay."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.dataflow.intrinsics import FUNCTIONS, compile_intrinsic, is_intrinsic
from runtime.dataflow.paths import compile_output_path, compile_result_path
from runtime.dataflow.scope import Scope
from runtime.errors import RUNTIME, AslError, StatesError

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "cases"


def run(expr: str, value: Any = None, **scope_options: Any) -> Any:
    return compile_intrinsic(expr)(Scope({} if value is None else value, **scope_options))


def failure(expr: str, value: Any = None, **scope_options: Any) -> StatesError:
    with pytest.raises(StatesError) as caught:
        run(expr, value, **scope_options)
    assert caught.value.error == RUNTIME
    return caught.value


def invalid_arguments(expr: str, value: Any = None) -> None:
    name = expr[:expr.index("(")]
    assert failure(expr, value).cause == (
        f"There was an error while evaluating the intrinsic function: {expr}. "
        f"Invalid arguments in {name}")


# --- parser -----------------------------------------------------------------------------------

def test_function_table_is_immutable_and_complete() -> None:
    assert len(FUNCTIONS) == 18
    with pytest.raises(TypeError):
        FUNCTIONS["States.Evil"] = FUNCTIONS["States.Array"]  # type: ignore[index]


def test_literals_of_every_kind() -> None:
    assert run("States.Array('a', 1, -2, 1.5, 2e3, true, false, null)") == [
        "a", 1, -2, 1.5, 2000.0, True, False, None]
    assert run("States.Array()") == []


def test_whitespace_between_tokens_is_ignored() -> None:
    assert run("States.Array( $.a ,$.b , States.Array ( ) )", {"a": 1, "b": 2}) == [1, 2, []]


def test_aws_documented_escapes_in_string_literals() -> None:
    assert run(r"States.Array('it\'s', '\{\}', 'back\\slash', '{raw}')") == [
        "it's", "{}", "back\\slash", "{raw}"]


def test_paths_of_every_root() -> None:
    scope: dict[str, Any] = {"variables": {"count": 3},
                             "context": {"Execution": {"Name": "run-1"}}}
    assert run("States.Array($, $.a[1], $count, $$.Execution.Name)", {"a": [0, 9]},
               **scope) == [{"a": [0, 9]}, 9, 3, "run-1"]


def test_path_argument_with_filter_keeps_its_commas_and_parentheses() -> None:
    value = {"items": [{"k": "a,b"}, {"k": "c"}]}
    assert run("States.ArrayLength($.items[?(@.k == 'a,b')])", value) == 1


@pytest.mark.parametrize("expr", [
    "States.Nope()", "States.Array(", "States.Array(1.)", "States.Array(.5)",
    "States.Array([1,2])", "States.Array($.a) trailing", "States.Array('open)",
    r"States.Format('line\n')", "States.Array(1,)", "States.Array(True)", "$.a",
    "States.Array($.a[)",
])
def test_syntax_errors_are_definition_errors(expr: str) -> None:
    with pytest.raises(AslError) as caught:
        compile_intrinsic(expr)
    assert caught.value.code == "InvalidDefinition"


def test_is_intrinsic() -> None:
    assert is_intrinsic("States.Format('x')")
    assert is_intrinsic("States.UUID()")
    assert not is_intrinsic("$.States.Format")
    assert not is_intrinsic("States.Format")
    assert not is_intrinsic("$")


# --- States.Format ----------------------------------------------------------------------------

def test_format_renders_values_like_aws() -> None:
    value = {"s": "x", "n": None, "b": False, "i": -1, "f": 3.5,
             "o": {"Arg1": 1, "Arg2": [], "s": "t"}, "l": [1, "a", None]}
    assert run("States.Format('{}|{}|{}|{}|{}|{}|{}', $.s, $.n, $.b, $.i, $.f, $.o, $.l)",
               value) == "x|null|false|-1|3.5|{Arg1=1, Arg2=[], s=t}|[1, a, null]"


def test_format_escaped_braces_are_literal_text() -> None:
    assert run(r"States.Format('\{\} {} \\', 'v')") == "{} v \\"


def test_format_template_from_a_path() -> None:
    assert run("States.Format($.t, $.n)", {"t": "Hello, my name is {}.", "n": "Arnav"}) == \
        "Hello, my name is Arnav."


@pytest.mark.parametrize(("template", "detail"), [
    ("Hello {", "matching '}' not found for '{'."),
    ("Hello {{}}", "matching '}' not found for '{'."),
    ("}", "matching '{' not found for '}'."),
])
def test_format_invalid_templates_fail_at_run_time(template: str, detail: str) -> None:
    args = "" if "{" not in template else ", 'x'"
    expr = f"States.Format('{template}'{args})"
    assert failure(expr).cause == (
        f"There was an error while evaluating the intrinsic function: {expr}. "
        f"Invalid template in States.Format: {detail}")


def test_format_dynamic_template_is_validated_too() -> None:
    assert "matching '}' not found" in failure("States.Format($.t)", {"t": "{x"}).cause


@pytest.mark.parametrize("expr", ["States.Format('{} {}', 'a')", "States.Format('{}', 1, 2)",
                                  "States.Format()", "States.Format(1)"])
def test_format_argument_count_and_type(expr: str) -> None:
    invalid_arguments(expr)


# --- JSON manipulation ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "parsed"), [
    ('{"a": [1, "x"]}', {"a": [1, "x"]}), ("-0", 0), ("1.1", 1.1), ("null", None),
    ("", None), ("  ", None), (' {"a":1} ', {"a": 1}),
])
def test_string_to_json(text: str, parsed: Any) -> None:
    assert run("States.StringToJson($.s)", {"s": text}) == parsed


def test_string_to_json_rejects_invalid_json_with_awss_prefix() -> None:
    cause = failure("States.StringToJson($.s)", {"s": "{bad json}"}).cause
    assert cause.startswith(
        "There was an error while evaluating the intrinsic function: "
        "States.StringToJson($.s). Cannot convert String to Json in States.StringToJson, "
        "caused by: ")
    failure("States.StringToJson($.s)", {"s": "NaN"})
    invalid_arguments("States.StringToJson($.s)", {"s": 123})


def test_json_to_string_is_compact_in_input_key_order() -> None:
    value = {"o": {"z": 1, "a": [True, None], "é": "ü"}}
    assert run("States.JsonToString($.o)", value) == '{"z":1,"a":[true,null],"é":"ü"}'
    assert run("States.JsonToString('x')") == '"x"'
    invalid_arguments("States.JsonToString()")


def test_json_merge_is_shallow_and_right_biased() -> None:
    value = {"a": {"x": {"deep": 1}, "k": 1}, "b": {"x": {"other": 2}}}
    assert run("States.JsonMerge($.a, $.b, false)", value) == {"x": {"other": 2}, "k": 1}
    assert value["a"] == {"x": {"deep": 1}, "k": 1}


def test_json_merge_rejects_deep_mode_and_non_objects() -> None:
    invalid_arguments("States.JsonMerge($.a, $.b, true)", {"a": {}, "b": {}})
    invalid_arguments("States.JsonMerge($.a, $.b, false)", {"a": [], "b": {}})
    invalid_arguments("States.JsonMerge($.a, $.b)", {"a": {}, "b": {}})


# --- arrays -----------------------------------------------------------------------------------

def test_array_partition() -> None:
    assert run("States.ArrayPartition($.a, 4)", {"a": list(range(1, 10))}) == [
        [1, 2, 3, 4], [5, 6, 7, 8], [9]]
    # AWS truncates a fractional chunk size: 2.6 behaves like 2.
    assert run("States.ArrayPartition($.a, 2.6)", {"a": [1, 2, 3, 4, 5]}) == [[1, 2], [3, 4], [5]]
    for size in ("0", "-1", "0.6", "'2'", "null"):
        invalid_arguments(f"States.ArrayPartition($.a, {size})", {"a": [1]})
    invalid_arguments("States.ArrayPartition('no', 2)")


def test_array_contains_matches_like_aws() -> None:
    value = {"a": [1, {"a": 1, "b": 2}, [3], "true"]}
    assert run("States.ArrayContains($.a, $.t)", {**value, "t": {"a": 1, "b": 2}}) is True
    assert run("States.ArrayContains($.a, $.t)", {**value, "t": [3]}) is True
    # Observed on AWS: object key order matters, and a scalar matches its text.
    assert run("States.ArrayContains($.a, $.t)", {**value, "t": {"b": 2, "a": 1}}) is False
    assert run("States.ArrayContains($.a, true)", value) is True
    assert run("States.ArrayContains($.a, false)", {"a": [0, 1]}) is False
    invalid_arguments("States.ArrayContains('x', 'x')")
    invalid_arguments("States.ArrayContains($.a)", value)


def test_array_range() -> None:
    assert run("States.ArrayRange(1, 9, 2)") == [1, 3, 5, 7, 9]
    assert run("States.ArrayRange(5, 1, -2)") == [5, 3, 1]
    assert run("States.ArrayRange(5, 1, 1)") == []
    assert run("States.ArrayRange(3, 3, -1)") == [3]
    # AWS truncates: (5.4, -0.6, -2.4) behaves like (5, 0, -2).
    assert run("States.ArrayRange(5.4, -0.6, -2.4)") == [5, 3, 1]
    assert len(run("States.ArrayRange(1000, 1, -1)")) == 1000
    for args in ("1, 1001, 1", "1, 10, 0", "1, 10, 0.49", "'a', 5, 1", "1, 5"):
        invalid_arguments(f"States.ArrayRange({args})")


def test_array_get_item() -> None:
    assert run("States.ArrayGetItem($.a, 1)", {"a": [10, 20, 30]}) == 20
    assert run("States.ArrayGetItem($.a, 1.2)", {"a": [10, 20, 30]}) == 20
    # Observed on AWS: an empty array gives null for any index.
    assert run("States.ArrayGetItem($.a, 999)", {"a": []}) is None
    for index in ("3", "-1", "'1'"):
        invalid_arguments(f"States.ArrayGetItem($.a, {index})", {"a": [10, 20, 30]})


def test_array_length_and_unique_need_arrays() -> None:
    assert run("States.ArrayLength($.a)", {"a": [[1], {}, None]}) == 3
    invalid_arguments("States.ArrayLength($.a)", {"a": {"k": 1}})
    invalid_arguments("States.ArrayUnique('x')")


def test_array_unique_follows_java_hash_set_order_as_aws() -> None:
    assert run("States.ArrayUnique($.a)", {"a": [1, 2, 3, 3, 3, 4]}) == [1, 2, 3, 4]
    assert run("States.ArrayUnique($.a)", {"a": ["a", "b", "a", "c"]}) == ["a", "b", "c"]
    # Orders recorded on AWS that are not first-seen order.
    assert run("States.ArrayUnique($.a)", {"a": [True, False, True]}) == [False, True]
    assert run("States.ArrayUnique($.a)", {"a": [[1, 2], [1, 2], [2, 1]]}) == [[2, 1], [1, 2]]
    assert run("States.ArrayUnique($.a)", {"a": [None, None, 1, None]}) == [None, 1]
    assert run("States.ArrayUnique($.a)", {"a": [{"a": 1, "b": 2}, {"b": 2, "a": 1}]}) == [
        {"a": 1, "b": 2}]
    assert run("States.ArrayUnique($.a)", {"a": [1, 1.0, "1"]}) == [1, 1.0, "1"]


# --- encoding, hashing ------------------------------------------------------------------------

def test_base64_round_trip_and_limits() -> None:
    assert run("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU="
    assert run("States.Base64Encode($.s)", {"s": "🚀"}) == "8J+agA=="
    assert run("States.Base64Decode('4pyT')") == "✓"
    assert len(run("States.Base64Encode($.s)", {"s": "a" * 10_000})) == 13_336
    invalid_arguments("States.Base64Encode($.s)", {"s": "a" * 10_001})
    invalid_arguments("States.Base64Decode($.s)", {"s": "A" * 10_001})
    invalid_arguments("States.Base64Encode(123)")
    invalid_arguments("States.Base64Encode('a', 'b')")


def test_base64_decode_is_lenient_like_aws() -> None:
    assert run("States.Base64Decode(' YWJjZA== ')") == "abcd"
    assert run("States.Base64Decode('YWJjZA')") == "abcd"
    assert run("States.Base64Decode('abc')") == "i\ufffd"
    assert isinstance(run("States.Base64Decode('!!!invalid!!!')"), str)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash_algorithms(algorithm: str) -> None:
    digest = hashlib.new(algorithm.replace("-", "").lower(), b"input data").hexdigest()
    assert run(f"States.Hash('input data', '{algorithm}')") == digest


def test_hash_rejections() -> None:
    for algorithm in ("'sha-256'", "'SHA256'", "''", "123"):
        invalid_arguments(f"States.Hash('data', {algorithm})")
    invalid_arguments("States.Hash($.s, 'MD5')", {"s": "a" * 10_001})
    invalid_arguments("States.Hash('data')")
    # AWS hashes the text of a non-string value rather than rejecting it.
    assert run("States.Hash(123, 'MD5')") == hashlib.md5(b"123").hexdigest()


# --- math, strings, identifiers ---------------------------------------------------------------

@pytest.mark.parametrize(("left", "right", "total"), [
    (-9, 3, -6), (1.49, 1.5, 3), (1.5, 1.51, 4), (-1.49, -1.5, -2), (-1.5, -1.51, -3),
    (-0.5, 0.5, 1), (-2.5, 0, -2), (2.5, 0, 3), (2147483646, 1, 2147483647),
])
def test_math_add_rounds_each_operand_half_up(left: float, right: float, total: int) -> None:
    result = run("States.MathAdd($.l, $.r)", {"l": left, "r": right})
    assert result == total
    assert type(result) is int


@pytest.mark.parametrize("args", ["2147483647, 1", "3000000000, 1", "'1', 2", "true, 1",
                                  "null, 1", "1", "1, 2, 3"])
def test_math_add_rejections(args: str) -> None:
    invalid_arguments(f"States.MathAdd({args})")


def test_math_random_with_seed_reproduces_awss_values() -> None:
    # Values recorded on AWS: java.util.Random(seed).nextInt(end - start) + start.
    assert run("States.MathRandom(1, 100, 42)") == 63
    assert run("States.MathRandom(1, 1000, 1)") == 106
    assert run("States.MathRandom(1, 1000, 2)") == 806
    assert 1 <= run("States.MathRandom(1, 10, -10)") < 10


def test_math_random_without_seed_draws_from_the_scope_only() -> None:
    before = random.getstate()
    first = [run("States.MathRandom(-1000000, 1000000)", seed=7) for _ in range(3)]
    assert first == [run("States.MathRandom(-1000000, 1000000)", seed=7) for _ in range(3)]
    assert random.getstate() == before
    assert all(-1000000 <= value < 1000000 for value in first)
    scope = Scope({}, seed=3)
    draw = compile_intrinsic("States.MathRandom(0, 1000000)")
    assert draw(scope) != draw(scope)


def test_math_random_truncates_bounds() -> None:
    assert all(1 <= run("States.MathRandom(1.6, 5.4)", seed=n) < 5 for n in range(50))
    for args in ("1, 1", "10, 5", "1.4, 1.6", "'a', 10", "1, 10, 'seed'", "1, 10, null", "1",
                 "1, 10, 5, 99"):
        invalid_arguments(f"States.MathRandom({args})")


def test_string_split_uses_every_delimiter_character_and_drops_empty_tokens() -> None:
    assert run("States.StringSplit($.s, '.+,')", {"s": "1+2,3.4"}) == ["1", "2", "3", "4"]
    assert run("States.StringSplit($.s, ',')", {"s": ",a,,b,"}) == ["a", "b"]
    assert run("States.StringSplit($.s, ',')", {"s": ""}) == []
    assert run("States.StringSplit('a|b', '|')") == ["a", "b"]
    assert run("States.StringSplit('abc', '')") == ["abc"]
    for args in ("$.n, ','", "'a,b', $.n", "'a'"):
        invalid_arguments(f"States.StringSplit({args})", {"n": None})


def test_uuid_is_a_replayable_version_4_uuid() -> None:
    before = random.getstate()
    value = run("States.UUID()", seed=11)
    assert random.getstate() == before
    assert uuid.UUID(value).version == 4
    assert str(uuid.UUID(value)) == value
    assert run("States.UUID()", seed=11) == value
    assert run("States.UUID()", seed=12) != value
    invalid_arguments("States.UUID(1)")


# --- error wording ----------------------------------------------------------------------------

def test_nested_failure_is_reported_against_the_whole_expression() -> None:
    expr = "States.ArrayLength(States.JsonToString($.items))"
    assert failure(expr, {"items": [1, 2, 3]}).cause == (
        "There was an error while evaluating the intrinsic function: "
        "States.ArrayLength(States.JsonToString($.items)). Invalid arguments in States.ArrayLength")


def test_missing_path_cause() -> None:
    assert failure("States.Base64Encode($.missing)").cause == (
        "The function 'States.Base64Encode($.missing)' had the following error: The JsonPath "
        "argument for the field '$.missing' could not be found in the input '{}'")


# --- properties -------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                  max_size=4),
    max_leaves=12)


def escape(text: str) -> str:
    return "".join("\\" + char if char in "'{}\\" else char for char in text)


@given(st.text())
def test_string_literal_escaping_round_trips(text: str) -> None:
    assert run(f"States.Array('{escape(text)}')") == [text]


@given(st.text())
def test_escaped_format_template_without_placeholders_is_the_text(text: str) -> None:
    assert run(f"States.Format('{escape(text)}')") == text


@given(st.lists(JSON_VALUES, max_size=60), st.integers(1, 70))
def test_array_partition_invariants(items: list[Any], size: int) -> None:
    chunks = run(f"States.ArrayPartition($.a, {size})", {"a": items})
    assert [item for chunk in chunks for item in chunk] == items
    assert all(len(chunk) == size for chunk in chunks[:-1])
    assert all(0 < len(chunk) <= size for chunk in chunks)


@given(st.integers(-5000, 5000), st.integers(-5000, 5000),
       st.integers(-3000, 3000).filter(bool))
def test_array_range_invariants(first: int, last: int, step: int) -> None:
    expected = list(range(first, last + (1 if step > 0 else -1), step))
    expr = f"States.ArrayRange({first}, {last}, {step})"
    if len(expected) > 1000:
        invalid_arguments(expr)
    else:
        assert run(expr) == expected


@given(st.lists(st.text(alphabet="ab,;", max_size=6), max_size=30))
def test_string_split_invariants(tokens: list[str]) -> None:
    text = ",".join(tokens)
    parts = run("States.StringSplit($.s, ',;')", {"s": text})
    assert parts == [token for token in re.split("[,;]", text) if token]
    assert all(parts)


@given(st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=8),
       st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=8))
def test_json_merge_invariants(left: dict[str, Any], right: dict[str, Any]) -> None:
    merged = run("States.JsonMerge($.l, $.r, false)", {"l": left, "r": right})
    assert merged.keys() == left.keys() | right.keys()
    assert all(merged[key] == right[key] for key in right)
    assert all(merged[key] == left[key] for key in left.keys() - right.keys())


@given(JSON_VALUES)
def test_json_to_string_and_back(value: Any) -> None:
    assert run("States.StringToJson(States.JsonToString($.v))", {"v": value}) == value


@given(st.lists(JSON_VALUES, max_size=40))
def test_array_unique_keeps_one_of_each(items: list[Any]) -> None:
    unique = run("States.ArrayUnique($.a)", {"a": items})
    assert all(item in unique for item in items)
    assert all(sum(1 for other in unique if json.dumps(other, sort_keys=True)
                   == json.dumps(item, sort_keys=True)) == 1 for item in unique)


@given(st.text(max_size=200))
def test_base64_round_trip(text: str) -> None:
    encoded = run("States.Base64Encode($.s)", {"s": text})
    assert encoded == base64.b64encode(text.encode()).decode()
    assert run("States.Base64Decode($.s)", {"s": encoded}) == text


# --- corpus -----------------------------------------------------------------------------------

def corpus_cases() -> Iterator[dict[str, Any]]:
    for path in sorted(CORPUS.glob("intrinsic_functions__*.json")):
        yield from json.loads(path.read_text())


def replayable_states(case: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The chain of Pass states with Parameters this test can evaluate, or None."""
    definition = case["definition"]
    if not isinstance(definition, dict) or case["kind"] != "execution":
        return None
    states, name, chain = definition["States"], definition["StartAt"], []
    while True:
        state = states[name]
        if state["Type"] != "Pass" or "Parameters" not in state or \
                state.get("QueryLanguage") == "JSONata" or "InputPath" in state:
            return None
        chain.append(state)
        if state.get("End"):
            return chain
        name = state["Next"]


def payload(template: Any, scope: Scope) -> Any:
    if not isinstance(template, dict):
        return template
    built = {}
    for key, value in template.items():
        if key.endswith(".$") and isinstance(value, str) and value.startswith("States."):
            built[key[:-2]] = compile_intrinsic(value)(scope)
        else:
            assert not key.endswith(".$"), "only intrinsic .$ values are replayed here"
            built[key] = payload(value, scope)
    return built


def context(case_input: Any) -> dict[str, Any]:
    machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:intrinsics-Machine-x1"
    return {"Execution": {"Id": machine_arn.replace("stateMachine", "execution") + ":run-7",
                          "Name": "run-7", "Input": case_input},
            "StateMachine": {"Id": machine_arn, "Name": "intrinsics-Machine-x1"}}


PLACEHOLDER = re.compile(r"<[A-Za-z_:0-9]+>")


def matches(expected: Any, actual: Any) -> bool:
    """The corpus comparison: type-exact JSON, `<Name>` tokens match any text."""
    if isinstance(expected, str) and PLACEHOLDER.search(expected):
        if PLACEHOLDER.fullmatch(expected):
            return True
        pattern = ".*".join(re.escape(part) for part in PLACEHOLDER.split(expected))
        pattern = pattern.replace("111111111111", r"\d{12}")
        return isinstance(actual, str) and re.fullmatch(pattern, actual, re.DOTALL) is not None
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, dict):
        return expected.keys() == actual.keys() and all(
            matches(expected[key], actual[key]) for key in expected)
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(map(matches, expected, actual))
    return bool(expected == actual)


CASES = list(corpus_cases())


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    chain = replayable_states(case)
    if chain is None:
        pytest.skip("not a chain of Pass states whose Parameters hold intrinsics")
    value = case["input"]
    lazy_context = context(case["input"])
    for state in chain:
        scope = Scope(value, context=lambda: lazy_context, seed=1)
        result = payload(state["Parameters"], scope)
        combined = compile_result_path(state.get("ResultPath", "$"))(value, result)
        value = compile_output_path(state.get("OutputPath", "$"))(Scope(combined))
    expected = case["expected"]
    assert expected["status"] == "SUCCEEDED"
    assert matches(expected["output"], value), (expected["output"], value)
