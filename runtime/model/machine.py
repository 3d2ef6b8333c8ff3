"""Decoding a validated ASL definition into frozen structs."""

from __future__ import annotations

from typing import Any

import msgspec

from runtime.model.states import Machine


def decode_machine(definition: dict[str, Any]) -> Machine:
    """Decode a definition that `validate_definition` accepted.

    `Pass.Result` may legitimately be null, so its presence is recorded separately.
    """
    return msgspec.convert(_mark_results(definition), Machine)


def _mark_results(machine: dict[str, Any]) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for name, state in machine.get("States", {}).items():
        if not isinstance(state, dict):
            states[name] = state
            continue
        state = dict(state)
        kind = state.get("Type")
        if kind == "Pass" and "Result" in state:
            state["HasResult"] = True
        elif kind == "Parallel":
            state["Branches"] = [_mark_results(b) for b in state.get("Branches", [])]
        elif kind == "Map":
            for key in ("ItemProcessor", "Iterator"):
                if isinstance(state.get(key), dict):
                    state[key] = _mark_results(state[key])
        states[name] = state
    return {**machine, "States": states}
