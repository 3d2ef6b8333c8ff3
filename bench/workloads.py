"""The reference workloads in ../shared/bench/workloads, and the smaller inputs moto gets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = REPO_ROOT.parent / "shared" / "bench"
WORKLOAD_DIR = SHARED_BENCH / "workloads"

#: In the order the table prints them.
WORKLOAD_NAMES = (
    "pass_chain_100", "choice_loop", "map_1000", "parallel_10x10",
    "retry_catch", "catch_only", "wait_1s",
)

#: moto re-parses every JSONPath (~45 ms each), so a full-size loop or Map takes minutes; these
#: run with `MOTO_SCALE` iterations/items instead, with the definition unchanged (BASELINES.md).
MOTO_SCALE = {"choice_loop": 25, "map_1000": 25}


class Workload(msgspec.Struct, kw_only=True):
    name: str
    definition: dict[str, Any]
    input: Any
    expected_output: Any
    transitions_per_execution: int
    #: 1.0 for the reference input; otherwise the iterations/items of a smaller input.
    input_scale: float = 1.0


def load_workload(name: str) -> Workload:
    data = json.loads((WORKLOAD_DIR / f"{name}.json").read_text())
    return Workload(name=data["name"], definition=data["definition"], input=data["input"],
                    expected_output=data["expected_output"],
                    transitions_per_execution=data["transitions_per_execution"])


def smaller_input(workload: Workload, size: int) -> Any:
    """The workload's input cut down to `size` loop iterations or Map items."""
    if workload.name == "choice_loop":
        return {**workload.input, "n": size}
    if workload.name == "map_1000":
        return {**workload.input, "items": workload.input["items"][:size]}
    raise ValueError(f"{workload.name} has no smaller input")


def with_wait_seconds(workload: Workload, seconds: int) -> dict[str, Any]:
    """wait_1s's definition with its single Wait lasting `seconds` instead."""
    states = {
        name: {**state, "Seconds": seconds} if state["Type"] == "Wait" else state
        for name, state in workload.definition["States"].items()
    }
    return {**workload.definition, "States": states}


#: The smallest state machine: what an API round trip is timed on.
ONE_PASS_DEFINITION: dict[str, Any] = {
    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}},
}
