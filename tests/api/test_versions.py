"""Versions, aliases and tags over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import ROLE, pass_machine, wait_until_done


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_versions_and_aliases_round_trip(sfn: Any) -> None:
    created = sfn.create_state_machine(name="v-" + uuid.uuid4().hex[:12],
                                       definition=pass_machine(1), roleArn=ROLE, publish=True,
                                       versionDescription="first")
    arn = created["stateMachineArn"]
    v1 = created["stateMachineVersionArn"]
    assert v1 == arn + ":1"
    sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine(2))
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn,
                                           description="second")["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    again = sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    assert again == v2  # nothing changed since: the same version
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [v2, v1]
    described = sfn.describe_state_machine(stateMachineArn=v1)
    assert (described["definition"], described["description"]) == (pass_machine(1), "first")

    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    alias_arn = alias["stateMachineAliasArn"]
    assert alias_arn == arn + ":live"
    started = sfn.start_execution(stateMachineArn=alias_arn)
    done = wait_until_done(sfn, started["executionArn"])
    assert done["output"] == "1"
    assert done["stateMachineAliasArn"] == alias_arn
    assert done["stateMachineVersionArn"] == v1
    by_alias = sfn.list_executions(stateMachineArn=alias_arn)["executions"]
    assert [e["executionArn"] for e in by_alias] == [started["executionArn"]]

    with pytest.raises(ClientError) as in_use:
        sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    assert _code(in_use) == "ConflictException"
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias_arn, description="moved",
        routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}])
    shown = sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)
    assert shown["description"] == "moved"
    assert shown["routingConfiguration"] == [{"stateMachineVersionArn": v2, "weight": 100}]
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [alias_arn]
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias_arn)
    with pytest.raises(ClientError) as gone:
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)
    assert _code(gone) == "ResourceNotFound"


def test_alias_weights_must_add_up_to_100(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="w-" + uuid.uuid4().hex[:12],
                                   definition=pass_machine(), roleArn=ROLE,
                                   publish=True)["stateMachineVersionArn"]
    with pytest.raises(ClientError) as error:
        sfn.create_state_machine_alias(
            name="half", routingConfiguration=[{"stateMachineVersionArn": arn, "weight": 50}])
    assert _code(error) == "ValidationException"


def test_tags_round_trip(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="t-" + uuid.uuid4().hex[:12],
                                   definition=pass_machine(), roleArn=ROLE,
                                   tags=[{"key": "team", "value": "a"}])["stateMachineArn"]
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    tags = sfn.list_tags_for_resource(resourceArn=arn)["tags"]
    assert sorted((t["key"], t["value"]) for t in tags) == [("env", "dev"), ("team", "a")]
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "env", "value": "dev"}]
    with pytest.raises(ClientError) as missing:
        sfn.list_tags_for_resource(resourceArn=arn + "-gone")
    assert _code(missing) == "ResourceNotFound"
