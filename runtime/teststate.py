"""TestState: run ONE state of a definition with Stepline's compiled data flow and reducers.

The state under test is compiled into a one-state machine whose transition targets are stub
`Succeed` states, so the pure core runs it exactly as an execution would and stops right after
it. A mocked Task result (or error) is fed to the Task reducer as the task's outcome; a mocked
Map/Parallel result goes through the state's output data flow, a mocked error through its
Retry/Catch. Without a mock, the caller runs each `pending()` task call and reports it with
`complete()` (this module calls nothing). At TRACE, `pending()` also starts an
`HttpExchangeRecorder` in the caller's context, stopped once the state has finished, so an HTTP
Task call the caller makes from that task is reported as inspectionData.request/response: drive
`pending()`, the calls and `complete()` from one asyncio task. A mocked task makes no call, so
it has no request/response.

Statuses, as AWS's TestState reports them: SUCCEEDED (output, nextState); FAILED (error,
cause); RETRIABLE (a Retrier would retry: errorDetails.retryIndex and
retryBackoffIntervalSeconds, no output); CAUGHT_ERROR (a Catcher handled the error: output,
nextState, errorDetails.catchIndex). TestState does not wait: Wait states and retry intervals
inside Map/Parallel iterations elapse at once.

As AWS: Map and Parallel states are tested only with a mock (their iterations and branches
do not run); Pass, Succeed and Fail states take no mock. `stateName` may name a state nested in
a Parallel branch or a Map's ItemProcessor. `stateConfiguration`:
- retrierRetryCount: retries already made by the Retrier that matches the mocked error;
- errorCausedByState: the state inside the Map/Parallel whose failure the mocked error stands
  for (checked to exist; the error then goes through the state's Retry/Catch as AWS does);
- mapIterationFailureCount: iterations that failed; more than a ToleratedFailureCount or
  -Percentage that is set fails the Map with States.ExceedToleratedFailureThreshold (AWS
  ignores the count when neither threshold is set);
- mapItemReaderData: what the ItemReader would read from S3, for the Map's inspectionData.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

import msgspec
from msgspec.structs import replace

from integrations.http import HttpExchangeRecorder
from runtime import events as ev
from runtime.dataflow.scope import JSON
from runtime.effects import InvokeTask, StartTimer
from runtime.errors import EXCEED_TOLERATED_FAILURE_THRESHOLD, AslError, StatesError
from runtime.messages import TaskCompleted, TimerFired
from runtime.model.machine import decode_machine
from runtime.model.validate import invalid_definition_message, validate_definition
from runtime.program import (
    MapNode,
    Node,
    ParallelNode,
    Program,
    RecoverableNode,
    TaskNode,
    compile_program,
)
from runtime.reducers import decide, task
from runtime.reducers.dispatch import run_state
from runtime.reducers.recovery import handle_error
from runtime.reducers.retry import find_retrier, matches
from runtime.reducers.turn import TIMEOUT_SUFFIX, Turn
from runtime.state import ExecutionState, Frame, Waiting
from runtime.teststate_inspect import MapStages, Stages, http_inspection, map_stages, text
from runtime.teststate_mockcheck import (
    check_map_result,
    check_parallel_result,
    check_task_result,
)

InspectionLevel = Literal["INFO", "DEBUG", "TRACE"]
MOCKABLE: Final = frozenset({"Task", "Map", "Parallel"})
_THRESHOLD_CAUSE: Final = "The specified tolerated failure threshold was exceeded"
TEST_EXECUTION_ARN: Final = "arn:aws:states:us-east-1:123456789012:execution:TestState:test"
TEST_MACHINE_ARN: Final = "arn:aws:states:us-east-1:123456789012:stateMachine:TestState"
_ERROR_EVENTS: Final = frozenset({"TaskFailed", "TaskTimedOut", "MapStateFailed",
                                   "ParallelStateFailed", "EvaluationFailed"})
_decode = msgspec.json.decode


class Mock(msgspec.Struct, frozen=True, kw_only=True):
    #: The mocked result as JSON text; or `error` (and `cause`) for a mocked failure.
    result: str | None = None
    error: str | None = None
    cause: str | None = None
    #: STRICT, PRESENT or NONE: how a mocked Task result is checked against its API's shape.
    field_validation_mode: str = "STRICT"


class TestStateRequest(msgspec.Struct, frozen=True, kw_only=True):
    definition: str
    input: str | None = None
    inspection_level: InspectionLevel = "INFO"
    variables: str | None = None
    state_name: str | None = None
    mock: Mock | None = None
    context: str | None = None
    role_arn: str = ""
    reveal_secrets: bool = False
    #: stateConfiguration.retrierRetryCount: retries already made by the matching Retrier.
    retrier_retry_count: int = 0
    #: stateConfiguration.errorCausedByState: the inner state a mocked Map/Parallel error is from.
    error_caused_by_state: str | None = None
    #: stateConfiguration.mapIterationFailureCount: Map iterations that failed.
    map_iteration_failure_count: int = 0
    #: stateConfiguration.mapItemReaderData: the ItemReader's source data, as read from S3.
    map_item_reader_data: str | None = None


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
        mock = request.mock
        _check_request(request, spec, self.node)
        self.input = _json_field(request.input, "input", {})
        variables = _json_field(request.variables, "variables", {})
        if not isinstance(variables, dict):
            raise AslError("InvalidExecutionInput", "Variables must be a JSON object.")
        self.spec = spec
        self._stages = Stages(spec, self.node) if request.inspection_level != "INFO" else None
        self.at = now
        self.events: list[ev.HistoryEvent] = []
        self._pending: dict[str, InvokeTask] = {}
        self._mock_result: JSON = None
        if mock is not None and mock.error is None:
            self._mock_result = _json_field(mock.result, "mock.result", None)
            _check_mock_result(self.node, self._mock_result, mock.field_validation_mode)
        self._error: tuple[str | None, str | None] = (
            (mock.error, mock.cause) if mock is not None else (None, None))
        self._map: MapStages | None = None
        self._http = HttpExchangeRecorder() if request.inspection_level == "TRACE" else None
        self.state = _initial_state(self.input, variables, request.context, now, seed)
        self._enter(mock)

    # -- driving ----------------------------------------------------------------------------

    def pending(self) -> list[InvokeTask]:
        """Task calls still to run (none once the state under test has finished)."""
        calls = [] if self._finished() else list(self._pending.values())
        if calls and self._http is not None:
            self._http.start()
        return calls

    def complete(self, key: str, *, output: JSON = None, error: str | None = None,
                 cause: str | None = None, failed: bool = False) -> None:
        self._pending.pop(key, None)
        self._step(TaskCompleted(at=self.at, key=key, output=output, error=error,
                                 cause=cause, failed=failed))
        if self._http is not None and self._finished():
            self._http.stop()

    def _enter(self, mock: Mock | None) -> None:
        turn = Turn(self.program, self.state, self.at)
        node = self.node
        turn.emit(f"{node.kind}StateEntered", "",
                  ev.StateEnteredDetails(name=self.name, input=self.input))
        if isinstance(node, MapNode) and mock is not None:
            try:
                self._map = map_stages(turn, node, self.request.map_item_reader_data)
            except StatesError as failure:
                self._mock_result = None  # the Map fails before it has a result
                turn.fail_state("", node, failure)
                turn.run()
                self._absorb(turn.events, [], turn.work)
                return
            if mock.error is None and self._exceeds_tolerance(self._map):
                self._error = (EXCEED_TOLERATED_FAILURE_THRESHOLD, _THRESHOLD_CAUSE)
        error = self._error[0]
        if error is not None:
            self._preset_retries(turn, error)
        if mock is None:
            run_state(turn, "", node)
        elif isinstance(node, TaskNode):
            task.run_task(turn, "", node)
            if turn.frame("").waiting is not None:
                turn.effects.clear()
                self._outcome(turn, node)
        else:
            self._outcome(turn, node)
        turn.run()
        self._absorb(turn.events, [*turn.effects], turn.work)

    def _exceeds_tolerance(self, stages: MapStages) -> bool:
        """AWS (recorded): the failure count matters only against a threshold that is set."""
        failed = self.request.map_iteration_failure_count
        if not failed:
            return False
        if stages.tolerated_count is not None and failed > stages.tolerated_count:
            return True
        total = stages.iterations
        if total is None and isinstance(self._mock_result, list):
            total = len(self._mock_result)
        return (stages.tolerated_percentage is not None and bool(total)
                and failed * 100.0 / (total or 1) > stages.tolerated_percentage)

    def _outcome(self, turn: Turn, node: Node) -> None:
        error, cause = self._error
        if error is not None:
            if isinstance(node, TaskNode):
                task.task_failed(turn, "", node, _waiting(turn), error, cause)
            else:
                handle_error(turn, "", node, error, cause)
            return
        result = self._mock_result
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
        if self._http is not None:
            self._http.stop()
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
                inspection["variables"] = text(variables)
        if error is not None:
            if inspection is not None and isinstance(self.node, RecoverableNode):
                index = next(i for i, c in enumerate(self.node.catchers)
                             if matches(c.error_equals, error))
                inspection["errorDetails"] = {"catchIndex": index}
            return TestStateResult(status="CAUGHT_ERROR", output=text(details.output),
                                   error=error, cause=cause, nextState=next_state,
                                   inspectionData=inspection)
        return TestStateResult(status="SUCCEEDED", output=text(details.output),
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
        if error[0] is None and self._error[0] is not None:
            error = self._error
        return error

    def _inspection(self) -> dict[str, Any]:
        """The data-flow stages of the state, as JSON text (AWS's inspectionData)."""
        scheduled = next((e.details for e in self.events if e.frame == "" and isinstance(
            e.details, ev.TaskScheduledDetails)), None)
        result = next((e.details.output for e in self.events if e.frame == "" and isinstance(
            e.details, ev.TaskResourceDetails) and e.details.has_output), self._mock_result)
        if self._error[0] is not None and self.request.mock is not None:
            result = None
        stages = self._stages
        assert stages is not None
        out: dict[str, Any] = {"input": text(self.input)}
        out.update(stages.data_flow(self.node, self.input, self.state_variables(),
                                    scheduled.parameters if scheduled is not None else None,
                                    result))
        if self._map is not None:
            out.update(self._map.data)
        if self._http is not None and self._http.exchanges:
            out.update(http_inspection(self._http.exchanges[-1],
                                       reveal_secrets=self.request.reveal_secrets))
        return out


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
        spec = _find_state(definition, name)
        if spec is None:
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


def _find_state(machine: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The state `name` of `machine`, or of a machine nested in one of its states."""
    states = machine.get("States")
    if not isinstance(states, dict):
        return None
    found = states.get(name)
    if isinstance(found, dict):
        return found
    for state in states.values():
        for inner in _inner_machines(state):
            found = _find_state(inner, name)
            if found is not None:
                return found
    return None


def _inner_machines(state: Any) -> list[dict[str, Any]]:
    """A Parallel's branches, a Map's ItemProcessor (or legacy Iterator)."""
    if not isinstance(state, dict):
        return []
    inner = [b for b in state.get("Branches") or [] if isinstance(b, dict)]
    processor = state.get("ItemProcessor") or state.get("Iterator")
    return [*inner, processor] if isinstance(processor, dict) else inner


def _inner_state_names(spec: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for machine in _inner_machines(spec):
        states = machine.get("States")
        if isinstance(states, dict):
            names.update(states)
            for state in states.values():
                if isinstance(state, dict):
                    names.update(_inner_state_names(state))
    return names


def _check_request(request: TestStateRequest, spec: dict[str, Any], node: Node) -> None:
    """AWS's ValidationException / InvalidDefinition answers, with AWS's (recorded) messages."""
    mock = request.mock
    if mock is None and node.kind in ("Map", "Parallel"):
        raise AslError("InvalidDefinition",
                       "TestState API does not support Map or Parallel states. Supported state "
                       "types include: [Task, Wait, Pass, Succeed, Fail, Choice]")
    if mock is not None:
        if node.kind not in MOCKABLE:
            raise AslError("ValidationException",
                           f"State type '{node.kind}' is not supported when a mock is specified")
        if mock.result is not None and mock.error is not None:
            raise AslError("ValidationException", "A test mock should have only one of the "
                                                  "following fields: [result, errorOutput].")
        if request.reveal_secrets:
            raise AslError("ValidationException",
                           "TestState does not support RevealSecrets when a mock is specified.")
    elif request.context is not None:
        raise AslError("ValidationException",
                       "The context field may only be specified together with a mock.")
    caused_by = request.error_caused_by_state
    if caused_by is not None and caused_by not in _inner_state_names(spec):
        raise AslError("ValidationException",
                       f"errorCausedByState '{caused_by}' is not a state inside the Map or "
                       f"Parallel state under test.")


def _check_mock_result(node: Node, result: JSON, mode: str) -> None:
    if isinstance(node, MapNode):
        check_map_result(result, has_writer=node.writer is not None)
    elif isinstance(node, ParallelNode):
        check_parallel_result(result, len(node.branches))
    elif isinstance(node, TaskNode):
        check_task_result(node.resource, result, mode)


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
