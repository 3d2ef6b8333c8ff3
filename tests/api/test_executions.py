"""Executions over HTTP: start, describe, idempotency, stop, list, history paging."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import ROLE, pass_machine, task_machine, wait_until_done

WAIT_MACHINE = json.dumps({"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 30, "Next": "P"},
    "P": {"Type": "Pass", "End": True}}})


def _machine(sfn: Any, definition: str) -> str:
    return str(sfn.create_state_machine(name="ex-" + uuid.uuid4().hex[:12],
                                        definition=definition, roleArn=ROLE)["stateMachineArn"])


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_start_and_describe_until_succeeded(sfn: Any) -> None:
    arn = _machine(sfn, WAIT_MACHINE)
    started = sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')
    assert started["startDate"].year > 2000
    done = wait_until_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"a": 1}
    assert done["stateMachineArn"] == arn
    for_execution = sfn.describe_state_machine_for_execution(
        executionArn=started["executionArn"])
    assert for_execution["definition"] == WAIT_MACHINE


def test_start_is_idempotent_by_name_while_running(sfn: Any) -> None:
    """AWS: same name and input while the execution is open returns it again."""
    arn = _machine(sfn, task_machine("block"))
    first = sfn.start_execution(stateMachineArn=arn, name="same", input='{"k": 1}')
    again = sfn.start_execution(stateMachineArn=arn, name="same", input='{"k": 1}')
    assert again["executionArn"] == first["executionArn"]
    with pytest.raises(ClientError) as clash:
        sfn.start_execution(stateMachineArn=arn, name="same", input='{"k": 2}')
    assert _code(clash) == "ExecutionAlreadyExists"
    stopped = sfn.stop_execution(executionArn=first["executionArn"], error="E", cause="C")
    assert stopped["stopDate"]
    described = sfn.describe_execution(executionArn=first["executionArn"])
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "E", "C")
    with pytest.raises(ClientError) as closed:
        sfn.start_execution(stateMachineArn=arn, name="same", input='{"k": 1}')
    assert _code(closed) == "ExecutionAlreadyExists"


def test_invalid_input_and_unknown_resources(sfn: Any) -> None:
    arn = _machine(sfn, pass_machine())
    with pytest.raises(ClientError) as bad_input:
        sfn.start_execution(stateMachineArn=arn, input="{not json")
    assert _code(bad_input) == "InvalidExecutionInput"
    with pytest.raises(ClientError) as no_machine:
        sfn.start_execution(stateMachineArn=arn + "-missing")
    assert _code(no_machine) == "StateMachineDoesNotExist"
    missing = arn.replace(":stateMachine:", ":execution:") + ":nope"
    with pytest.raises(ClientError) as no_execution:
        sfn.describe_execution(executionArn=missing)
    assert _code(no_execution) == "ExecutionDoesNotExist"
    assert no_execution.value.response["Error"]["Message"] == \
        f"Execution Does Not Exist: '{missing}'"
    with pytest.raises(ClientError) as wrong_kind:
        sfn.describe_execution(executionArn=arn)
    assert _code(wrong_kind) == "InvalidArn"


def test_list_executions_filters_and_pages(sfn: Any) -> None:
    arn = _machine(sfn, pass_machine())
    arns = [sfn.start_execution(stateMachineArn=arn)["executionArn"] for _ in range(3)]
    for execution_arn in arns:
        wait_until_done(sfn, execution_arn)
    first = sfn.list_executions(stateMachineArn=arn, maxResults=2)
    rest = sfn.list_executions(stateMachineArn=arn, nextToken=first["nextToken"])
    listed = [e["executionArn"] for e in first["executions"] + rest["executions"]]
    assert sorted(listed) == sorted(arns)
    assert not sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
    succeeded = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")
    assert len(succeeded["executions"]) == 3


def test_history_pages_and_reverse_order(sfn: Any) -> None:
    arn = _machine(sfn, WAIT_MACHINE)
    execution_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_until_done(sfn, execution_arn)
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(executionArn=execution_arn, maxResults=2,
                                         **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    types = [e["type"] for e in events]
    assert types == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                     "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert events[2]["timestamp"] > events[1]["timestamp"]  # the Wait's 30 s
    reverse = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True)
    assert [e["type"] for e in reverse["events"]] == types[::-1]
    bare = sfn.get_execution_history(executionArn=execution_arn, includeExecutionData=False)
    assert "input" not in bare["events"][0]["executionStartedEventDetails"]
