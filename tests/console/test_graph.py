from __future__ import annotations

from runtime.console.graph import definition_graph, sub_machine


def test_states_become_nodes_and_transitions_edges() -> None:
    graph = definition_graph({"StartAt": "A", "States": {
        "A": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "IsPresent": True, "Next": "B"},
            {"Comment": "big", "Variable": "$.x", "NumericGreaterThan": 9, "Next": "C"}],
            "Default": "C"},
        "B": {"Type": "Task", "Resource": "r", "Next": "C",
              "Catch": [{"ErrorEquals": ["E1", "E2"], "Next": "D"}]},
        "C": {"Type": "Succeed"},
        "D": {"Type": "Fail"},
    }})
    assert graph["start"] == "A"
    assert [(n["id"], n["type"], n["end"]) for n in graph["nodes"]] == [
        ("A", "Choice", False), ("B", "Task", False), ("C", "Succeed", True),
        ("D", "Fail", True)]
    assert [(e["from"], e["to"], e["kind"], e["label"]) for e in graph["edges"]] == [
        ("A", "B", "choice", "Rule #1"), ("A", "C", "choice", "big"),
        ("A", "C", "default", "Default"), ("B", "C", "next", None),
        ("B", "D", "catch", "Catch E1, E2")]


def test_parallel_branches_and_map_processors_nest() -> None:
    graph = definition_graph({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "M", "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}}},
            {"StartAt": "Y", "States": {"Y": {"Type": "Pass", "End": True}}}]},
        "M": {"Type": "Map", "End": True,
              "ItemProcessor": {"StartAt": "Z", "States": {"Z": {"Type": "Pass", "End": True}}}},
        "Old": {"Type": "Map", "End": True,
                "Iterator": {"StartAt": "W", "States": {"W": {"Type": "Pass", "End": True}}}},
    }})
    parallel, map_state, legacy = graph["nodes"]
    assert [b["start"] for b in parallel["branches"]] == ["X", "Y"]
    assert map_state["processor"]["nodes"][0]["id"] == "Z"
    assert legacy["processor"]["start"] == "W"


def test_a_definition_being_typed_is_drawn_as_far_as_it_makes_sense() -> None:
    graph = definition_graph({"StartAt": "Nowhere", "States": {
        "A": {"Type": "Pass", "Next": "Missing"}, "B": "not a state",
        "C": {"Type": 3, "Catch": "no", "Choices": [1]}}})
    assert graph["start"] is None
    assert [n["id"] for n in graph["nodes"]] == ["A", "C"]
    assert graph["nodes"][1]["type"] == "?"
    assert graph["edges"] == []
    assert definition_graph([1, 2]) == {"start": None, "nodes": [], "edges": []}


def test_a_program_key_names_the_sub_machine_a_map_run_child_runs() -> None:
    inner = {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}
    outer = {"StartAt": "Inner", "States": {"Inner": {"Type": "Map", "ItemProcessor": inner,
                                                      "End": True}}}
    definition = {"StartAt": "Split", "States": {
        "Split": {"Type": "Parallel", "Next": "Outer", "Branches": [
            {"StartAt": "B0", "States": {"B0": {"Type": "Pass", "End": True}}}, outer]},
        "Outer": {"Type": "Map", "Iterator": outer, "End": True}}}
    assert sub_machine(definition, "") == definition
    assert sub_machine(definition, "Outer") == outer
    assert sub_machine(definition, "Outer/Inner") == inner
    assert sub_machine(definition, "Split/1") == outer
    assert sub_machine(definition, "Split/1/Inner") == inner
    assert sub_machine(definition, "Split/2") is None
    assert sub_machine(definition, "Missing") is None
    assert sub_machine(definition, "Outer/Inner/Work") is None
