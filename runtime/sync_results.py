"""What a `states:startExecution.sync` (or `.sync:2`) task receives when its child execution
ends: the child described as DescribeExecution's SDK shape, its Input and Output as JSON text
(`.sync`) or as JSON values (`.sync:2`); a child that did not succeed fails the task with
States.TaskFailed and that description as the cause."""

from __future__ import annotations

import json
from typing import Any

import msgspec

JSON = Any
START_EXECUTION = "arn:aws:states:::states:startExecution"


def sync_result(*, execution_arn: str, state_machine_arn: str, name: str, status: str,
                input: JSON, output: JSON, error: str | None, cause: str | None,
                start: float, stop: float | None, json_values: bool) -> dict[str, JSON]:
    def value(data: JSON) -> JSON:
        return data if json_values else json.dumps(data, separators=(",", ":"))

    out: dict[str, JSON] = {
        "ExecutionArn": execution_arn,
        "Input": value(input), "InputDetails": {"Included": True},
        "Name": name,
        "StartDate": int(start * 1000),
        "StateMachineArn": state_machine_arn,
        "Status": status,
    }
    if stop is not None:
        out["StopDate"] = int(stop * 1000)
    if status == "SUCCEEDED":
        out["Output"] = value(output)
        out["OutputDetails"] = {"Included": True}
    else:
        if error is not None:
            out["Error"] = error
        if cause is not None:
            out["Cause"] = cause
    return dict(sorted(out.items()))


def failure_cause(result: dict[str, JSON]) -> str:
    """The cause of the States.TaskFailed a child that did not succeed gives its parent."""
    return msgspec.json.encode(result).decode()
