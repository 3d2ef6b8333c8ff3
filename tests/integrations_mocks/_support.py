"""Running a state machine under a test case, as Step Functions Local does: the execution is
started with the state machine ARN suffixed `#TestCase`."""

from __future__ import annotations

from typing import Any

from integrations.mocks import MockedIntegrations, split_test_case
from runtime import Runtime
from runtime.engine import Execution


async def run_test_case(rt: Runtime, mocks: MockedIntegrations, machine_arn_with_case: str,
                        input: Any, *, name: str = "test-run") -> Execution:
    machine_arn, test_case = split_test_case(machine_arn_with_case)
    machine = rt.state_machine(machine_arn)
    execution_arn = f"arn:aws:states:{rt.region}:{rt.account}:execution:{machine.name}:{name}"
    if test_case is not None:
        mocks.bind(execution_arn, machine.name, test_case)
    return await rt.run(machine_arn, input, name=name)


def event_types(rt: Runtime, execution_arn: str) -> list[str]:
    return [event["type"] for event in rt.get_execution_history(execution_arn)]
