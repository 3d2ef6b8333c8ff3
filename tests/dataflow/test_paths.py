from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from jsonpath_ng.ext import parse as parse_jsonpath

from runtime.dataflow.paths import (
    REFERENCE_PATH_CONFLICT,
    PathNotFound,
    compile_input_path,
    compile_items_path,
    compile_output_path,
    compile_path,
    compile_result_path,
    render_json,
)
from runtime.dataflow.scope import Scope
from runtime.errors import RUNTIME, AslError, StatesError

DOCUMENT: Any = {
    "a": {"b": [10, 20, {"c": "deep"}], "n": None},
    "items": [{"x": 1, "name": "one"}, {"x": 2, "name": "two"}, {"x": 3, "name": "three"}],
    "key with space": 1,
    "dash-key": 2,
    "s": "text",
}


def evaluate(path: str, document: Any = DOCUMENT, **scope: Any) -> Any:
    return compile_path(path)(Scope(document, **scope))


def miss_detail(path: str, document: Any = DOCUMENT) -> str:
    with pytest.raises(PathNotFound) as raised:
        evaluate(path, document)
    assert raised.value.path == path
    return raised.value.detail


# --- references -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOCUMENT),
        ("$.a.b", [10, 20, {"c": "deep"}]),
        ("$.a.b[0]", 10),
        ("$.a.b[2].c", "deep"),
        ("$['a']['b'][1]", 20),
        ('$["a"].b[1]', 20),
        ("$['key with space']", 1),
        ("$.dash-key", 2),
        ("$.a.n", None),
        ("$.items[1].name", "two"),
    ],
)
def test_definite_paths_select_one_value(path: str, expected: Any) -> None:
    assert evaluate(path) == expected


def test_negative_index_counts_from_the_end_as_in_jayway() -> None:
    assert evaluate("$.a.b[-1]") == {"c": "deep"}
    assert evaluate("$.items[-3].x") == 1


def test_backslash_in_a_bracket_name_is_kept_verbatim() -> None:
    # scenarios test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH]: AWS selects the key
    # `Test\""Name"` with the path `$['Test\""Name"']`; Jayway keeps the backslash.
    document = {'Test\\""Name"': 'Value"\\'}
    assert evaluate("$['Test\\\"\"Name\"']", document) == 'Value"\\'


@pytest.mark.parametrize(
    ("path", "key"),
    [("$['it\\'s']", "it\\'s"), ('$["say \\"hi\\""]', 'say \\"hi\\"'), ("$['a\\\\b']", "a\\\\b"),
     ("$['x]y']", "x]y")],
)
def test_a_backslash_only_stops_the_next_character_closing_the_name(path: str, key: str) -> None:
    assert evaluate(path, {key: 5}) == 5


def test_definite_path_returns_the_same_object_not_a_copy() -> None:
    assert evaluate("$.a.b") is DOCUMENT["a"]["b"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.items[*].x", [1, 2, 3]),
        ("$.items[1:].name", ["two", "three"]),
        ("$.items[:2].x", [1, 2]),
        ("$.items[-1:].x", [3]),
        ("$.items[?(@.x > 1)].name", ["two", "three"]),
        ("$.items[?(@.name == 'one')].x", [1]),
        ("$.items[?(@.x > 1 & @.x < 3)].name", ["two"]),
        ("$..c", ["deep"]),
        ("$.a.*", [[10, 20, {"c": "deep"}], None]),
        ("$.items[0,2].x", [1, 3]),
    ],
)
def test_indefinite_paths_return_the_list_of_matches(path: str, expected: Any) -> None:
    assert evaluate(path) == expected


def test_indefinite_path_with_no_match_is_an_empty_list() -> None:
    assert evaluate("$.items[?(@.x > 10)]") == []
    assert evaluate("$..nowhere") == []
    assert evaluate("$.items[*].nowhere") == []


def test_context_object_root() -> None:
    context = {"Execution": {"Id": "arn:exec", "Input": {"k": [1, 2]}}}
    assert evaluate("$$.Execution.Id", {}, context=context) == "arn:exec"
    assert evaluate("$$.Execution.Input.k[1]", {}, context=context) == 2
    assert evaluate("$$", {}, context=context) == context


def test_context_object_is_built_only_when_a_path_needs_it() -> None:
    built: list[int] = []

    def factory() -> Any:
        built.append(1)
        return {"State": {"Name": "S"}}

    scope = Scope({"a": 1}, context=factory)
    assert compile_path("$.a")(scope) == 1
    assert built == []
    assert compile_path("$$.State.Name")(scope) == "S"
    assert built == [1]


def test_variable_roots() -> None:
    variables = {"myVar": {"a": [7, 8]}, "x": 3}
    assert evaluate("$myVar.a[0]", {}, variables=variables) == 7
    assert evaluate("$x", {}, variables=variables) == 3
    assert evaluate("$myVar.a[*]", {}, variables=variables) == [7, 8]


def test_undefined_variable_is_not_found() -> None:
    with pytest.raises(PathNotFound):
        evaluate("$nope.a", {}, variables={})


# --- misses, worded as Jayway words them (AWS quotes these in InputPath causes) --------------

def test_missing_leaf_property() -> None:
    assert miss_detail("$.missing") == "No results for path: $['missing']"


def test_missing_intermediate_property() -> None:
    assert miss_detail("$.missing.b") == "Missing property in path $['missing']"
    assert miss_detail("$.a.missing.b") == "Missing property in path $['a']['missing']"


def test_index_out_of_bounds() -> None:
    assert miss_detail("$.a.b[3]") == "No results for path: $['a']['b'][3]"
    assert miss_detail("$.a.b[-4]") == "No results for path: $['a']['b'][-4]"
    assert miss_detail("$.a.b[7].c") == "No results for path: $['a']['b'][7]['c']"


def test_index_on_a_non_array() -> None:
    assert miss_detail("$.s[0]") == (
        "Filter: [0] can only be applied to arrays. Current context is: text")
    assert miss_detail("$.a[0]").startswith("Filter: [0] can only be applied to arrays.")
    assert miss_detail("$.a.n[0]") == "The path $['a']['n'] is null"


def test_property_of_a_non_object() -> None:
    assert miss_detail("$.s.x").startswith(
        "Expected to find an object with property ['x'] in path $['s'] but found 'string'")
    assert miss_detail("$.a.b.x").startswith(
        "Expected to find an object with property ['x'] in path $['a']['b']")


@pytest.mark.parametrize(
    "path",
    ["$.items[*]", "$.items[1:]", "$.items[:1]", "$.item.items[*]", "$.item.items[1:]",
     "$.item.items[:1]", "$.item.items[1:5]", "$.items[*].itemValue", "$.items[1:].itemValue",
     "$.items[:1].itemValue", "$.item.items[1:5].itemValue"],
)
def test_indefinite_path_with_a_missing_definite_prefix_is_an_empty_list(path: str) -> None:
    # base test_json_path_array_wildcard_or_slice_with_no_input: AWS gives [] for these on {}.
    assert evaluate(path, {}) == []


@pytest.mark.parametrize(
    "path", ["$.a.missing[?(@.x)]", "$.missing..x", "$.s.x[*]", "$.a.n.x[*]", "$.s[0][*]",
             "$.a.b[7][*]"],
)
def test_indefinite_path_whose_prefix_does_not_apply_is_an_empty_list(path: str) -> None:
    assert evaluate(path) == []


def test_wildcard_over_an_object_takes_its_values_as_jayway_does() -> None:
    # base test_json_path_array_wildcard_or_slice_with_no_input[$[*]]: `$[*]` on {} is [].
    assert evaluate("$[*]", {}) == []
    assert evaluate("$[*]", {"p": 1, "q": [2]}) == [1, [2]]
    assert evaluate("$.a[*]") == [[10, 20, {"c": "deep"}], None]
    assert evaluate("$.items.*.x") == [1, 2, 3]


@pytest.mark.parametrize("value", ["text", 7, 1.5, True, None])
def test_wildcard_slice_and_index_select_nothing_from_a_scalar(value: Any) -> None:
    document = {"v": value, "l": [value]}
    assert evaluate("$.v[*]", document) == []
    assert evaluate("$.v.*", document) == []
    assert evaluate("$.v[0:]", document) == []
    assert evaluate("$.l[*][0]", document) == []


def test_slice_and_index_apply_to_arrays_only() -> None:
    document = {"o": {"0": "zero", "k": 1}, "rows": [{"0": "x"}, [5, 6], "str"]}
    assert evaluate("$.o[1:]", document) == []
    assert evaluate("$.o[:1]", document) == []
    assert evaluate("$.rows[*][0]", document) == [5]
    assert evaluate("$.rows[*][-1]", document) == [6]
    assert evaluate("$.rows[*][-3]", document) == []
    assert evaluate("$.rows[*][0,1]", document) == [5, 6]
    # Steps inside filter expressions follow the same rules.
    assert evaluate("$.rows[?(@[0] == 5)]", document) == [[5, 6]]
    assert evaluate("$.rows[?(@[0] == 's')]", document) == []


def test_strings_are_not_indexed_like_arrays() -> None:
    with pytest.raises(PathNotFound):
        evaluate("$.s[0]")


# --- syntax ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["a.b", "", "$.a[", "$.a[?(@.x >)]", "$.a b"])
def test_invalid_syntax_is_an_invalid_definition(path: str) -> None:
    with pytest.raises(AslError) as raised:
        compile_path(path)
    assert raised.value.code == "InvalidDefinition"


def test_filters_combine_conditions_with_double_ampersand_as_jayway_does() -> None:
    value = {"a": [{"x": 2, "y": True}, {"x": 2, "y": False}, {"x": 0, "y": True}]}
    assert compile_path("$.a[?(@.x > 1 && @.y == true)]")(Scope(value)) == [{"x": 2, "y": True}]


# --- InputPath / OutputPath -----------------------------------------------------------------

def test_input_path_selects_and_null_gives_empty_object() -> None:
    scope = Scope({"a": {"b": 1}})
    assert compile_input_path("$.a")(scope) == {"b": 1}
    assert compile_input_path("$")(scope) is scope.input
    assert compile_input_path(None)(scope) == {}


def test_input_path_miss_is_worded_as_recorded_from_aws() -> None:
    # scenarios test_invalid_jsonpath[ST.INVALID_JSONPATH_IN_INPUTPATH]
    with pytest.raises(StatesError) as raised:
        compile_input_path("$.NoSuchInputPath")(Scope({"int-literal": 0}))
    assert raised.value.error == RUNTIME
    assert raised.value.cause == (
        "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']")


def test_output_path_miss_is_worded_as_recorded_from_aws() -> None:
    with pytest.raises(StatesError) as raised:
        compile_output_path("$.NoSuchOutputPath")(Scope({"int-literal": 0}))
    assert raised.value.error == RUNTIME
    assert raised.value.cause == (
        "Invalid path '$.NoSuchOutputPath' : No results for path: $['NoSuchOutputPath']")


def test_output_path_null_and_context_paths() -> None:
    scope = Scope({"a": 1}, context={"Execution": {"Name": "e"}})
    assert compile_output_path(None)(scope) == {}
    assert compile_output_path("$$.Execution.Name")(scope) == "e"


def test_input_path_invalid_syntax_fails_at_compile_time() -> None:
    with pytest.raises(AslError):
        compile_input_path("$.a[")


# --- ItemsPath ------------------------------------------------------------------------------

def test_items_path_selects_an_array() -> None:
    scope = Scope({"list": [1, 2]}, context={"Execution": {"Input": {"l": [3]}}},
                  variables={"v": [4]})
    assert compile_items_path("$.list")(scope) == [1, 2]
    assert compile_items_path("$$.Execution.Input.l")(scope) == [3]
    assert compile_items_path("$v")(scope) == [4]
    assert compile_items_path("$")(Scope([5])) == [5]


def test_items_path_must_select_an_array() -> None:
    with pytest.raises(StatesError) as raised:
        compile_items_path("$.obj")(Scope({"obj": {"k": 1}}))
    assert raised.value.error == RUNTIME
    assert "$.obj" in raised.value.cause
    assert '{"k":1}' in raised.value.cause


def test_items_path_miss() -> None:
    with pytest.raises(StatesError) as raised:
        compile_items_path("$.none")(Scope({}))
    assert raised.value.cause == "Invalid path '$.none' : No results for path: $['none']"


def test_items_path_must_be_a_reference_path() -> None:
    # "The value of ItemsPath must be a Reference Path" (AWS ItemsPath docs).
    with pytest.raises(AslError):
        compile_items_path("$.list[*]")


# --- ResultPath -----------------------------------------------------------------------------

def test_result_path_dollar_replaces_the_input() -> None:
    assert compile_result_path("$")({"a": 1}, "r") == "r"


def test_result_path_null_keeps_the_input() -> None:
    state_input = {"a": 1}
    assert compile_result_path(None)(state_input, "r") is state_input


def test_result_path_sets_a_nested_field_creating_objects() -> None:
    combine = compile_result_path("$.a.b.c")
    assert combine({"a": {"x": 1}, "y": 2}, [1]) == {"a": {"x": 1, "b": {"c": [1]}}, "y": 2}
    assert combine({}, 5) == {"a": {"b": {"c": 5}}}


def test_result_path_replaces_an_existing_value() -> None:
    assert compile_result_path("$.a")({"a": {"old": 1}}, {"new": 2}) == {"a": {"new": 2}}


def test_result_path_into_an_existing_array_element() -> None:
    combine = compile_result_path("$.list[1].v")
    assert combine({"list": [{}, {"w": 0}]}, 9) == {"list": [{}, {"w": 0, "v": 9}]}
    assert compile_result_path("$.list[-1]")({"list": [1, 2]}, 9) == {"list": [1, 9]}


def test_result_path_does_not_mutate_the_input() -> None:
    state_input = {"a": {"b": {"keep": 1}}, "other": [1]}
    snapshot = copy.deepcopy(state_input)
    combined = compile_result_path("$.a.b.new")(state_input, "r")
    assert state_input == snapshot
    assert combined["other"] is state_input["other"]


def test_result_path_on_a_non_object_input_conflicts() -> None:
    # Observed AWS failure: States.ReferencePathConflict,
    # 'Unable to apply ReferencePath $.someTaskResult to input "input1"'.
    with pytest.raises(StatesError) as raised:
        compile_result_path("$.someTaskResult")("input1", {"r": 1})
    assert raised.value.error == REFERENCE_PATH_CONFLICT
    assert raised.value.cause == 'Unable to apply ReferencePath $.someTaskResult to input "input1"'


@pytest.mark.parametrize(
    ("path", "state_input"),
    [("$.a.b", {"a": 1}), ("$.a.b", {"a": [1]}), ("$.l[5]", {"l": [1]}), ("$.l[0]", {"l": {}}),
     ("$.missing[0]", {}), ("$.a", [1, 2])],
)
def test_result_path_that_cannot_be_applied_conflicts(path: str, state_input: Any) -> None:
    with pytest.raises(StatesError) as raised:
        compile_result_path(path)(state_input, "r")
    assert raised.value.error == REFERENCE_PATH_CONFLICT
    assert raised.value.cause.endswith(f"to input {render_json(state_input)}")


@pytest.mark.parametrize("path", ["$$.Execution", "$var.a", "$.a[*]", "$..a", "$.a[?(@.x)]",
                                  "$.a[1:2]", "a", "$.a["])
def test_result_path_must_be_a_reference_path_on_the_input(path: str) -> None:
    with pytest.raises(AslError) as raised:
        compile_result_path(path)
    assert raised.value.code == "InvalidDefinition"


def test_render_json_is_compact_and_keeps_unicode() -> None:
    assert render_json({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'


# --- properties -----------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "key_1", "Z"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)
RANDOM_STEP = st.one_of(KEYS, st.integers(min_value=-4, max_value=4))


@st.composite
def documents_and_steps(draw: st.DrawFn) -> tuple[Any, list[str | int]]:
    """A document and a path into it that mostly exists, sometimes strays off it."""
    document = draw(JSON_VALUES)
    steps: list[str | int] = []
    value: Any = document
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        existing: list[str | int] = []
        if isinstance(value, dict):
            existing = list(value)
        elif isinstance(value, list):
            existing = list(range(-len(value), len(value)))
        if existing and draw(st.integers(min_value=0, max_value=4)) > 0:
            step = existing[draw(st.integers(min_value=0, max_value=len(existing) - 1))]
            value = value[step]
        else:
            step = draw(RANDOM_STEP)
            value = None
        steps.append(step)
    return document, steps


def render_path(steps: list[str | int], bracket_names: bool) -> str:
    parts = []
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(f"['{step}']" if bracket_names else f".{step}")
    return "$" + "".join(parts)


def applies_to_arrays_only(document: Any, steps: list[str | int]) -> bool:
    """jsonpath-ng indexes strings and dicts too; JSONPath (and Jayway) index arrays only."""
    value = document
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return isinstance(value, list)
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return True
            value = value[step]
    return True


@given(case=documents_and_steps(), bracket_names=st.booleans())
def test_direct_getter_agrees_with_jsonpath_ng(
    case: tuple[Any, list[str | int]], bracket_names: bool
) -> None:
    document, steps = case
    assume(applies_to_arrays_only(document, steps))
    # jsonpath-ng raises IndexError for negative indexes beyond the start.
    path = render_path(steps, bracket_names)
    try:
        expected = [match.value for match in parse_jsonpath(path).find(document)]
    except IndexError:
        assume(False)
    if expected:
        assert evaluate(path, document) == expected[0]
    else:
        with pytest.raises(PathNotFound):
            evaluate(path, document)


@given(state_input=JSON_VALUES, steps=st.lists(KEYS, min_size=1, max_size=4),
       result=JSON_VALUES)
def test_result_path_never_mutates_its_input(
    state_input: Any, steps: list[str], result: Any
) -> None:
    snapshot = copy.deepcopy(state_input)
    path = render_path(list(steps), bracket_names=False)
    try:
        combined = compile_result_path(path)(state_input, result)
    except StatesError:
        pass
    else:
        assert compile_path(path)(Scope(combined)) is result
    assert state_input == snapshot
