from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.dataflow.payload import compile_payload
from runtime.dataflow.scope import Scope
from runtime.errors import RUNTIME, AslError, StatesError

INPUT: Any = {"a": {"b": [1, 2]}, "name": "n", "flag": True}


def build(template: Any, document: Any = INPUT, **scope: Any) -> Any:
    return compile_payload(template)(Scope(document, **scope))


def test_path_fields_drop_the_suffix_and_take_the_selected_value() -> None:
    template = {"value.$": "$.a.b[1]", "whole.$": "$", "const": "x"}
    assert build(template) == {"value": 2, "whole": INPUT, "const": "x"}


def test_nested_objects_and_arrays_are_walked() -> None:
    template = {
        "outer": {"inner.$": "$.name", "keep": [1, {"deep.$": "$.flag"}, "s"]},
        "list": [{"x.$": "$.a.b"}],
    }
    assert build(template) == {
        "outer": {"inner": "n", "keep": [1, {"deep": True}, "s"]},
        "list": [{"x": [1, 2]}],
    }


def test_context_object_and_variable_paths() -> None:
    template = {"id.$": "$$.Execution.Id", "v.$": "$myVar.k"}
    result = build(template, {}, context={"Execution": {"Id": "arn"}},
                   variables={"myVar": {"k": 3}})
    assert result == {"id": "arn", "v": 3}


def test_indefinite_paths_give_lists() -> None:
    assert build({"xs.$": "$.a.b[*]"}) == {"xs": [1, 2]}


@pytest.mark.parametrize("path", ["$[*]", "$.items[*]", "$.items[1:]", "$.item.items[:1]",
                                  "$.item.items[1:5].itemValue", "$.items[*].itemValue"])
def test_indefinite_path_on_an_empty_input_gives_an_empty_list(path: str) -> None:
    # base test_json_path_array_wildcard_or_slice_with_no_input: AWS succeeds with {"item": []}.
    assert build({"item.$": path}, {}) == {"item": []}


def test_indefinite_path_through_variables_and_context_with_a_missing_prefix() -> None:
    assert build({"v.$": "$var.none[*]", "c.$": "$$.Execution.none[0:]"}, {},
                 variables={"var": {}}, context={"Execution": {}}) == {"v": [], "c": []}


def test_bracket_name_with_escaped_quotes_selects_the_key_verbatim() -> None:
    # scenarios test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH], as recorded from AWS.
    # The JSON texts of the definition field and of the execution input:
    template = json.loads(r'''{"value.$": "$['Test\\\"\"Name\"']"}''')
    document = json.loads(r'''{"Test\\\"\"Name\"": "Value\"\\"}''')
    assert build(template, document) == {"value": 'Value"\\'}


def test_key_order_follows_the_template() -> None:
    assert list(build({"z": 1, "y.$": "$.name", "x": 2})) == ["z", "y", "x"]


def test_constant_templates_are_returned_without_rebuilding() -> None:
    template = {"a": [1, {"b": "c"}], "d": None}
    assert compile_payload(template)(Scope({})) is template
    assert compile_payload(7)(Scope({})) == 7


def test_constant_subtrees_are_shared_not_copied() -> None:
    constant = {"big": [1, 2, 3]}
    result = build({"c": constant, "v.$": "$.name"})
    assert result["c"] is constant


def test_each_evaluation_builds_fresh_containers() -> None:
    evaluate = compile_payload({"v.$": "$.name", "nested": {"w.$": "$.flag"}})
    first, second = evaluate(Scope(INPUT)), evaluate(Scope(INPUT))
    assert first == second
    assert first is not second
    assert first["nested"] is not second["nested"]


def test_payload_does_not_mutate_its_input() -> None:
    document = copy.deepcopy(INPUT)
    build({"a.$": "$.a", "b.$": "$.a.b"}, document)
    assert document == INPUT


def test_missing_path_is_worded_as_recorded_from_aws() -> None:
    # scenarios test_invalid_jsonpath[INVALID_JSONPATH_IN_STRING_EXPR_JSONPATH]
    with pytest.raises(StatesError) as raised:
        build({"value.$": "$.no_such_jsonpath"}, {"int-literal": 0})
    assert raised.value.error == RUNTIME
    assert raised.value.cause == (
        "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found "
        "in the input '{\"int-literal\":0}'"
    )


def test_missing_context_path_quotes_the_state_input() -> None:
    # scenarios test_invalid_jsonpath[INVALID_JSONPATH_IN_STRING_EXPR_CONTEXTPATH]: the quoted
    # input is the state input, the same '<json-input>' as for a '$' path.
    with pytest.raises(StatesError) as raised:
        build({"value.$": "$$.Execution.Input.no_such_jsonpath"}, {"int-literal": 0},
              context={"Execution": {"Input": {"int-literal": 0}}})
    assert raised.value.cause == (
        "The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' "
        "could not be found in the input '{\"int-literal\":0}'"
    )


def test_missing_path_in_a_nested_field_names_that_field() -> None:
    with pytest.raises(StatesError) as raised:
        build({"outer": [{"inner.$": "$.nope"}]})
    assert "for the field 'inner.$'" in raised.value.cause


@pytest.mark.parametrize("template", [{"v.$": "not a path"}, {"v.$": 3}, {"v.$": "$.a["},
                                      {"o": {"v.$": None}}])
def test_invalid_field_values_are_invalid_definitions(template: Any) -> None:
    with pytest.raises(AslError) as raised:
        compile_payload(template)
    assert raised.value.code == "InvalidDefinition"


def test_intrinsic_function_fields() -> None:
    template = {"greeting.$": "States.Format('Hello, {}', $.name)", "plain": 1}
    assert build(template) == {"greeting": "Hello, n", "plain": 1}


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.text(max_size=3)
KEYS = st.sampled_from(["a", "b", "c"])
CONSTANT_TEMPLATES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=15,
)


@given(template=CONSTANT_TEMPLATES, document=CONSTANT_TEMPLATES)
def test_templates_without_dynamic_fields_evaluate_to_themselves(
    template: Any, document: Any
) -> None:
    assert build(template, document) == template
