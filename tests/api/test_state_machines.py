"""CreateStateMachine and friends over HTTP with boto3 (and aiobotocore), errors included."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import CLIENT_CONFIG, ROLE, pass_machine


def _name() -> str:
    return "sm-" + uuid.uuid4().hex[:12]


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_create_describe_update_delete(sfn: Any) -> None:
    created = sfn.create_state_machine(name=_name(), definition=pass_machine(), roleArn=ROLE)
    arn = created["stateMachineArn"]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["definition"] == pass_machine()
    assert described["status"] == "ACTIVE"
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["creationDate"] == created["creationDate"]
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine("new"))
    assert updated["revisionId"] != described["revisionId"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == pass_machine("new")
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as missing:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert _code(missing) == "StateMachineDoesNotExist"
    assert missing.value.response["Error"]["Message"] == f"State Machine Does Not Exist: '{arn}'"


def test_create_is_idempotent_but_not_for_a_different_definition(sfn: Any) -> None:
    name = _name()
    first = sfn.create_state_machine(name=name, definition=pass_machine(), roleArn=ROLE)
    again = sfn.create_state_machine(name=name, definition=pass_machine(), roleArn=ROLE)
    assert again["stateMachineArn"] == first["stateMachineArn"]
    with pytest.raises(ClientError) as clash:
        sfn.create_state_machine(name=name, definition=pass_machine(2), roleArn=ROLE)
    assert _code(clash) == "StateMachineAlreadyExists"


def test_invalid_definition_is_rejected_with_aws_wording(sfn: Any) -> None:
    bad = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    with pytest.raises(ClientError) as error:
        sfn.create_state_machine(name=_name(), definition=bad, roleArn=ROLE)
    assert _code(error) == "InvalidDefinition"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "MISSING_TRANSITION_TARGET" in error.value.response["Error"]["Message"]


def test_version_description_needs_publish(sfn: Any) -> None:
    with pytest.raises(ClientError) as error:
        sfn.create_state_machine(name=_name(), definition=pass_machine(), roleArn=ROLE,
                                 versionDescription="v1")
    assert _code(error) == "ValidationException"


@pytest.mark.parametrize(("arn", "message"), [
    ("abc", "Invalid Arn: 'Invalid ARN prefix: abc'"),
    ("arn:aws:states:us-east-1:123456789012:activity:a",
     "Invalid Arn: 'Resource type not valid in this context: activity'"),
    ("arn:aws:states:us-east-1:123456789012:execution:m:e",
     "Invalid Arn: 'Resource type not valid in this context: execution'"),
])
def test_malformed_arns_are_invalid_arn(sfn: Any, arn: str, message: str) -> None:
    with pytest.raises(ClientError) as error:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert _code(error) == "InvalidArn"
    assert error.value.response["Error"]["Message"] == message


def test_list_state_machines_pages(sfn: Any) -> None:
    arns = {sfn.create_state_machine(name=_name(), definition=pass_machine(),
                                     roleArn=ROLE)["stateMachineArn"] for _ in range(3)}
    seen: list[str] = []
    token = None
    while True:
        page = sfn.list_state_machines(maxResults=2, **({"nextToken": token} if token else {}))
        assert len(page["stateMachines"]) <= 2
        seen += [m["stateMachineArn"] for m in page["stateMachines"]]
        token = page.get("nextToken")
        if not token:
            break
    assert arns <= set(seen)
    assert len(seen) == len(set(seen))
    with pytest.raises(ClientError) as error:
        sfn.list_state_machines(nextToken="bogus")
    assert _code(error) == "InvalidToken"


def test_validate_state_machine_definition(sfn: Any) -> None:
    assert sfn.validate_state_machine_definition(definition=pass_machine())["result"] == "OK"
    bad = sfn.validate_state_machine_definition(definition='{"StartAt": "X", "States": {}}')
    assert bad["result"] == "FAIL"
    assert bad["diagnostics"]


@pytest.mark.anyio
async def test_aiobotocore_client_round_trip(endpoint: str) -> None:
    from aiobotocore.session import get_session

    session = get_session()
    async with session.create_client(
            "stepfunctions", endpoint_url=endpoint, region_name="eu-west-1",
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            config=CLIENT_CONFIG) as client:
        created = await client.create_state_machine(name=_name(), definition=pass_machine(),
                                                    roleArn=ROLE)
        described = await client.describe_state_machine(
            stateMachineArn=created["stateMachineArn"])
        assert described["name"] == created["stateMachineArn"].rsplit(":", 1)[1]
        started = await client.start_execution(stateMachineArn=created["stateMachineArn"])
        listed = await client.list_executions(stateMachineArn=created["stateMachineArn"])
        assert [e["executionArn"] for e in listed["executions"]] == [started["executionArn"]]
