"""TestState: run ONE state of a definition with Stepline's compiled data flow and reducers.

The state under test is compiled into a one-state machine whose transition targets are stub
`Succeed` states, so the pure core runs it exactly as an execution would and stops right after
it. A mocked Task result (or error) is fed to the Task reducer as the task's outcome; a mocked
Map/Parallel result goes through the state's output data flow, a mocked error through its
Retry/Catch. Without a mock, the caller runs each `pending()` task call and reports it with
`complete()` (pure: this module calls nothing).

Statuses, as AWS's TestState reports them: SUCCEEDED (output, nextState); FAILED (error,
cause); RETRIABLE (a Retrier would retry: errorDetails.retryIndex and
retryBackoffIntervalSeconds, no output); CAUGHT_ERROR (a Catcher handled the error: output,
nextState, errorDetails.catchIndex). TestState does not wait: Wait states and retry intervals
inside Map/Parallel iterations elapse at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Literal

import msgspec
from msgspec.structs import replace

from runtime import events as ev
from runtime.dataflow.paths import compile_input_path, compile_result_path
from runtime.dataflow.payload import compile_payload
from runtime.dataflow.scope import JSON, Scope
from runtime.effects import InvokeTask, StartTimer
from runtime.errors import AslError, StatesError
from runtime.messages import TaskCompleted, TimerFired
from runtime.model.machine import decode_machine
from runtime.model.validate import invalid_definition_message, validate_definition
from runtime.program import Node, Program, RecoverableNode, TaskNode, compile_program
from runtime.reducers import decide, task
from runtime.reducers.dispatch import run_state
from runtime.reducers.recovery import handle_error
from runtime.reducers.retry import find_retrier, matches
from runtime.reducers.turn import TIMEOUT_SUFFIX, Turn
from runtime.state import ExecutionState, Frame, Waiting

InspectionLevel = Literal["INFO", "DEBUG", "TRACE"]
MOCKABLE: Final = frozenset({"Task", "Map", "Parallel"})
TEST_EXECUTION_ARN: Final = "arn:aws:states:us-east-1:123456789012:execution:TestState:test"
TEST_MACHINE_ARN: Final = "arn:aws:states:us-east-1:123456789012:stateMachine:TestState"
_ERROR_EVENTS: Final = frozenset({"TaskFailed", "TaskTimedOut", "MapStateFailed",
                                   "ParallelStateFailed", "EvaluationFailed"})
_decode = msgspec.json.decode


def _text(value: JSON) -> str:
    return msgspec.json.encode(value).decode()


class Mock(msgspec.Struct, frozen=True, kw_only=True):
    #: The mocked result as JSON text; or `error` (and `cause`) for a mocked failure.
    result: str | None = None
    error: str | None = None
    cause: str | None = None


class TestStateRequest(msgspec.Struct, frozen=True, kw_only=True):
    definition: str
    input: str | None = None
    inspection_level: InspectionLevel = "INFO"
    variables: str | None = None
    state_name: str | None = None
    mock: Mock | None = None
    context: str | None = None
    role_arn: str = ""
    #: stateConfiguration.retrierRetryCount: retries already made by the matching Retrier.
    retrier_retry_count: int = 0


class TestStateResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """TestState's response, in its wire names."""

    status: str
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    nextState: str | None = None
    inspectionData: dict[str, Any] | None = None


class TestRun:
    """One TestState call. Drive it with `pending()`/`complete()`, then read `result()`."""

    def __init__(self, request: TestStateRequest, *, now: float, seed: int = 0) -> None:
        self.request = request
        self.name, spec, self.program = _compile(request)
        self.node = self.program.machines[""].states[self.name]
        if request.mock is not None and self.node.kind not in MOCKABLE:
            raise AslError("ValidationException",
                           "A mock can only be specified for Task, Map, or Parallel states.")
        if request.context is not None and request.mock is None:
            raise AslError("ValidationException",
                           "The context field may only be specified together with a mock.")
        self.input = _json_field(request.input, "input", {})
        variables = _json_field(request.variables, "variables", {})
        if not isinstance(variables, dict):
            raise AslError("InvalidExecutionInput", "Variables must be a JSON object.")
        self.spec = spec
        self._stages = _Stages(spec, self.node) if request.inspection_level != "INFO" else None
        self.at = now
        self.events: list[ev.HistoryEvent] = []
        self._pending: dict[str, InvokeTask] = {}
        self._mock_result: JSON = None
        self.state = _initial_state(self.input, variables, request.context, now, seed)
        self._enter(request.mock)

    # -- driving ----------------------------------------------------------------------------

    def pending(self) -> list[InvokeTask]:
        """Task calls still to run (none once the state under test has finished)."""
        return [] if self._finished() else list(self._pending.values())

    def complete(self, key: str, *, output: JSON = None, error: str | None = None,
                 cause: str | None = None, failed: bool = False) -> None:
        self._pending.pop(key, None)
        self._step(TaskCompleted(at=self.at, key=key, output=output, error=error,
                                 cause=cause, failed=failed))

    def _enter(self, mock: Mock | None) -> None:
        turn = Turn(self.program, self.state, self.at)
        node = self.node
        turn.emit(f"{node.kind}StateEntered", "",
                  ev.StateEnteredDetails(name=self.name, input=self.input))
        if mock is not None and mock.error is not None:
            self._preset_retries(turn, mock.error)
        if mock is None:
            run_state(turn, "", node)
        elif isinstance(node, TaskNode):
            task.run_task(turn, "", node)
            if turn.frame("").waiting is not None:
                turn.effects.clear()
                self._outcome(turn, node, mock)
        else:
            self._outcome(turn, node, mock)
        turn.run()
        self._absorb(turn.events, [*turn.effects], turn.work)

    def _outcome(self, turn: Turn, node: Node, mock: Mock) -> None:
        if mock.error is not None:
            if isinstance(node, TaskNode):
                task.task_failed(turn, "", node, _waiting(turn), mock.error, mock.cause)
            else:
                handle_error(turn, "", node, mock.error, mock.cause)
            return
        result = _json_field(mock.result, "mock.result", None)
        self._mock_result = result
        if isinstance(node, TaskNode):
            task.task_succeeded(turn, "", node, _waiting(turn), result)
            return
        scope = turn.scope(turn.frame(""))
        try:
            output = node.output(scope, result)
            assigned = node.assign(scope, result)
        except StatesError as failure:
            turn.fail_state("", node, failure)
            return
        turn.exit_state("", node, output, assigned, node.next)

    def _preset_retries(self, turn: Turn, error: str) -> None:
        node = self.node
        count = self.request.retrier_retry_count
        if not count or not isinstance(node, RecoverableNode):
            return
        index = find_retrier(node.retriers, error)
        if index is None:
            return
        frame = turn.frame("")
        counts = (0,) * index + (count,)
        turn.work.frames[""] = replace(frame, retry_counts=counts, retry_count=count)

    def _step(self, message: TaskCompleted | TimerFired) -> None:
        decision = decide(self.program, self.state, message)
        self._absorb(list(decision.events), list(decision.effects), decision.state)

    def _absorb(self, events: list[ev.HistoryEvent], effects: list[Any],
                state: ExecutionState) -> None:
        self.events.extend(events)
        self.state = state
        timers: list[StartTimer] = []
        for effect in effects:
            if isinstance(effect, InvokeTask):
                self._pending[effect.key] = effect
            elif isinstance(effect, StartTimer) and not effect.key.endswith(TIMEOUT_SUFFIX):
                timers.append(effect)
        for timer in timers:
            if not self._finished():
                self._step(TimerFired(at=self.at, key=timer.key))

    def _finished(self) -> bool:
        return self.state.status != "RUNNING" or self._root_retry() is not None or any(
            e.frame == "" and e.type.endswith("StateExited") for e in self.events)

    def _root_retry(self) -> ev.HistoryEvent | None:
        for event in self.events:
            details = event.details
            if (event.frame == "" and isinstance(details, ev.TimerStartedDetails)
                    and details.purpose.startswith("retry:")):
                return event
        return None

    # -- the answer -------------------------------------------------------------------------

    def result(self) -> TestStateResult:
        error, cause = self._root_error()
        retry = self._root_retry()
        inspection = self._inspection() if self.request.inspection_level != "INFO" else None
        if retry is not None:
            assert isinstance(retry.details, ev.TimerStartedDetails)
            if inspection is not None:
                inspection["errorDetails"] = {
                    "retryIndex": int(retry.details.purpose.removeprefix("retry:")),
                    "retryBackoffIntervalSeconds": _whole(retry.details.due - retry.timestamp),
                }
            return TestStateResult(status="RETRIABLE", error=error, cause=cause,
                                   inspectionData=inspection)
        exited = next((e for e in self.events if e.frame == "" and isinstance(
            e.details, ev.StateExitedDetails) and e.details.name == self.name), None)
        if exited is None or not isinstance(exited.details, ev.StateExitedDetails):
            failed = next((e for e in self.events if e.type == "ExecutionFailed"), None)
            if failed is not None and isinstance(failed.details, ev.ErrorDetails):
                error, cause = failed.details.error, failed.details.cause
            return TestStateResult(status="FAILED", error=error, cause=cause,
                                   inspectionData=inspection)
        details = exited.details
        next_state = None if details.end else self._next_after(exited)
        if inspection is not None:
            variables = {**self.state_variables(), **(details.assigned_variables or {})}
            if variables:
                inspection["variables"] = _text(variables)
        if error is not None:
            if inspection is not None and isinstance(self.node, RecoverableNode):
                index = next(i for i, c in enumerate(self.node.catchers)
                             if matches(c.error_equals, error))
                inspection["errorDetails"] = {"catchIndex": index}
            return TestStateResult(status="CAUGHT_ERROR", output=_text(details.output),
                                   error=error, cause=cause, nextState=next_state,
                                   inspectionData=inspection)
        return TestStateResult(status="SUCCEEDED", output=_text(details.output),
                               nextState=next_state, inspectionData=inspection)

    def state_variables(self) -> dict[str, JSON]:
        return _decode(self.request.variables) if self.request.variables else {}

    def _next_after(self, exited: ev.HistoryEvent) -> str | None:
        after = self.events[self.events.index(exited) + 1:]
        entered = next((e for e in after if e.frame == "" and isinstance(
            e.details, ev.StateEnteredDetails)), None)
        return entered.details.name if entered is not None and isinstance(
            entered.details, ev.StateEnteredDetails) else None

    def _root_error(self) -> tuple[str | None, str | None]:
        error: tuple[str | None, str | None] = (None, None)
        for event in self.events:
            details = event.details
            if event.frame != "":
                continue
            if isinstance(details, ev.TaskResourceDetails | ev.FanoutDetails | ev.ErrorDetails) \
                    and event.type in _ERROR_EVENTS:
                error = (details.error, details.cause)
        if error[0] is None and self.request.mock is not None and self.request.mock.error:
            error = (self.request.mock.error, self.request.mock.cause)
        return error

    def _inspection(self) -> dict[str, Any]:
        """The data-flow stages of the state, as JSON text (AWS's inspectionData)."""
        out: dict[str, Any] = {"input": _text(self.input)}
        scope = Scope(self.input, variables=self.state_variables())
        scheduled = next((e.details for e in self.events if e.frame == "" and isinstance(
            e.details, ev.TaskScheduledDetails)), None)
        result = next((e.details.output for e in self.events if e.frame == "" and isinstance(
            e.details, ev.TaskResourceDetails) and e.details.has_output), self._mock_result)
        stages = self._stages
        assert stages is not None
        try:
            if self.node.jsonata:
                if scheduled is not None:
                    out["afterArguments"] = _text(scheduled.parameters)
            else:
                after_input = stages.input_path(scope)
                out["afterInputPath"] = _text(after_input)
                if stages.parameters is not None:
                    out["afterParameters"] = _text(
                        scheduled.parameters if scheduled is not None
                        else stages.parameters(scope.with_input(after_input)))
            if result is not None:
                out["result"] = _text(result)
                if not self.node.jsonata and stages.result_path is not None:
                    selected = stages.result_selector(scope.with_input(result)) \
                        if stages.result_selector is not None else result
                    if stages.result_selector is not None:
                        out["afterResultSelector"] = _text(selected)
                    out["afterResultPath"] = _text(stages.result_path(self.input, selected))
        except StatesError:
            pass  # the state failed on this stage; its error is the answer
        return out


class _Stages:
    __slots__ = ("input_path", "parameters", "result_path", "result_selector")

    def __init__(self, spec: dict[str, Any], node: Node) -> None:
        self.input_path: Callable[[Scope], JSON] = compile_input_path(spec.get("InputPath", "$"))
        template = spec.get("Parameters")
        self.parameters = compile_payload(template) if template is not None else None
        selector = spec.get("ResultSelector")
        self.result_selector = compile_payload(selector) if selector is not None else None
        self.result_path: Callable[[JSON, JSON], JSON] | None = (
            compile_result_path(spec.get("ResultPath", "$"))
            if node.kind in ("Task", "Map", "Parallel", "Pass") else None)


def _whole(seconds: float) -> int | float:
    return int(seconds) if float(seconds).is_integer() else seconds


def _json_field(text: str | None, field: str, default: JSON) -> JSON:
    if text is None:
        return default
    try:
        return _decode(text)
    except msgspec.DecodeError as exc:
        code = "ValidationException" if field.startswith("mock") else "InvalidExecutionInput"
        raise AslError(code, f"Invalid {field}: {exc}") from None


def _compile(request: TestStateRequest) -> tuple[str, dict[str, Any], Program]:
    """(state name, its definition, a one-state program with stub transition targets)."""
    try:
        definition = _decode(request.definition)
    except msgspec.DecodeError as exc:
        raise AslError("InvalidDefinition",
                       f"Invalid State Machine Definition: '{exc}'") from None
    if not isinstance(definition, dict):
        raise AslError("InvalidDefinition", "Invalid State Machine Definition: 'not an object'")
    language = None
    if "States" in definition:
        _check(definition)
        name = request.state_name or definition.get("StartAt", "")
        spec = definition["States"].get(name)
        if not isinstance(spec, dict):
            raise AslError("ValidationException", f"State '{name}' is not in the definition.")
        language = definition.get("QueryLanguage")
    elif request.state_name is not None:
        raise AslError("ValidationException",
                       "stateName can only be used with a complete state machine definition.")
    else:
        name, spec = "TestState", definition
    machine: dict[str, Any] = {"StartAt": name, "States": {name: spec}}
    if language is not None:
        machine["QueryLanguage"] = language
    for target in _targets(spec):
        if target != name:
            machine["States"][target] = {"Type": "Succeed"}
    _check(machine)
    return name, spec, compile_program(decode_machine(machine))


def _check(machine: dict[str, Any]) -> None:
    problems = [d for d in validate_definition(machine) if d.severity == "ERROR"]
    if problems:
        raise AslError("InvalidDefinition", invalid_definition_message(problems))


def _targets(spec: dict[str, Any]) -> list[str]:
    found = [spec.get("Next"), spec.get("Default")]
    found += [rule.get("Next") for rule in spec.get("Choices", []) if isinstance(rule, dict)]
    found += [c.get("Next") for c in spec.get("Catch", []) if isinstance(c, dict)]
    return [t for t in found if isinstance(t, str)]


def _initial_state(value: JSON, variables: dict[str, JSON], context_text: str | None,
                   now: float, seed: int) -> ExecutionState:
    """An execution that has just started, seen by the state as AWS's `context` describes."""
    context = _json_field(context_text, "context", {})
    execution = context.get("Execution", {}) if isinstance(context, dict) else {}
    machine = context.get("StateMachine", {}) if isinstance(context, dict) else {}
    started = _epoch(execution.get("StartTime"), now)
    return ExecutionState(
        execution_arn=execution.get("Id", TEST_EXECUTION_ARN),
        state_machine_arn=machine.get("Id", TEST_MACHINE_ARN),
        name=execution.get("Name", "test"), role_arn=execution.get("RoleArn", ""),
        input=execution.get("Input", value), start_time=started, seed=seed,
        frames={"": Frame(id="", machine="", value=value, variables=variables)},
    )


def _epoch(text: Any, default: float) -> float:
    if not isinstance(text, str):
        return default
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def _waiting(turn: Turn) -> Waiting:
    """The scheduled task a mocked outcome answers."""
    waiting = turn.frame("").waiting
    assert waiting is not None
    return waiting
