"""Workflow variables end to end, through the public Runtime on the virtual clock.

Rules from AWS's developer guide, "Passing data between states with variables"
(workflow-variables); each test quotes the one it checks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from integrations.python import TaskHandler
from runtime import Execution, Runtime

JSON = Any
JSONATA = {"QueryLanguage": "JSONata"}


def _run(definition: Mapping[str, Any], input: JSON = None, *,
         tasks: Mapping[str, TaskHandler] | None = None
         ) -> tuple[Execution, list[dict[str, Any]]]:
    async def main() -> tuple[Execution, list[dict[str, Any]]]:
        async with Runtime(clock="virtual", tasks=tasks) as runtime:
            execution = await runtime.run(definition, input)
            return execution, runtime.get_execution_history(execution.execution_arn)

    return asyncio.run(main())


def _assigned(history: list[dict[str, Any]]) -> list[tuple[str, dict[str, JSON]]]:
    """(state name, decoded assignedVariables) of every state exit that assigned variables."""
    found = []
    for event in history:
        details = event.get("stateExitedEventDetails")
        if details and "assignedVariables" in details:
            found.append((details["name"], {name: json.loads(text) for name, text
                                            in details["assignedVariables"].items()}))
    return found


def test_assign_and_output_read_the_values_from_before_the_state() -> None:
    # "Assign and Output are evaluated in parallel": a state's own assignments are visible
    # from the next state on, and a swap needs no temporary variable.
    definition = {**JSONATA, "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"a": 1, "b": 2}, "Next": "Swap"},
        "Swap": {"Type": "Pass", "Assign": {"a": "{% $b %}", "b": "{% $a %}"},
                 "Output": {"a": "{% $a %}", "b": "{% $b %}"}, "Next": "Read"},
        "Read": {"Type": "Pass", "Output": {"before": "{% $states.input %}",
                                            "after": {"a": "{% $a %}", "b": "{% $b %}"}},
                 "End": True},
    }}
    execution, history = _run(definition)
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"before": {"a": 1, "b": 2}, "after": {"a": 2, "b": 1}}
    assert _assigned(history) == [("Init", {"a": 1, "b": 2}), ("Swap", {"a": 2, "b": 1})]


def test_jsonpath_states_read_variables_in_parameters_choice_and_items_path() -> None:
    definition = {"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"limit": 2, "items": [1, 2, 3], "tag": "t"},
                 "Next": "Check"},
        "Check": {"Type": "Choice", "Default": "Never", "Choices": [
            {"Variable": "$limit", "NumericEquals": 2, "Next": "Fan",
             "Assign": {"chosen.$": "$limit"}}]},
        "Fan": {"Type": "Map", "ItemsPath": "$items", "Next": "Done",
                "ItemProcessor": {"StartAt": "Tag", "States": {"Tag": {
                    "Type": "Pass", "End": True,
                    "Parameters": {"value.$": "$", "tag.$": "$tag",
                                   "big.$": "States.MathAdd($, $limit)"}}}}},
        "Done": {"Type": "Pass", "Parameters": {"results.$": "$", "chosen.$": "$chosen"},
                 "End": True},
        "Never": {"Type": "Fail"},
    }}
    execution, history = _run(definition, {})
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"chosen": 2, "results": [
        {"value": 1, "tag": "t", "big": 3}, {"value": 2, "tag": "t", "big": 4},
        {"value": 3, "tag": "t", "big": 5}]}
    assert ("Check", {"chosen": 2}) in _assigned(history)


def test_map_iterations_read_outer_variables_but_keep_their_own_assignments() -> None:
    # "Parallel branches and Map iterations can access variable values from outer scopes, but
    # they do not have access to variable values from other concurrent branches or
    # iterations"; "Use the Output field to pass data out of Parallel branches and Map
    # iterations."
    definition = {**JSONATA, "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"base": 10}, "Next": "Fan"},
        "Fan": {"Type": "Map", "Items": "{% [1, 2, 3] %}", "MaxConcurrency": 1,
                "ItemProcessor": {"StartAt": "Add", "States": {
                    "Add": {"Type": "Pass", "Assign": {"mine": "{% $states.input + $base %}"},
                            "Next": "Report"},
                    "Report": {"Type": "Pass", "End": True, "Output": {
                        "mine": "{% $mine %}",
                        "others": "{% $exists($previous) %}"}},
                }},
                "Assign": {"previous": "{% $states.result[-1].mine %}"},
                "Next": "After"},
        "After": {"Type": "Pass", "End": True, "Output": {
            "previous": "{% $previous %}", "mineVisible": "{% $exists($mine) %}"}},
    }}
    execution, history = _run(definition)
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"previous": 13, "mineVisible": False}
    assert [name for name, _ in _assigned(history)] == ["Init", "Add", "Add", "Add", "Fan"]


def test_parallel_branches_do_not_see_each_others_variables() -> None:
    def branch(name: str, value: int) -> dict[str, Any]:
        return {"StartAt": f"{name}1", "States": {
            f"{name}1": {"Type": "Pass", "Assign": {f"{name}_own": value}, "Next": f"{name}2"},
            f"{name}2": {"Type": "Pass", "End": True, "Output": {
                "own": f"{{% ${name}_own %}}", "shared": "{% $shared %}",
                "sawA": "{% $exists($a_own) %}", "sawB": "{% $exists($b_own) %}"}},
        }}

    definition = {**JSONATA, "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"shared": "s"}, "Next": "Both"},
        "Both": {"Type": "Parallel", "End": True, "Branches": [branch("a", 1), branch("b", 2)]},
    }}
    execution, _ = _run(definition)
    assert execution.output == [
        {"own": 1, "shared": "s", "sawA": True, "sawB": False},
        {"own": 2, "shared": "s", "sawA": False, "sawB": True}]


def _failing_parallel_caught_by(catcher: dict[str, Any]) -> dict[str, Any]:
    return {**JSONATA, "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"attempt": "first"}, "Next": "Work"},
        "Work": {"Type": "Parallel", "Next": "Unreached", "Branches": [{
            "StartAt": "Boom", "States": {"Boom": {
                "Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}}}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled", **catcher}]},
        "Unreached": {"Type": "Succeed"},
        "Handled": {"Type": "Pass", "End": True, "Output": {
            "input": "{% $states.input %}", "attempt": "{% $attempt %}"}},
    }}


def test_catch_assign_writes_the_outer_scope_and_output_reads_the_error_output() -> None:
    # "The Assign field in a Catch can assign values to variables in the outer scope, that is,
    # the scope in which the Parallel/Map state exists."
    definition = _failing_parallel_caught_by({
        "Assign": {"attempt": "{% $attempt & '-caught' %}"},
        "Output": "{% $states.errorOutput.Cause %}"})
    execution, history = _run(definition)
    assert execution.output == {"input": "it broke", "attempt": "first-caught"}
    assert ("Work", {"attempt": "first-caught"}) in _assigned(history)


def test_catch_assign_reads_the_error_output() -> None:
    # "$states.errorOutput can be used in the Catch field's Assign or Output."
    definition = _failing_parallel_caught_by({
        "Assign": {"attempt": "{% $states.errorOutput.Error %}"}})
    execution, _ = _run(definition)
    assert execution.output == {"input": {"Error": "Custom.Error", "Cause": "it broke"},
                                "attempt": "Custom.Error"}


def test_jsonpath_catch_assign_reads_the_error_output_as_its_input() -> None:
    definition = {"StartAt": "Work", "States": {
        "Work": {"Type": "Parallel", "Next": "Unreached", "Branches": [{
            "StartAt": "Boom", "States": {"Boom": {
                "Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}}}],
            "Catch": [{"ErrorEquals": ["Custom.Error"], "Next": "Handled",
                       "Assign": {"error.$": "$.Error"}, "ResultPath": "$.caught"}]},
        "Unreached": {"Type": "Succeed"},
        "Handled": {"Type": "Pass", "Parameters": {"error.$": "$error"}, "End": True},
    }}
    execution, _ = _run(definition, {})
    assert execution.output == {"error": "Custom.Error"}


class Flaky(Exception):
    pass


def test_variables_survive_a_retried_task() -> None:
    calls: list[JSON] = []

    def flaky(value: JSON) -> JSON:
        calls.append(value)
        if len(calls) < 3:
            raise Flaky(f"attempt {len(calls)}")
        return {"attempts": len(calls)}

    definition = {**JSONATA, "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"token": "abc"}, "Next": "Call"},
        "Call": {"Type": "Task", "Resource": "flaky", "Arguments": {"token": "{% $token %}"},
                 "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 5}],
                 "Assign": {"attempts": "{% $states.result.attempts %}"},
                 "Output": {"token": "{% $token %}"}, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True, "Output": {
            "token": "{% $token %}", "attempts": "{% $attempts %}",
            "input": "{% $states.input %}"}},
    }}
    execution, _ = _run(definition, tasks={"flaky": flaky})
    assert execution.status == "SUCCEEDED"
    assert calls == [{"token": "abc"}] * 3
    assert execution.output == {"token": "abc", "attempts": 3, "input": {"token": "abc"}}


def test_an_undefined_variable_fails_with_a_query_evaluation_error() -> None:
    # corpus assign/test_undefined_reference: the cause names the expression and the field.
    definition = {**JSONATA, "StartAt": "S", "States": {
        "S": {"Type": "Pass", "Assign": {"result": "{% $doesNotExist %}"}, "End": True}}}
    execution, _ = _run(definition)
    assert execution.error == "States.QueryEvaluationError"
    assert execution.cause == (
        "An error occurred while executing the state 'S' (entered at the event id #2). The "
        "JSONata expression '$doesNotExist' specified for the field 'Assign/result' returned "
        "nothing (undefined).")
