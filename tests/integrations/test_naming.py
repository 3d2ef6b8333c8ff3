"""Names and shapes as Step Functions spells them (no network)."""

from __future__ import annotations

import glob
import json
import os
import re
from datetime import UTC, datetime, timedelta, timezone

import botocore.session
import pytest

from integrations.aws import AwsIntegrations
from integrations.aws._naming import (
    ServiceResource,
    botocore_service,
    exception_class,
    parse_function_arn,
    parse_service_resource,
    sdk_v2_service_name,
)
from integrations.aws._shapes import epoch_millis, from_response, iso_timestamp, to_request
from integrations.aws.optimised import state_machine_arn

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "conformance",
                      "cases-services")
_models = botocore.session.get_session()


@pytest.mark.parametrize(("service_id", "name"), [
    ("DynamoDB", "DynamoDb"), ("SFN", "Sfn"), ("Secrets Manager", "SecretsManager"),
    ("S3", "S3"), ("SQS", "Sqs"), ("EventBridge", "EventBridge"), ("EC2", "Ec2"),
    ("API Gateway", "ApiGateway"), ("CloudWatch Logs", "CloudWatchLogs"), ("ACM PCA", "AcmPca"),
])
def test_sdk_v2_service_names(service_id: str, name: str) -> None:
    # AWS docs: acmpca errors are `AcmPca.ResourceNotFoundException`; corpus: `DynamoDb.`, `Sfn.`
    assert sdk_v2_service_name(service_id) == name


def test_exception_suffix_is_added_when_missing() -> None:
    # AWS docs: S3's BucketAlreadyExists is caught as S3.BucketAlreadyExistsException.
    assert exception_class("BucketAlreadyExists") == "BucketAlreadyExistsException"
    assert exception_class("ResourceNotFoundException") == "ResourceNotFoundException"


def test_resources_are_split_and_pattern_suffixes_dropped() -> None:
    assert parse_service_resource("arn:aws:states:::aws-sdk:s3:getObject") == ServiceResource(
        kind="aws-sdk:s3", service="s3", action="getObject")
    assert parse_service_resource("arn:aws:states:::states:startExecution.sync:2") == \
        ServiceResource(kind="states", service="states", action="startExecution")
    assert parse_service_resource("arn:aws:states:::sqs:sendMessage.waitForTaskToken") == \
        ServiceResource(kind="sqs", service="sqs", action="sendMessage")
    assert parse_service_resource("arn:aws:lambda:us-east-1:1:function:f") is None
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:f:live"
    assert parse_function_arn(arn) is not None
    assert parse_function_arn(arn).region == "eu-west-1"  # type: ignore[union-attr]


def test_sdk_service_names_map_to_botocore() -> None:
    available = frozenset(_models.get_available_services())
    assert botocore_service("sfn", available) == "stepfunctions"
    assert botocore_service("eventbridge", available) == "events"
    assert botocore_service("secretsmanager", available) == "secretsmanager"
    assert botocore_service("cognitoidentityprovider", available) == "cognito-idp"
    assert botocore_service("apigatewayv2", available) == "apigatewayv2"
    assert botocore_service("nosuch", available) is None


def test_request_members_are_renamed_but_map_keys_are_not() -> None:
    start = _models.get_service_model("stepfunctions").operation_model("StartExecution")
    assert to_request(start.input_shape, {"StateMachineArn": "arn", "Input": {"a": [1]},
                                          "Name": None}) == {
        "stateMachineArn": "arn", "input": '{"a":[1]}'}
    put = _models.get_service_model("dynamodb").operation_model("PutItem")
    item = {"lower": {"S": "x"}, "Nested": {"M": {"inner": {"N": "1"}}}}
    assert to_request(put.input_shape, {"TableName": "t", "Item": item}) == {
        "TableName": "t", "Item": item}


def test_results_are_pascal_cased_by_the_model() -> None:
    describe = _models.get_service_model("stepfunctions").operation_model("DescribeExecution")
    started = datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)
    result = from_response(describe.output_shape, {
        "executionArn": "e", "startDate": started, "ResponseMetadata": {}}, iso_timestamp)
    assert result == {"ExecutionArn": "e", "StartDate": "2024-05-01T10:20:30.123Z"}
    get = _models.get_service_model("s3").operation_model("GetObject")
    assert from_response(get.output_shape, {"Metadata": {"lower-key": "v"}, "Body": b"\xff"},
                         iso_timestamp) == {"Metadata": {"lower-key": "v"}, "Body": "/w=="}


def test_timestamps() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert iso_timestamp(moment) == "2024-05-01T10:00:00Z"
    assert epoch_millis(datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)) == 1500


def test_state_machine_arn_of_an_execution() -> None:
    assert state_machine_arn("arn:aws:states:us-east-1:1:execution:orders:run-7") == \
        "arn:aws:states:us-east-1:1:stateMachine:orders"


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="conformance corpus not present")
def test_every_aws_resource_in_the_corpus_is_served() -> None:
    aws = AwsIntegrations(endpoint_url="http://127.0.0.1:1")
    resources: set[str] = set()
    for path in glob.glob(os.path.join(CORPUS, "*.json")):
        with open(path) as file:
            cases = json.load(file)
        for case in cases:
            _collect_resources(case.get("definition"), resources)
            for item in case.get("setup", []):
                _collect_resources(item.get("state_machine", {}).get("definition"), resources)
    served = {resource for resource in resources
              if aws.resolve_call(re.sub(r"\$\{lambda:(\w+):arn\}",
                                         r"arn:aws:lambda:us-east-1:1:function:\1", resource), {})}
    unserved = {resource for resource in resources - served
                if "activity" not in resource and "${" not in resource}
    assert not unserved
    assert len(served) >= 15


def _collect_resources(node: object, found: set[str]) -> None:
    if isinstance(node, dict):
        resource = node.get("Resource")
        if node.get("Type") == "Task" and isinstance(resource, str):
            found.add(resource)
        for value in node.values():
            _collect_resources(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_resources(value, found)
