"""Definitions, inputs and task handlers shared by the cluster tests, their worker processes
and the benchmark: Pass, Task, Wait, Retry, Catch, Choice loops and Map, with event orders that
do not depend on task timing."""

from __future__ import annotations

import json
from typing import Any

import anyio

from integrations._base import TaskCall

TASK = "arn:aws:lambda:us-east-1:123456789012:function:"


def add_one(value: int) -> int:
    return value + 1


def flaky(value: int, call: TaskCall) -> int:
    if call.retry_count < 1:
        raise ConnectionError(f"attempt {call.retry_count} failed")
    return value * 10


def broken(value: Any) -> Any:
    raise ValueError("permanently broken")



DEFINITIONS: dict[str, dict[str, Any]] = {
    "pass": {"StartAt": "P1", "States": {
        "P1": {"Type": "Pass", "Parameters": {"v.$": "$.n", "tag": "pass"}, "Next": "P2"},
        "P2": {"Type": "Pass", "Result": 5, "ResultPath": "$.five", "End": True},
    }},
    "chain": {"StartAt": "P1", "States": {
        "P1": {"Type": "Pass", "Parameters": {"v.$": "$.n"}, "Next": "T1"},
        "T1": {"Type": "Task", "Resource": TASK + "add_one", "InputPath": "$.v",
               "ResultPath": "$.v", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 1, "Next": "T2"},
        "T2": {"Type": "Task", "Resource": TASK + "add_one", "InputPath": "$.v", "End": True},
    }},
    "retry": {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": TASK + "flaky", "InputPath": "$.n",
              "Retry": [{"ErrorEquals": ["ConnectionError"], "IntervalSeconds": 1,
                         "BackoffRate": 1, "MaxAttempts": 2}], "End": True},
    }},
    "catch": {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": TASK + "broken",
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                         "Next": "Recovered"}], "Next": "Recovered"},
        "Recovered": {"Type": "Pass", "End": True},
    }},
    "map": {"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
              "ItemProcessor": {"StartAt": "T", "States": {
                  "T": {"Type": "Task", "Resource": TASK + "add_one", "End": True}}},
              "End": True},
    }},
    "slow": {"StartAt": "T1", "States": {
        "T1": {"Type": "Task", "Resource": TASK + "slow_add_one", "Next": "T2"},
        "T2": {"Type": "Task", "Resource": TASK + "slow_add_one", "End": True},
    }},
    "loop": {"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.i", "NumericLessThan": 2, "Next": "Wait"}], "Default": "Done"},
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Inc"},
        "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"},
                "Next": "Check"},
        "Done": {"Type": "Succeed"},
    }},
}

INPUTS: dict[str, Any] = {
    "pass": {"n": 1}, "chain": {"n": 1}, "retry": {"n": 4}, "catch": {"x": 1},
    "map": {"items": [1, 2, 3, 4]}, "loop": {"i": 0}, "slow": 7,
}


def plan(count: int) -> list[tuple[str, str]]:
    """(execution name, workload) for `count` executions, cycling through the workloads."""
    kinds = sorted(DEFINITIONS)
    return [(f"run-{index:04d}", kinds[index % len(kinds)]) for index in range(count)]


async def slow_add_one(value: int) -> int:
    """Long enough that a worker killed at a random moment is likely to die mid-call."""
    await anyio.sleep(0.2)
    return value + 1


TASKS = {"add_one": add_one, "flaky": flaky, "broken": broken, "slow_add_one": slow_add_one}


def passes_machine(result: Any) -> str:
    """A one-state definition (JSON text) whose output is `result`."""
    return json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Result": result, "End": True}}})
