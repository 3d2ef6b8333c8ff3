from __future__ import annotations

from typing import Any

import anyio

from runtime.console.outcomes import state_outcomes
from runtime.engine import Runtime


def _run(definition: dict[str, Any], input: Any, tasks: dict[str, Any]
         ) -> tuple[list[Any], list[dict[str, Any]]]:
    """The raw and the rendered history of one execution."""

    async def main() -> tuple[list[Any], list[dict[str, Any]]]:
        async with Runtime(clock="virtual", tasks=tasks) as runtime:
            arn = await runtime.create_state_machine("m", definition)
            execution = await runtime.start_execution(arn, input)
            await runtime.wait(execution)
            return runtime.history(execution), runtime.get_execution_history(execution)

    return anyio.run(main)


class Declined(Exception):
    pass


def decline(value: Any) -> Any:
    raise Declined("no")


def test_retried_caught_and_failed_states() -> None:
    calls = {"count": 0}

    def flaky(value: Any) -> Any:
        calls["count"] += 1
        if calls["count"] == 1:
            raise TimeoutError("again")
        return value

    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}]
    events, _ = _run({"StartAt": "Flaky", "States": {
        "Flaky": {"Type": "Task", "Resource": "flaky", "Retry": retry, "Next": "Pay"},
        "Pay": {"Type": "Task", "Resource": "decline", "Next": "Done",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Again"}]},
        "Again": {"Type": "Task", "Resource": "decline", "End": True},
        "Done": {"Type": "Succeed"},
    }}, {}, {"flaky": flaky, "decline": decline})
    states = state_outcomes(events)
    assert {name: s["outcome"] for name, s in states.items()} == {
        "Flaky": "retried", "Pay": "caught", "Again": "failed"}
    assert states["Flaky"]["retries"] == 1
    assert states["Pay"]["retries"] == 0
    assert (states["Again"]["error"], states["Again"]["cause"]) == ("Declined", "no")


def test_outcomes_as_of_an_earlier_event() -> None:
    events, rendered = _run({"StartAt": "Hold", "States": {
        "Hold": {"Type": "Wait", "Seconds": 5, "Next": "Pay"},
        "Pay": {"Type": "Task", "Resource": "decline", "End": True},
    }}, {"amount": 1}, {"decline": decline})
    ids = {event["type"]: event["id"] for event in rendered}
    at_hold = state_outcomes(events, ids["WaitStateEntered"])
    assert at_hold == {"Hold": {"outcome": "running", "visits": 1, "retries": 0,
                                "input": {"amount": 1}, "output": None, "error": None,
                                "cause": None}}
    at_failure = state_outcomes(events, ids["TaskFailed"])
    assert at_failure["Hold"]["outcome"] == "succeeded"
    assert at_failure["Pay"]["outcome"] == "failed"


def test_map_iterations_are_separate_visits_and_a_fail_state_fails() -> None:
    events, _ = _run({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ToleratedFailureCount": 1, "Next": "Stop",
                 "ItemProcessor": {"StartAt": "Item", "States": {"Item": {
                     "Type": "Task", "Resource": "odd", "End": True}}}},
        "Stop": {"Type": "Fail", "Error": "Stopped"},
    }}, [1, 2, 3], {"odd": lambda n: n if n % 2 else decline(n)})
    states = state_outcomes(events)
    # One iteration failed (tolerated): the state shows its worst visit; the Map succeeded.
    assert states["Item"]["outcome"] == "failed"
    assert states["Item"]["visits"] == 3
    assert states["Each"]["outcome"] == "succeeded"
    assert states["Stop"]["outcome"] == "failed"
