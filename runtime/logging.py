"""Logs: the process's structured log, and the execution logs a state machine asks for.

Process log (structlog). `configure_logging` picks the renderer (JSON lines or console) and the
level. Lines logged while an execution is being served carry `execution_arn`, and `state`
where one state's work is being done: `bind_execution_to_task` binds them in contextvars for
everything the current task (and the tasks it starts) logs; `bind_execution` binds them on one
logger.

Execution logs. With a state machine's `loggingConfiguration.level` other than OFF, AWS sends
its executions' history events to CloudWatch Logs: every event at ALL, failures at ERROR, the
execution-ending failures at FATAL (the table in
https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html), leaving
inputs and outputs out unless `includeExecutionData` is true. Stepline writes the same
lines, in the shape AWS writes them (`id`, `type`, `details`, `previous_event_id`,
`event_timestamp` in epoch milliseconds, `execution_arn`, `redrive_count`, numbers as
strings), to the process log as `execution_history` events bound with the destination's
`log_group`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal, TextIO, TypeVar, get_args

import msgspec
import structlog
from structlog.typing import BindableLogger, Processor

from runtime import events as ev
from runtime.history import render_details
from runtime.state import ExecutionState

Renderer = Literal["json", "console"]
LogLevel = Literal["ALL", "ERROR", "FATAL", "OFF"]
LOG_LEVELS: Final[tuple[str, ...]] = get_args(LogLevel)

BoundLogger = TypeVar("BoundLogger", bound=BindableLogger)


# --------------------------------------------------------------------------- process log

def configure_logging(*, renderer: Renderer = "console", level: str = "info",
                      stream: Callable[[], TextIO] | None = None) -> None:
    """Configure structlog for the whole process.

    Args:
        renderer: "json" (one JSON object a line, for log shippers) or "console" (aligned,
            coloured when the stream is a terminal).
        level: the least severe level written ("debug", "info", "warning", "error").
        stream: where lines go, asked for each logger made (so a stream swapped in later,
            as pytest swaps sys.stderr, is used); sys.stderr by default.
    """
    target = stream if stream is not None else _stderr
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if renderer == "json":
        shared += [structlog.processors.dict_tracebacks,
                   structlog.processors.JSONRenderer(serializer=_json_line)]
    else:
        shared += [structlog.dev.set_exc_info,
                   structlog.dev.ConsoleRenderer(colors=_is_terminal(target()))]
    structlog.configure(
        processors=shared,
        wrapper_class=structlog.make_filtering_bound_logger(level.lower()),
        logger_factory=lambda *args: structlog.PrintLogger(target()),
        cache_logger_on_first_use=False,
    )


def bind_execution(logger: BoundLogger, execution_arn: str, state: str | None = None
                   ) -> BoundLogger:
    """`logger` with the execution (and the state, when given) bound on every line."""
    if state is None:
        return logger.bind(execution_arn=execution_arn)
    return logger.bind(execution_arn=execution_arn, state=state)


def bind_execution_to_task(execution_arn: str, state: str | None = None) -> None:
    """Bind the execution (and state) on every line the current task logs from now on, and
    the tasks it starts. Call it first thing in a task's own coroutine (an actor's run, a
    task call): a task runs in its own copy of the context, so the binding ends with the
    task and needs no undoing, which keeps it to one contextvar set per key (about 0.6 us;
    a `with` block that restores the previous values costs five times that)."""
    if state is None:
        structlog.contextvars.bind_contextvars(execution_arn=execution_arn)
    else:
        structlog.contextvars.bind_contextvars(execution_arn=execution_arn, state=state)


def _stderr() -> TextIO:
    return sys.stderr


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _json_line(value: Any, **_: Any) -> str:
    # Objects msgspec cannot encode (an exception in a field, say) are logged as their text.
    return msgspec.json.encode(value, enc_hook=str).decode()


# --------------------------------------------------------------------------- execution logs

#: Event types logged at ERROR (AWS's table, with the Map Run failures of Distributed Map).
ERROR_EVENT_TYPES: Final = frozenset({
    "ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut", "FailStateEntered",
    "LambdaFunctionFailed", "LambdaFunctionScheduleFailed", "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut", "MapIterationAborted", "MapIterationFailed", "MapRunAborted",
    "MapRunFailed", "MapStateAborted", "MapStateFailed", "ParallelStateAborted",
    "ParallelStateFailed", "TaskFailed", "TaskStartFailed", "TaskStateAborted",
    "TaskSubmitFailed", "TaskTimedOut", "WaitStateAborted",
})
#: Event types logged at FATAL: the execution ended unsuccessfully.
FATAL_EVENT_TYPES: Final = frozenset({"ExecutionAborted", "ExecutionFailed",
                                      "ExecutionTimedOut"})


def is_logged(level: str, event_type: str) -> bool:
    """Whether a state machine logging at `level` logs events of `event_type`."""
    match level:
        case "ALL":
            return event_type not in ev.INTERNAL_TYPES
        case "ERROR":
            return event_type in ERROR_EVENT_TYPES
        case "FATAL":
            return event_type in FATAL_EVENT_TYPES
        case "OFF":
            return False
    raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LOG_LEVELS)}")


def execution_log_line(event: ev.HistoryEvent, *, execution_arn: str, redrive_count: int,
                       include_execution_data: bool) -> dict[str, Any]:
    """One history event as AWS writes it to CloudWatch Logs."""
    details = render_details(event, include_data=include_execution_data) or {}
    if "stateMachineArn" in details:
        # GetExecutionHistory's ExecutionStarted has it; AWS's log lines do not.
        details = {key: value for key, value in details.items() if key != "stateMachineArn"}
    return {
        "id": str(event.id),
        "type": event.type,
        "details": details,
        "previous_event_id": str(event.previous_event_id),
        "event_timestamp": str(round(event.timestamp * 1000)),
        "execution_arn": execution_arn,
        "redrive_count": str(redrive_count),
    }


class ExecutionLogConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A state machine's `loggingConfiguration`, as far as the log lines depend on it."""

    level: LogLevel = "OFF"
    include_execution_data: bool = False
    #: The first destination's CloudWatch log group ARN (AWS allows one destination).
    log_group: str | None = None


def execution_log_config(configuration: Mapping[str, Any] | None) -> ExecutionLogConfig:
    """Read CreateStateMachine's `loggingConfiguration` (None: logging OFF, AWS's default).
    Raises ValueError for a level AWS does not have."""
    if not configuration:
        return ExecutionLogConfig()
    level = configuration.get("level", "OFF")
    if level not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LOG_LEVELS)}")
    log_group = None
    for destination in configuration.get("destinations") or ():
        log_group = (destination.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn")
        break
    return ExecutionLogConfig(level=level,
                              include_execution_data=bool(
                                  configuration.get("includeExecutionData", False)),
                              log_group=log_group)


class ExecutionLogWriter:
    """Writes the execution log lines of one turn's events, as `config` asks.

    A line's log method follows what the event means for the execution: FATAL types are
    logged as errors, the other ERROR types as warnings, everything else as info, so the
    process log level can thin them further.
    """

    def __init__(self, config: ExecutionLogConfig, *, logger: Any = None) -> None:
        self.config = config
        base = logger if logger is not None else structlog.get_logger("stepline.executions")
        self.logger = base.bind(log_group=config.log_group) if config.log_group else base

    def write(self, state: ExecutionState, events: Sequence[ev.HistoryEvent]) -> None:
        """Log `events` of the execution `state` is (just after them)."""
        level = self.config.level
        for event in events:
            if not is_logged(level, event.type):
                continue
            line = execution_log_line(
                event, execution_arn=state.execution_arn, redrive_count=state.redrive_count,
                include_execution_data=self.config.include_execution_data)
            if event.type in FATAL_EVENT_TYPES:
                self.logger.error("execution_history", **line)
            elif event.type in ERROR_EVENT_TYPES:
                self.logger.warning("execution_history", **line)
            else:
                self.logger.info("execution_history", **line)


def execution_log_writer(configuration: Mapping[str, Any] | None, *, logger: Any = None
                         ) -> ExecutionLogWriter | None:
    """The writer for a state machine's `loggingConfiguration`; None when it logs nothing,
    so an actor pays nothing for logging that is OFF."""
    config = execution_log_config(configuration)
    if config.level == "OFF":
        return None
    return ExecutionLogWriter(config, logger=logger)
