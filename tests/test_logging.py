"""Logs: structlog configuration and execution binding, and execution logs as a state
machine's loggingConfiguration asks for them (AWS "Log levels" table; the line shape and the
includeExecutionData behaviour as AWS wrote them to CloudWatch Logs)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, MutableMapping
from typing import Any

import anyio
import pytest
import structlog
from anyio.abc import TaskGroup
from structlog.testing import capture_logs

from runtime import Runtime
from runtime import events as ev
from runtime.logging import (
    LOG_LEVELS,
    ExecutionLogConfig,
    bind_execution,
    bind_execution_to_task,
    configure_logging,
    execution_log_config,
    execution_log_line,
    execution_log_writer,
    is_logged,
)
from runtime.state import new_state

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/states/orders:*"

# AWS's table (Step Functions developer guide, "Log levels"), plus MapRunAborted/MapRunFailed:
# the levels at which each event type is logged. Every type is logged at ALL, none at OFF.
ERROR_AND_FATAL = {"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"}
ERROR_ONLY = {
    "FailStateEntered", "LambdaFunctionFailed", "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed", "LambdaFunctionTimedOut", "MapIterationAborted",
    "MapIterationFailed", "MapRunAborted", "MapRunFailed", "MapStateAborted", "MapStateFailed",
    "ParallelStateAborted", "ParallelStateFailed", "TaskFailed", "TaskStartFailed",
    "TaskStateAborted", "TaskSubmitFailed", "TaskTimedOut", "WaitStateAborted",
}
ALL_ONLY = {
    "ChoiceStateEntered", "ChoiceStateExited", "ExecutionStarted", "ExecutionSucceeded",
    "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
    "MapIterationStarted", "MapIterationSucceeded", "MapStateEntered", "MapStateExited",
    "MapStateStarted", "MapStateSucceeded", "ParallelStateEntered", "ParallelStateExited",
    "ParallelStateStarted", "ParallelStateSucceeded", "PassStateEntered", "PassStateExited",
    "SucceedStateEntered", "SucceedStateExited", "TaskScheduled", "TaskStarted",
    "TaskStateEntered", "TaskStateExited", "TaskSubmitted", "TaskSucceeded",
    "WaitStateEntered", "WaitStateExited", "ActivityScheduled", "ActivitySucceeded",
    "MapRunStarted", "MapRunSucceeded", "ExecutionRedriven",
}
TABLE = [(event_type, "ALL") for event_type in ALL_ONLY] \
    + [(event_type, "ERROR") for event_type in ERROR_ONLY] \
    + [(event_type, "FATAL") for event_type in ERROR_AND_FATAL]
_RANK = {"ALL": 0, "ERROR": 1, "FATAL": 2}


@pytest.mark.parametrize(("event_type", "most_severe_level"), sorted(TABLE))
@pytest.mark.parametrize("level", LOG_LEVELS)
def test_log_level_table(level: str, event_type: str, most_severe_level: str) -> None:
    expected = level != "OFF" and _RANK[level] <= _RANK[most_severe_level]
    assert is_logged(level, event_type) is expected


@pytest.mark.parametrize("level", LOG_LEVELS)
@pytest.mark.parametrize("event_type", sorted(ev.INTERNAL_TYPES))
def test_internal_events_are_never_logged(level: str, event_type: str) -> None:
    assert not is_logged(level, event_type)


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="DEBUG"):
        is_logged("DEBUG", "ExecutionFailed")
    with pytest.raises(ValueError, match="DEBUG"):
        execution_log_config({"level": "DEBUG"})


def _event(type_: str, details: Any = None, id_: int = 1, previous: int = 0) -> ev.HistoryEvent:
    return ev.HistoryEvent(id=id_, previous_event_id=previous, timestamp=1713959670.672,
                           type=type_, details=details)


STARTED = _event("ExecutionStarted", ev.ExecutionStartedDetails(
    input={"a": 1}, role_arn="arn:aws:iam::123456789012:role/r", seed=7,
    state_machine_arn=MACHINE))


def test_a_log_line_has_aws_shape_with_numbers_as_strings() -> None:
    line = execution_log_line(STARTED, execution_arn=EXECUTION, redrive_count=0,
                              include_execution_data=True)
    assert line == {
        "id": "1", "type": "ExecutionStarted",
        "details": {"input": '{"a":1}', "inputDetails": {"truncated": False},
                    "roleArn": "arn:aws:iam::123456789012:role/r"},
        "previous_event_id": "0", "event_timestamp": "1713959670672",
        "execution_arn": EXECUTION, "redrive_count": "0",
    }


def test_without_execution_data_inputs_and_outputs_are_left_out() -> None:
    started = execution_log_line(STARTED, execution_arn=EXECUTION, redrive_count=1,
                                 include_execution_data=False)
    assert started["details"] == {"roleArn": "arn:aws:iam::123456789012:role/r"}
    assert started["redrive_count"] == "1"
    entered = _event("PassStateEntered", ev.StateEnteredDetails(name="P", input={"x": 1}), 2)
    exited = _event("PassStateExited", ev.StateExitedDetails(name="P", output=[1]), 3, 2)
    succeeded = _event("ExecutionSucceeded", ev.ExecutionSucceededDetails(output=[1]), 4, 3)
    lines = [execution_log_line(e, execution_arn=EXECUTION, redrive_count=0,
                                include_execution_data=False)["details"]
             for e in (entered, exited, succeeded)]
    # AWS logs ExecutionSucceeded with empty details rather than none.
    assert lines == [{"name": "P"}, {"name": "P"}, {}]
    with_data = execution_log_line(exited, execution_arn=EXECUTION, redrive_count=0,
                                   include_execution_data=True)
    assert with_data["details"] == {"name": "P", "output": "[1]",
                                    "outputDetails": {"truncated": False}}


def test_errors_and_causes_are_logged_with_or_without_execution_data() -> None:
    failed = _event("ExecutionFailed", ev.ErrorDetails(error="SomeFailure", cause="boom"), 3, 2)
    for include in (True, False):
        line = execution_log_line(failed, execution_arn=EXECUTION, redrive_count=0,
                                  include_execution_data=include)
        assert line["details"] == {"error": "SomeFailure", "cause": "boom"}


def test_logging_configuration_is_read_as_the_api_takes_it() -> None:
    assert execution_log_config(None) == ExecutionLogConfig(level="OFF")
    assert execution_log_config({"level": "ERROR"}) == ExecutionLogConfig(level="ERROR")
    assert execution_log_config({
        "level": "ALL", "includeExecutionData": True,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}],
    }) == ExecutionLogConfig(level="ALL", include_execution_data=True, log_group=LOG_GROUP)
    assert execution_log_writer(None) is None
    assert execution_log_writer({"level": "OFF", "includeExecutionData": True}) is None


FAILING = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Result": {"k": 1}, "Next": "FailState"},
    "FailState": {"Type": "Fail", "Error": "SomeFailure", "Cause": "it failed"}}}


@pytest.fixture(scope="module")
def failed_history() -> tuple[list[ev.HistoryEvent], str]:
    async def run() -> tuple[list[ev.HistoryEvent], str]:
        async with Runtime(clock="virtual") as runtime:
            done = await runtime.run(FAILING, {"in": True})
            return runtime.history(done.execution_arn), done.execution_arn
    return anyio.run(run)


def _written(config: dict[str, Any], history: list[ev.HistoryEvent], arn: str
             ) -> list[MutableMapping[str, Any]]:
    writer = execution_log_writer(config)
    if writer is None:
        return []
    with capture_logs() as captured:
        writer.write(new_state(arn, MACHINE, arn.rsplit(":", 1)[-1]), history)
    return captured


@pytest.mark.parametrize(("level", "types"), [
    ("ALL", ["ExecutionStarted", "PassStateEntered", "PassStateExited", "FailStateEntered",
             "ExecutionFailed"]),
    ("ERROR", ["FailStateEntered", "ExecutionFailed"]),
    ("FATAL", ["ExecutionFailed"]),
    ("OFF", []),
])
def test_a_failed_execution_logs_what_its_level_asks_for(
        failed_history: tuple[list[ev.HistoryEvent], str], level: str, types: list[str]
) -> None:
    history, arn = failed_history
    lines = _written({"level": level, "includeExecutionData": False}, history, arn)
    assert [line["type"] for line in lines] == types
    assert all(line["event"] == "execution_history" and line["execution_arn"] == arn
               for line in lines)
    severity = {line["type"]: line["log_level"] for line in lines}
    assert severity.get("ExecutionFailed", "error") == "error"
    assert severity.get("FailStateEntered", "warning") == "warning"
    assert severity.get("PassStateEntered", "info") == "info"


@pytest.mark.parametrize("include", [True, False])
def test_include_execution_data_at_error_level(
        failed_history: tuple[list[ev.HistoryEvent], str], include: bool) -> None:
    history, arn = failed_history
    lines = _written({"level": "ERROR", "includeExecutionData": include,
                      "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}]},
                     history, arn)
    entered = lines[0]
    assert entered["type"] == "FailStateEntered" and entered["log_group"] == LOG_GROUP
    if include:
        assert entered["details"] == {"name": "FailState", "input": '{"k":1}',
                                      "inputDetails": {"truncated": False}}
    else:
        assert entered["details"] == {"name": "FailState"}
    assert lines[1]["details"] == {"error": "SomeFailure", "cause": "it failed"}


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("restore_structlog")
@pytest.mark.anyio
async def test_json_lines_carry_the_execution_bound_to_their_task() -> None:
    sink = io.StringIO()
    configure_logging(renderer="json", level="info", stream=lambda: sink)
    log = structlog.get_logger("stepline.test")

    async def task_call(execution_arn: str, state: str) -> None:
        bind_execution_to_task(execution_arn, state)
        await anyio.sleep(0)  # the other task binds its own execution meanwhile
        log.info("task_started", attempt=2)

    async with anyio.create_task_group() as group:
        group.start_soon(task_call, EXECUTION, "Charge")
        group.start_soon(task_call, f"{EXECUTION}-other", "Ship")
    log.info("outside")
    *inside, outside = (json.loads(line) for line in sink.getvalue().splitlines())
    assert {(line["execution_arn"], line["state"]) for line in inside} == {
        (EXECUTION, "Charge"), (f"{EXECUTION}-other", "Ship")}
    assert all(line["event"] == "task_started" and line["attempt"] == 2
               and line["level"] == "info" and "timestamp" in line for line in inside)
    assert "execution_arn" not in outside


@pytest.mark.usefixtures("restore_structlog")
def test_json_lines_hold_exceptions_and_values_json_cannot() -> None:
    sink = io.StringIO()
    configure_logging(renderer="json", stream=lambda: sink)

    class Segment:
        def __str__(self) -> str:
            return "segment 7"

    try:
        raise RuntimeError("disk full")
    except RuntimeError:
        structlog.get_logger().exception("append_failed", segment=Segment())
    line = json.loads(sink.getvalue())
    assert line["exception"][0]["exc_type"] == "RuntimeError"
    assert line["segment"] == "segment 7"


@pytest.mark.usefixtures("restore_structlog")
def test_console_lines_and_the_process_level() -> None:
    sink = io.StringIO()
    configure_logging(renderer="console", level="warning", stream=lambda: sink)
    log = bind_execution(structlog.get_logger(), EXECUTION, "Wait")
    log.info("hidden")
    log.warning("timer_late", seconds=3)
    text = sink.getvalue()
    assert "hidden" not in text
    assert "timer_late" in text and f"execution_arn={EXECUTION}" in text
    assert "state=Wait" in text and "seconds=3" in text


@pytest.mark.usefixtures("restore_structlog")
@pytest.mark.anyio
async def test_tasks_an_execution_starts_log_with_its_binding() -> None:
    sink = io.StringIO()
    configure_logging(renderer="json", stream=lambda: sink)

    async def effect() -> None:
        structlog.get_logger().info("invoked")

    async def actor(group: TaskGroup) -> None:
        bind_execution_to_task(EXECUTION)
        group.start_soon(effect)

    async with anyio.create_task_group() as group:
        group.start_soon(actor, group)
    line = json.loads(sink.getvalue())
    assert line["execution_arn"] == EXECUTION and "state" not in line


def test_bind_execution_without_a_state_binds_the_execution_only() -> None:
    with capture_logs() as captured:
        bind_execution(structlog.get_logger(), EXECUTION).info("resumed")
    assert captured == [{"event": "resumed", "execution_arn": EXECUTION, "log_level": "info"}]
