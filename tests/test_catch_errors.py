"""A catcher whose own Output/Assign fails does not catch again: the error ends the run."""

from __future__ import annotations

import pytest

from runtime import Runtime


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def boom(value: object) -> object:
    raise ValueError("task failed")


@pytest.mark.anyio
async def test_a_failing_catcher_output_fails_the_execution_instead_of_looping() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "boom", "End": True,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After",
                         "Output": "{% $states.errorOutput.NoSuchField %}"}]},
        "After": {"Type": "Succeed"}}}
    async with Runtime(clock="virtual", tasks={"boom": boom}) as rt:
        done = await rt.run(definition)
        assert done.status == "FAILED"
        assert done.error == "States.QueryEvaluationError"
        types = [e["type"] for e in rt.get_execution_history(done.execution_arn)]
        assert types.count("TaskFailed") == 1
        assert types[-2:] == ["EvaluationFailed", "ExecutionFailed"]
