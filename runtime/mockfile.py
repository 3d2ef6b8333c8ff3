"""A mock configuration file (Step Functions Local's format) written from a recorded
execution, so a run seen in production becomes a local test: every Task state answers, call by
call, what it answered then.

Each task outcome (TaskSucceeded's output, TaskFailed's or TaskTimedOut's error and cause) is
linked to its state by walking `previousEventId` back to the scheduling event (which orders the
calls of one state) and on to the state's `TaskStateEntered` (which names it). That works for
Stepline's raw events and for an AWS `GetExecutionHistory` response alike, and for Parallel
branches and Map iterations, whose events interleave.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple, TextIO

import msgspec

from runtime import events as ev
from runtime.history import details_key

JSON = Any
DEFAULT_TEST_CASE: Final = "FromHistory"

# A bare Lambda function ARN records LambdaFunction* events where other tasks record Task*.
_OUTCOMES: Final = frozenset({"TaskSucceeded", "TaskFailed", "TaskTimedOut",
                              "LambdaFunctionSucceeded", "LambdaFunctionFailed",
                              "LambdaFunctionTimedOut"})
_SUCCEEDED: Final = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded"})
_SCHEDULED: Final = ("TaskScheduled", "LambdaFunctionScheduled")
_DEFAULT_ERRORS: Final = {"TaskFailed": "States.TaskFailed", "TaskTimedOut": "States.Timeout",
                          "LambdaFunctionFailed": "States.TaskFailed",
                          "LambdaFunctionTimedOut": "States.Timeout"}


class HistoryFormatError(ValueError):
    """The events cannot be read as one execution's history."""


class _Step(NamedTuple):
    """What linking needs of one history event."""

    id: int
    previous: int
    type: str
    #: TaskStateEntered: the state's name.
    name: str | None = None
    #: A task outcome: its mocked response entry ({"Return": ...} or {"Throw": ...}).
    response: dict[str, JSON] | None = None
    #: ExecutionStarted: the state machine's ARN, when the history records it.
    machine_arn: str | None = None


def from_history(history: Sequence[ev.HistoryEvent] | Sequence[Mapping[str, Any]]
                 | Mapping[str, Any], *, state_machine_name: str | None = None,
                 test_case: str = DEFAULT_TEST_CASE) -> dict[str, JSON]:
    """The mock configuration replaying an execution's task outcomes as test case
    `test_case` of `state_machine_name` (by default the machine named in ExecutionStarted).

    `history` is Stepline's raw events (`Runtime.history`), or AWS-shaped events
    (`Runtime.get_execution_history`, a boto3 `get_execution_history` response's "events", or
    that whole response). Responses are named `<test case>.<state>`; repeated identical
    answers collapse into ranges ("1-3").

    Raises:
        HistoryFormatError: an event cannot be linked to its state, an output is missing
            (AWS histories fetched with includeExecutionData=False), or no state machine name.
    """
    steps = {step.id: step for step in _steps(history)}
    calls: dict[str, list[tuple[int, dict[str, JSON]]]] = {}
    names: dict[int, str] = {}
    machine_arn = None
    for step_id in sorted(steps):
        step = steps[step_id]
        if step.machine_arn is not None:
            machine_arn = step.machine_arn
        if step.response is None:
            continue
        scheduled = _walk_to(steps, step, _SCHEDULED)
        if scheduled.id not in names:
            names[scheduled.id] = _state_name(steps, scheduled)
        calls.setdefault(names[scheduled.id], []).append((scheduled.id, step.response))
    machine = state_machine_name or _machine_name(machine_arn)
    states = {state: f"{test_case}.{state}" for state in calls}
    responses = {}
    for state, made in calls.items():
        made.sort(key=lambda call: call[0])
        responses[states[state]] = _ranges(response for _, response in made)
    return {"StateMachines": {machine: {"TestCases": {test_case: states}}},
            "MockedResponses": responses}


def dumps_mock_file(config: Mapping[str, JSON]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def write_mock_file(config: Mapping[str, JSON], target: str | os.PathLike[str] | TextIO) -> None:
    """Write a mock configuration as a JSON file (a path, or an open text stream)."""
    text = dumps_mock_file(config)
    if isinstance(target, str | os.PathLike):
        with open(target, "w", encoding="utf-8") as stream:
            stream.write(text)
    else:
        target.write(text)


def _ranges(responses: Iterable[dict[str, JSON]]) -> dict[str, dict[str, JSON]]:
    """{"0": r0, "1-3": r1, ...}: runs of equal responses as one range."""
    runs: list[tuple[int, int, bytes, dict[str, JSON]]] = []
    for index, response in enumerate(responses):
        # Compared as canonical JSON: Python's == takes 1 for True and 1.0.
        canonical = msgspec.json.encode(response, order="sorted")
        if runs and runs[-1][2] == canonical:
            start, _, _, first = runs[-1]
            runs[-1] = (start, index, canonical, first)
        else:
            runs.append((index, index, canonical, response))
    return {(str(start) if start == end else f"{start}-{end}"): response
            for start, end, _, response in runs}


def _walk_to(steps: Mapping[int, _Step], step: _Step, event_types: str | tuple[str, ...]
             ) -> _Step:
    wanted = (event_types,) if isinstance(event_types, str) else event_types
    current = step
    while current.type not in wanted:
        previous = steps.get(current.previous)
        if previous is None or previous.id >= current.id:
            raise HistoryFormatError(
                f"Event {step.id} ({step.type}) does not lead back to a {' or '.join(wanted)} "
                f"event through previousEventId (stopped at event {current.id}, "
                f"{current.type})")
        current = previous
    return current


def _state_name(steps: Mapping[int, _Step], scheduled: _Step) -> str:
    entered = _walk_to(steps, scheduled, "TaskStateEntered")
    if entered.name is None:
        raise HistoryFormatError(f"Event {entered.id} (TaskStateEntered) names no state")
    return entered.name


def _machine_name(machine_arn: str | None) -> str:
    parts = machine_arn.split(":") if machine_arn else []
    if len(parts) < 7 or parts[5] != "stateMachine":
        raise HistoryFormatError("The history does not name its state machine: give "
                                 "state_machine_name")
    return parts[6]


def _steps(history: Sequence[ev.HistoryEvent] | Sequence[Mapping[str, Any]]
           | Mapping[str, Any]) -> list[_Step]:
    if isinstance(history, Mapping):
        events = history.get("events")
        if not isinstance(events, list):
            raise HistoryFormatError("Expected a list of history events, or a "
                                     "GetExecutionHistory response with 'events'")
        history = events
    steps = []
    for event in history:
        step = _raw_step(event) if isinstance(event, ev.HistoryEvent) else _aws_step(event)
        if step is not None:
            steps.append(step)
    return steps


def _raw_step(event: ev.HistoryEvent) -> _Step | None:
    if event.type in ev.INTERNAL_TYPES:
        return None
    details = event.details
    step = _Step(event.id, event.previous_event_id, event.type)
    match details:
        case ev.StateEnteredDetails() if event.type == "TaskStateEntered":
            return step._replace(name=details.name)
        case ev.TaskResourceDetails() | ev.OutcomeDetails() if event.type in _OUTCOMES:
            if event.type in _SUCCEEDED:
                return step._replace(response={"Return": details.output})
            return step._replace(response=_throw(event.type, details.error, details.cause))
        case ev.ExecutionStartedDetails():
            return step._replace(machine_arn=details.state_machine_arn or None)
    return step


def _aws_step(event: Mapping[str, Any]) -> _Step:
    try:
        event_id, previous, event_type = (int(event["id"]), int(event.get("previousEventId", 0)),
                                          str(event["type"]))
    except (KeyError, TypeError, ValueError):
        raise HistoryFormatError(f"Not a history event: {event!r:.200}") from None
    details = event.get(details_key(event_type)) or {}
    step = _Step(event_id, previous, event_type)
    if event_type == "TaskStateEntered":
        return step._replace(name=details.get("name"))
    if event_type == "ExecutionStarted":
        return step._replace(machine_arn=details.get("stateMachineArn"))
    if event_type in _SUCCEEDED:
        if "output" not in details:
            raise HistoryFormatError(
                f"Event {event_id} ({event_type}) has no output: fetch the history with "
                "includeExecutionData=True")
        return step._replace(response={"Return": json.loads(details["output"])})
    if event_type in _OUTCOMES:
        return step._replace(response=_throw(event_type, details.get("error"),
                                             details.get("cause")))
    return step


def _throw(event_type: str, error: str | None, cause: str | None) -> dict[str, JSON]:
    # Both tools require a Cause string; an absent cause is written as "".
    return {"Throw": {"Error": error or _DEFAULT_ERRORS[event_type], "Cause": cause or ""}}
