"""Mocked service integrations: Task states of an execution bound to a test case answer from
the mock configuration instead of calling their resource.

`resolve_call` sees only the resource, not the execution or the state, so while any execution
is bound this source answers every call with itself, and decides in `invoke`, where the
`TaskCall` names both: a mocked state of a bound execution takes its next response; any other
call goes to the `fallback` sources (the integrations that would have served it), as Step
Functions Local calls the real service for states a test case does not mock. With no execution
bound it serves nothing, so it costs nothing in a runtime that is not testing.

The counter is per execution and state name and counts every invocation, retries included, as
Step Functions Local counts them; the AWS docs: "When you mock a Task, you must specify a
mocked response for every invocation ... If you do not specify a mocked response, the state
machine execution will fail", so an invocation past the last entry fails the task with
`States.Runtime`, which Retry and Catch on `States.ALL` do not handle.

Callback tasks (`.waitForTaskToken`, `.sync`): a mocked `Return` is the task's final result, as
in Step Functions Local, so it is delivered as the callback through `callbacks` (the runtime's
`send_task_success`); a `Throw` fails the task directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import msgspec

from integrations._base import JSON, Integration, IntegrationSource, TaskCall, TaskError
from integrations.mocks.config import (
    MockConfig,
    MockedResponse,
    Response,
    Return,
    Throw,
    parse_mock_config,
)

RUNTIME_ERROR = "States.Runtime"
TASK_FAILED = "States.TaskFailed"


class CallbackSink(Protocol):
    """Where a mocked callback task's result goes (a `Runtime` is one)."""

    def send_task_success(self, token: str, output: JSON) -> None: ...


class _Binding(msgspec.Struct):
    states: dict[str, MockedResponse]
    #: Invocations made so far, by state name.
    counts: dict[str, int] = msgspec.field(default_factory=dict)


class MockedIntegrations:
    """An `IntegrationSource` answering from a mock configuration.

    Args:
        config: a parsed `MockConfig`, or a configuration document (checked here).
        fallback: the sources asked, in order, for the calls this source does not mock (a
            runtime's `resolver.sources` will do: this source skips itself); a call none of
            them serves fails as an unserved resource does.
        callbacks: receives the results of mocked callback tasks.
    """

    def __init__(self, config: MockConfig | Mapping[str, Any], *,
                 fallback: Sequence[IntegrationSource] = (),
                 callbacks: CallbackSink | None = None) -> None:
        self.config = config if isinstance(config, MockConfig) else parse_mock_config(config)
        self.fallback = tuple(fallback)
        self.callbacks = callbacks
        self._bindings: dict[str, _Binding] = {}

    def bind(self, execution_arn: str, state_machine_name: str, test_case: str) -> None:
        """Run the execution `execution_arn` under `test_case` of `state_machine_name`.

        Raises:
            UnknownTestCase: the configuration has no such state machine or test case.
        """
        states = self.config.test_case(state_machine_name, test_case)
        self._bindings[execution_arn] = _Binding(states=states)

    def release(self, execution_arn: str) -> None:
        """Forget a finished execution's binding and counters."""
        self._bindings.pop(execution_arn, None)

    def invocations(self, execution_arn: str) -> dict[str, int]:
        """How many times each mocked state of a bound execution has been invoked."""
        binding = self._bindings.get(execution_arn)
        return dict(binding.counts) if binding is not None else {}

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        return self if self._bindings else None

    async def invoke(self, call: TaskCall) -> JSON:
        found = await self._mocked(call)
        if found is None:
            return await self._delegate(call)
        mocked, invocation = found
        response = mocked.at(invocation)
        if response is None:
            raise TaskError(RUNTIME_ERROR, (
                f"No mocked response for invocation {invocation} of state '{call.state_name}': "
                f"mocked response '{mocked.name}' answers invocations 0-{mocked.ends[-1]}"))
        result = await _answer(response, call)
        if call.task_token is not None:
            self._deliver(call.state_name, call.task_token, result)
        return result

    async def _mocked(self, call: TaskCall) -> tuple[MockedResponse, int] | None:
        """The mocked response serving `call` and the call's invocation number (counted
        here, one per call), or None when the call is not mocked."""
        binding = self._bindings.get(call.execution_arn)
        mocked = binding.states.get(call.state_name) if binding is not None else None
        if binding is None or mocked is None:
            return None
        invocation = binding.counts.get(call.state_name, 0)
        binding.counts[call.state_name] = invocation + 1
        return mocked, invocation

    def _deliver(self, state_name: str, token: str, result: JSON) -> None:
        if self.callbacks is None:
            raise TaskError(RUNTIME_ERROR, (
                f"State '{state_name}' is a mocked callback task, whose result is sent as "
                "its callback: give MockedIntegrations a `callbacks` sink (the runtime)"))
        try:
            self.callbacks.send_task_success(token, result)
        except Exception as error:  # the task group must not fail with the execution's task
            raise TaskError(RUNTIME_ERROR, f"Delivering the mocked result failed: {error}"
                            ) from error

    async def _delegate(self, call: TaskCall) -> JSON:
        for source in self.fallback:
            if source is self:
                continue
            integration = source.resolve_call(call.resource, call.parameters)
            if integration is not None:
                return await integration.invoke(call)
        raise TaskError(TASK_FAILED, f"No task handler serves the resource '{call.resource}'")


async def _answer(response: Response, call: TaskCall) -> JSON:
    if isinstance(response, Return):
        return response.value
    if isinstance(response, Throw):
        raise TaskError(response.error, response.cause)
    try:
        result = response(call)
        if inspect.isawaitable(result):
            result = await result
    except TaskError:
        raise
    except Exception as error:
        # As for registered Python handlers: the exception's class names the error.
        raise TaskError(type(error).__name__, str(error)) from error
    return result
