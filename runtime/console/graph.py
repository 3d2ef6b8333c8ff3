"""A definition as a graph for the console to lay out: states as nodes, transitions as edges,
Parallel branches and Map processors as nested graphs inside their state's node.

It reads the decoded JSON, not the model, so the editor can draw a definition that does not
validate yet: anything malformed is left out instead of raising.
"""

from __future__ import annotations

from typing import Any

JSON = Any


def definition_graph(definition: JSON) -> dict[str, JSON]:
    """`{"start": name | None, "nodes": [...], "edges": [...]}` for a (sub)machine.

    A node is `{"id", "type", "end", "comment"}`, plus `"branches"` (a list of graphs) for a
    Parallel state and `"processor"` (a graph) for a Map state. An edge is `{"from", "to",
    "kind", "label"}` with kind "next", "choice", "default" or "catch"; edges to states that
    do not exist (yet) are left out.
    """
    machine = definition if isinstance(definition, dict) else {}
    states = machine.get("States")
    states = states if isinstance(states, dict) else {}
    start = machine.get("StartAt")
    nodes = []
    edges: list[dict[str, JSON]] = []
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        nodes.append(_node(name, state))
        edges.extend(edge for edge in _edges(name, state) if edge["to"] in states)
    return {"start": start if start in states else None, "nodes": nodes, "edges": edges}


def _node(name: str, state: dict[str, JSON]) -> dict[str, JSON]:
    kind = state.get("Type")
    node: dict[str, JSON] = {
        "id": name, "type": kind if isinstance(kind, str) else "?",
        "end": state.get("End") is True or kind in ("Succeed", "Fail"),
        "comment": state.get("Comment") if isinstance(state.get("Comment"), str) else None,
    }
    if kind == "Parallel":
        branches = state.get("Branches")
        node["branches"] = [definition_graph(branch) for branch in branches] \
            if isinstance(branches, list) else []
    elif kind == "Map":
        processor = state.get("ItemProcessor", state.get("Iterator"))
        node["processor"] = definition_graph(processor)
    return node


def _edges(name: str, state: dict[str, JSON]) -> list[dict[str, JSON]]:
    edges = []
    if isinstance(state.get("Next"), str):
        edges.append(_edge(name, state["Next"], "next", None))
    choices = state.get("Choices")
    if isinstance(choices, list):
        for number, rule in enumerate(choices, start=1):
            if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                edges.append(_edge(name, rule["Next"], "choice", _rule_label(rule, number)))
    if isinstance(state.get("Default"), str):
        edges.append(_edge(name, state["Default"], "default", "Default"))
    catchers = state.get("Catch")
    if isinstance(catchers, list):
        for catcher in catchers:
            if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
                errors = catcher.get("ErrorEquals")
                label = ", ".join(e for e in errors if isinstance(e, str)) \
                    if isinstance(errors, list) else ""
                edges.append(_edge(name, catcher["Next"], "catch", f"Catch {label}".strip()))
    return edges


def _edge(source: str, target: str, kind: str, label: str | None) -> dict[str, JSON]:
    return {"from": source, "to": target, "kind": kind, "label": label}


def _rule_label(rule: dict[str, JSON], number: int) -> str:
    """What AWS's console shows on a Choice edge: the rule's Comment, else its number."""
    comment = rule.get("Comment")
    return comment if isinstance(comment, str) and comment else f"Rule #{number}"


def sub_machine(definition: JSON, key: str) -> JSON:
    """The (sub)machine of `definition` at program key `key` (runtime.program.Program: ""
    the whole machine, "Outer/2" the third branch of Parallel Outer, "Outer/Inner" the
    processor of Map Inner inside Map Outer's processor); None when it has none there."""
    machine = definition
    parts = key.split("/") if key else []
    position = 0
    while position < len(parts):
        states = machine.get("States") if isinstance(machine, dict) else None
        state = states.get(parts[position]) if isinstance(states, dict) else None
        if not isinstance(state, dict):
            return None
        position += 1
        if state.get("Type") == "Map":
            machine = state.get("ItemProcessor", state.get("Iterator"))
        elif state.get("Type") == "Parallel" and position < len(parts) \
                and parts[position].isdigit():
            branches = state.get("Branches")
            index = int(parts[position])
            position += 1
            if not isinstance(branches, list) or index >= len(branches):
                return None
            machine = branches[index]
        else:
            return None
    return machine if isinstance(machine, dict) else None
