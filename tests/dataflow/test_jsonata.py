from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from runtime.dataflow.jsonata import (
    JsonataDefinitionError,
    QueryEvaluationError,
    compile_jsonata_expression,
    compile_jsonata_value,
    is_jsonata_expression,
    states_fields_read,
)
from runtime.dataflow.scope import JSON, Scope
from runtime.errors import QUERY_EVALUATION_ERROR

CONTEXT = {
    "Execution": {"Id": "arn:aws:states:us-east-1:1:execution:m:e", "Name": "e"},
    "State": {"Name": "S", "EnteredTime": "2024-05-01T10:00:00.123Z"},
}


def evaluate(expression: str, scope: Scope | None = None, *, field: str = "Output") -> JSON:
    evaluator = compile_jsonata_expression("{% " + expression + " %}", field=field)
    return evaluator(scope or Scope({}, context=CONTEXT))


def failure(expression: str, scope: Scope | None = None, *, field: str = "Output") -> str:
    with pytest.raises(QueryEvaluationError) as raised:
        evaluate(expression, scope, field=field)
    assert raised.value.error == QUERY_EVALUATION_ERROR
    assert raised.value.location == field
    return raised.value.cause


# --- what is an expression --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $x %}", True),
        ("{%$x%}", True),
        (" {% states.input %} ", False),  # corpus: outputdecl BASE_LITERALS keeps it verbatim
        ("{% $x", False),
        ("$states.input", False),
        (1, False),
    ],
)
def test_only_strings_exactly_delimited_are_expressions(value: object, expected: bool) -> None:
    assert is_jsonata_expression(value) is expected


def test_constant_template_is_returned_as_is() -> None:
    value = {"a": [1, " {% $x %} ", "$states.input"], "b": {"c": None}}
    assert compile_jsonata_value(value, field="Output")(Scope({})) is value


def test_template_rebuilds_only_containers_holding_expressions() -> None:
    constant = {"deep": [1, 2]}
    template = {"z": "{% $states.input.a %}", "keep": constant, "list": [0, "{% 1 + 1 %}"]}
    result = compile_jsonata_value(template, field="Output")(Scope({"a": "x"}))
    assert result == {"z": "x", "keep": {"deep": [1, 2]}, "list": [0, 2]}
    assert list(result) == ["z", "keep", "list"]
    assert result["keep"] is constant
    assert template["list"] == [0, "{% 1 + 1 %}"]


def test_items_array_template_with_one_expression() -> None:
    # corpus: evaluate_jsonata test_base_map[ITEMS]
    items = compile_jsonata_value([1, '{% $number("2") %}', 3], field="Items")
    assert items(Scope({})) == [1, 2, 3]


# --- bindings -------------------------------------------------------------------------------


def test_states_bindings_and_variables() -> None:
    scope = Scope(
        {"a": 1},
        variables={"v": [1, 2], "nothing": None},
        context=CONTEXT,
        result={"r": True},
        error_output={"Error": "E"},
    )
    assert evaluate("$states.input.a", scope) == 1
    assert evaluate("$states.result.r", scope) is True
    assert evaluate("$states.errorOutput.Error", scope) == "E"
    assert evaluate("$states.context.State.Name", scope) == "S"
    assert evaluate("$sum($v) + $states.input.a", scope) == 4
    assert evaluate("$nothing", scope) is None
    assert evaluate("$type($nothing)", scope) == "null"


def test_result_and_error_output_are_absent_unless_set() -> None:
    assert evaluate("$keys($states)") == ["input", "context"]
    assert "returned nothing" in failure("$states.result")
    assert "returned nothing" in failure("$states.errorOutput.Error")


def test_context_is_built_only_when_the_expression_reads_it() -> None:
    built: list[int] = []

    def context() -> JSON:
        built.append(1)
        return CONTEXT

    scope = Scope({"a": 1}, context=context)
    assert evaluate("$states.input.a + 1", scope) == 2
    assert built == []
    assert evaluate("$states.context.State.Name", scope) == "S"
    assert built == [1]


def test_member_path_over_arrays_maps_like_jsonata() -> None:
    scope = Scope({"items": [{"n": 1}, {"n": 2}], "one": [{"n": 3}]})
    assert evaluate("$states.input.items.n", scope) == [1, 2]
    assert evaluate("$states.input.one.n", scope) == 3


def test_json_null_in_input_is_null_not_undefined() -> None:
    scope = Scope({"n": None, "l": [1, None]})
    assert evaluate("$states.input.n", scope) is None
    assert evaluate("{'x': $states.input.n}", scope) == {"x": None}
    assert evaluate("$states.input.l", scope) == [1, None]


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("6 / 2", 3), ("3 / 2", 1.5), ("[1.0, 2.5]", [1, 2.5]), ('$parse("-0")', 0)],
)
def test_whole_numbers_come_out_as_integers(expression: str, expected: JSON) -> None:
    result = evaluate(expression)
    assert result == expected
    assert json.dumps(result) == json.dumps(expected)


# --- AWS's functions ---------------------------------------------------------------------------


def test_partition_chunks_with_a_shorter_last_chunk() -> None:
    assert evaluate("$partition([1, 2, 3, 4, 5], 2)") == [[1, 2], [3, 4], [5]]
    assert evaluate("$partition([1, 2, 3], 2.9)") == [[1, 2], [3]]  # AWS rounds down
    assert "chunk size" in failure("$partition([1], 0)")


def test_range_includes_the_end_and_steps_either_way() -> None:
    assert evaluate("$range(0, 10, 2)") == [0, 2, 4, 6, 8, 10]
    assert evaluate("$range(5, 1, -2)") == [5, 3, 1]
    assert evaluate("$range(0, 3.7, 1)") == [0, 1, 2, 3]
    assert "step" in failure("$range(0, 3, 0)")


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [("MD5", hashlib.md5), ("SHA-1", hashlib.sha1), ("SHA-256", hashlib.sha256),
     ("SHA-384", hashlib.sha384), ("SHA-512", hashlib.sha512)],
)
def test_hash_supports_the_documented_algorithms(algorithm: str, digest: Any) -> None:
    assert evaluate(f"$hash('input', '{algorithm}')") == digest(b"input").hexdigest()


def test_hash_rejects_other_algorithms() -> None:
    assert "'SHA-3' is not supported" in failure("$hash('a', 'SHA-3')")


def test_random_with_a_seed_repeats_and_without_one_follows_the_scope() -> None:
    seeded = evaluate("$random(42)")
    assert seeded == evaluate("$random(42)")
    assert 0 <= seeded < 1
    first = evaluate("[$random(), $random()]", Scope({}, seed=7))
    assert first == evaluate("[$random(), $random()]", Scope({}, seed=7))
    assert first != evaluate("[$random(), $random()]", Scope({}, seed=8))


def test_uuid_is_version_4_and_replayable() -> None:
    value = evaluate("$uuid()", Scope({}, seed=3))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        value)
    assert value == evaluate("$uuid()", Scope({}, seed=3))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("1.1", 1.1), ("true", True), ('"HelloWorld"', "HelloWorld"),
     ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]), ('{"Arg1": 1, "Arg2": []}',
                                                      {"Arg1": 1, "Arg2": []}), ("null", None)],
)
def test_parse(text: str, expected: JSON) -> None:
    # corpus: intrinsic_functions test_json_manipulation_jsonata::test_parse
    assert evaluate("$parse($states.input.s)", Scope({"s": text})) == expected


def test_parse_rejects_invalid_json() -> None:
    assert "Unable to parse 'nope' as JSON" in failure('$parse("nope")')


def test_eval_is_not_available() -> None:
    # AWS: "$eval is not available - use $parse instead"
    assert "T1006: Attempted to invoke a non-function" in failure('$eval("1 + 1")')


def test_now_and_millis_are_the_state_entered_time() -> None:
    assert evaluate("$now()") == "2024-05-01T10:00:00.123Z"
    assert evaluate("$millis()") == 1714557600123
    assert evaluate("$now('[Y0001]-[M01]-[D01]')") == "2024-05-01"


# --- errors -----------------------------------------------------------------------------------


def test_undefined_output_field() -> None:
    # corpus: assign test_undefined_reference[BASE_UNDEFINED_OUTPUT]
    assert failure("$doesNotExist") == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output' "
        "returned nothing (undefined)."
    )


@pytest.mark.parametrize("field", ["Output", "Assign"])
def test_undefined_inside_an_object_fails_with_the_nested_field(field: str) -> None:
    # corpus: BASE_UNDEFINED_OUTPUT_FIELD / BASE_UNDEFINED_ASSIGN name 'Output/result'
    evaluator = compile_jsonata_value({"result": "{% $doesNotExist %}"}, field=field)
    with pytest.raises(QueryEvaluationError) as raised:
        evaluator(Scope({}))
    assert raised.value.location == f"{field}/result"
    assert raised.value.cause == (
        f"The JSONata expression '$doesNotExist' specified for the field '{field}/result' "
        "returned nothing (undefined)."
    )


def test_array_elements_extend_the_field_with_an_index() -> None:
    evaluator = compile_jsonata_value([1, "{% $nope %}"], field="Items")
    with pytest.raises(QueryEvaluationError) as raised:
        evaluator(Scope({}))
    assert raised.value.location == "Items[1]"


@pytest.mark.parametrize(
    ("value", "ending"),
    [(1, "'number' for value: 1"), ("string", "'string' for value: \"string\""),
     (True, "'boolean' for value: true"), ({"foo": "bar"}, "'object' for value: {\"foo\":\"bar\"}"),
     (None, "'null' for value: null")],
)
def test_items_must_be_an_array(value: JSON, ending: str) -> None:
    # corpus: scenarios test_map_state_items_variable_sampling
    evaluator = compile_jsonata_value("{% $ItemsVar %}", field="Items", expect="array")
    with pytest.raises(QueryEvaluationError) as raised:
        evaluator(Scope({}, variables={"ItemsVar": value}))
    assert raised.value.cause == (
        "The JSONata expression '$ItemsVar' specified for the field 'Items' returned an "
        f"unexpected result type. Expected 'array', but was {ending}"
    )


def test_integer_expectation() -> None:
    seconds = compile_jsonata_value("{% $states.input.s %}", field="Seconds", expect="integer")
    assert seconds(Scope({"s": 5})) == 5
    with pytest.raises(QueryEvaluationError):
        seconds(Scope({"s": 1.5}))


def test_engine_errors_carry_the_jsonata_code_and_jsonata_js_wording() -> None:
    assert failure('$abs("x")') == (
        "The JSONata expression '$abs(\"x\")' specified for the field 'Output' threw an error "
        'during evaluation. T0410: Argument 1 of function "abs" does not match function '
        "signature"
    )
    assert failure('"a" + 1').endswith(
        'T2001: The left side of the "+" operator must evaluate to a number'
    )


def test_a_function_result_is_unsupported() -> None:
    assert failure("function($x) { $x }").endswith("returned an unsupported result type.")


@pytest.mark.parametrize(
    ("expression", "detail"),
    [("1 +", "INVALID_JSONATA_EXPRESSION: Unexpected end of expression"),
     ("a[1,2)", 'INVALID_JSONATA_EXPRESSION: Expected "]", got ","'),
     ("phone", "UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'phone' at the top level is not "
               "supported."),
     ("$count(items)", "UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'items' at the top level")],
)
def test_definition_errors_at_compile_time(expression: str, detail: str) -> None:
    with pytest.raises(JsonataDefinitionError) as raised:
        compile_jsonata_value({"v": "{% " + expression + " %}"}, field="Output",
                              location="/States/Main/Output")
    assert raised.value.code == "InvalidDefinition"
    assert raised.value.location == "/States/Main/Output/v"
    assert raised.value.message.startswith(f"Invalid State Machine Definition: '{detail}")


@pytest.mark.parametrize(
    "expression",
    ["$states.input.items[price > 5].name", "$map($states.input.l, function($v) { $v.x })",
     "$states.input.{'k': a}", "$states.input.l^(a)"],
)
def test_relative_names_are_not_top_level_references(expression: str) -> None:
    compile_jsonata_expression("{% " + expression + " %}", field="Output")


# --- safety -----------------------------------------------------------------------------------

MUTATION_PROBES = [
    "$sort($states.input.a)", "$reverse($states.input.a)", "$append($states.input.a, 4)",
    "$merge([$states.input.o, {'x': 2}])", "$states.input ~> |o|{'x': 5}|",
    "$states.input.p^(k)", "$distinct($states.input.a)", "$shuffle($states.input.a)",
    "$states.input.{'z': a}", "$spread($states.input.o)",
    "$sift($states.input.o, function($v){true})",
    "($x := $states.input.a; $x)", "$states.input.p@$e", "$states.input",
]


def test_evaluation_never_mutates_input() -> None:
    value = {"a": [3, 1, 2], "o": {"x": 1, "y": [1, 2]}, "p": [{"k": 2}, {"k": 1}], "n": None}
    snapshot = copy.deepcopy(value)
    for expression in MUTATION_PROBES:
        evaluate(expression, Scope(value))
        assert value == snapshot, expression


def test_one_compiled_expression_serves_interleaved_scopes_and_threads() -> None:
    evaluator = compile_jsonata_expression(
        "{% $map($states.input.l, function($v) { $v * $k }) %}", field="Output"
    )
    failures: list[str] = []

    def work(k: int) -> None:
        for n in range(200):
            if evaluator(Scope({"l": [n, 1]}, variables={"k": k})) != [n * k, k]:
                failures.append(f"{k}/{n}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# --- corpus -----------------------------------------------------------------------------------

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "cases"


def single_pass_output_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        for case in json.loads(path.read_text()):
            definition = case["definition"]
            if case["kind"] != "execution" or not isinstance(definition, dict):
                continue
            states = definition["States"]
            if len(states) != 1:
                continue
            (state,) = states.values()
            language = state.get("QueryLanguage", definition.get("QueryLanguage"))
            if (state["Type"] == "Pass" and language == "JSONata" and "Output" in state
                    and "Assign" not in state):
                cases.append(case)
    return cases


@pytest.mark.skipif(not CORPUS.is_dir(), reason="conformance corpus not present")
def test_corpus_single_pass_output_cases() -> None:
    cases = single_pass_output_cases()
    assert len(cases) >= 16
    for case in cases:
        (state,) = case["definition"]["States"].values()
        expected = case["expected"]
        evaluator = compile_jsonata_value(state["Output"], field="Output")
        scope = Scope(case["input"] if case["input"] is not None else {})
        if expected["status"] == "SUCCEEDED":
            output = evaluator(scope)
            assert json.dumps(output) == json.dumps(expected["output"]), case["id"]
        else:
            with pytest.raises(QueryEvaluationError) as raised:
                evaluator(scope)
            assert expected["cause"].endswith(raised.value.cause), case["id"]


@pytest.mark.parametrize(("expression", "fields"), [
    ("$states.result", {"result"}),
    ("$states . errorOutput.Cause", {"errorOutput"}),
    ("$states.input.a & $states.context.State.Name", {"input", "context"}),
    ("$map($states.input.l, function($v) { $v + $states.result.n })", {"input", "result"}),
    ("$states.input.items[$ = $states.result]", {"input", "result"}),
    ("{'e': $states.errorOutput}", {"errorOutput"}),
    ("($x := $states.errorOutput; $x.Error)", {"errorOutput"}),
    ("$keys($states)", set()),
    ("'$states.result'", set()),
    ("1 +", set()),
])
def test_states_fields_read_finds_every_named_states_field(expression: str,
                                                            fields: set[str]) -> None:
    # The validator refuses $states.result/$states.errorOutput where AWS makes them unavailable,
    # so every read counts: inside predicates, lambdas and object constructors too.
    assert states_fields_read("{% " + expression + " %}") == fields


def test_aws_functions_keep_their_names_in_signature_errors() -> None:
    assert 'function "partition"' in failure("$partition(1, 'a')")
    assert 'function "range"' in failure("$range('a', 1, 1)")
    assert 'function "hash"' in failure("$hash(1, 'MD5')")
