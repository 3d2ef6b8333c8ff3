"""AWS service integrations run by a real Runtime against moto on 127.0.0.1."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import boto3
import pytest

from integrations._base import TaskCall
from integrations.aws import AwsIntegrations
from runtime import Execution, Runtime

pytestmark = pytest.mark.anyio

Boto = Callable[[str], Any]


@pytest.fixture
def boto(moto_url: str) -> Boto:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_url, region_name="us-east-1")
    return client


@pytest.fixture
async def runtime(moto_url: str) -> AsyncIterator[Runtime]:
    async with AwsIntegrations(endpoint_url=moto_url, max_attempts=1) as aws, \
            Runtime(clock="virtual", sources=(aws,)) as runtime:
        yield runtime


def task(resource: str, parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, **fields}


def machine(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    chained = {}
    for index, (name, state) in enumerate(states):
        if index + 1 < len(states) and "Next" not in state and "End" not in state:
            state = {**state, "Next": states[index + 1][0]}
        elif index + 1 == len(states) and "Next" not in state:
            state = {**state, "End": True}
        chained[name] = state
    return {"StartAt": states[0][0], "States": chained}


def caught(resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Call the resource; on any error, end with the Catch's error output."""
    return {"StartAt": "Call", "States": {
        "Call": task(resource, parameters, End=True,
                     Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]),
        "Caught": {"Type": "Pass", "End": True}}}


#: `AllHttpHeaders` names in the order AWS recorded them (corpus: sqs:sendMessage,
#: sns:publish, states:startExecution; dynamodb:putItem|updateItem|deleteItem; getItem).
JSON_AND_QUERY_HEADERS = ["x-amzn-RequestId", "connection", "Content-Length", "Date",
                          "Content-Type"]
DYNAMODB_HEADERS = ["Server", "Connection", "x-amzn-RequestId", "x-amz-crc32",
                    "Content-Length", "Date", "Content-Type"]
DYNAMODB_GET_ITEM_HEADERS = ["Server", "x-amzn-requestid", "Connection", "x-amz-crc32",
                             "Content-Length", "Date", "Content-Type"]


def assert_sdk_metadata(output: dict[str, Any], header_names: list[str],
                        content_type: str) -> None:
    """The optimised integrations' response metadata, as the corpus records it: AWS's
    service headers (not the emulator's), valued from the response."""
    metadata = output["SdkHttpMetadata"]
    assert list(metadata) == ["AllHttpHeaders", "HttpHeaders", "HttpStatusCode"]
    assert metadata["HttpStatusCode"] == 200
    assert list(metadata["AllHttpHeaders"]) == header_names
    assert all(isinstance(values, list) and len(values) == 1
               for values in metadata["AllHttpHeaders"].values())
    headers = metadata["HttpHeaders"]
    assert list(headers) == sorted(header_names, key=str.lower)
    lowered = {name.lower(): value for name, value in headers.items()}
    assert lowered["content-length"].isdigit()
    assert lowered["content-type"] == content_type
    assert lowered["connection"] == "keep-alive"
    request_id = lowered["x-amzn-requestid"]
    assert request_id and output["SdkResponseMetadata"] == {"RequestId": request_id}
    assert list(output) == sorted(output)


async def run(runtime: Runtime, definition: dict[str, Any], input: Any = None) -> Execution:
    return await runtime.run(definition, input if input is not None else {})


# -- SQS ---------------------------------------------------------------------------------------

async def test_sqs_send_message_then_receive_it_through_the_sdk_integration(
        runtime: Runtime, boto: Boto) -> None:
    url = boto("sqs").create_queue(QueueName="orders")["QueueUrl"]
    done = await run(runtime, machine(
        ("Send", task("arn:aws:states:::sqs:sendMessage",
                      {"QueueUrl": url, "MessageBody.$": "$.order",
                       "MessageAttributes": {"kind": {"DataType": "String",
                                                      "StringValue": "new"}}},
                      ResultPath="$.sent")),
        ("Receive", task("arn:aws:states:::aws-sdk:sqs:receiveMessage",
                         {"QueueUrl": url, "MessageAttributeNames": ["All"]},
                         ResultPath="$.received"))),
        {"order": {"id": 7, "items": ["a"]}})
    assert done.status == "SUCCEEDED", done.cause
    sent = done.output["sent"]
    # Corpus test_send_message_attributes: MD5s, MessageId and the SDK metadata.
    assert list(sent) == ["MD5OfMessageAttributes", "MD5OfMessageBody", "MessageId",
                          "SdkHttpMetadata", "SdkResponseMetadata"]
    assert_sdk_metadata(sent, JSON_AND_QUERY_HEADERS, "application/x-amz-json-1.0")
    [message] = done.output["received"]["Messages"]
    # An object MessageBody is sent as its compact JSON text.
    assert message["Body"] == '{"id":7,"items":["a"]}'
    assert message["MessageId"] == sent["MessageId"]
    assert message["MessageAttributes"]["kind"]["StringValue"] == "new"
    assert "SdkHttpMetadata" not in done.output["received"]


async def test_sqs_unknown_queue_is_the_v1_exception_and_can_be_caught(
        runtime: Runtime, moto_url: str) -> None:
    done = await run(runtime, caught("arn:aws:states:::sqs:sendMessage", {
        "QueueUrl": f"{moto_url}/123456789012/no-such-queue", "MessageBody": "x"}))
    assert done.status == "SUCCEEDED"
    assert done.output["Error"] == "SQS.QueueDoesNotExistException"
    assert re.fullmatch(
        r"The specified queue does not exist\.? \(Service: AmazonSQS; Status Code: 400; "
        r"Error Code: AWS\.SimpleQueueService\.NonExistentQueue; Request ID: .+; Proxy: null\)",
        done.output["Cause"])


async def test_sqs_sdk_integration_unknown_queue_uses_sdk_v2_names(
        runtime: Runtime, moto_url: str) -> None:
    done = await run(runtime, caught("arn:aws:states:::aws-sdk:sqs:receiveMessage", {
        "QueueUrl": f"{moto_url}/123456789012/no-such-queue"}))
    assert done.output["Error"] == "Sqs.QueueDoesNotExistException"
    # As the corpus records S3, DynamoDb and SecretsManager causes: no attempt count.
    assert re.search(r"\(Service: Sqs, Status Code: 400, Request ID: [^)]+\)$",
                     done.output["Cause"])


# -- SNS ---------------------------------------------------------------------------------------

async def test_sns_publish_returns_message_id_and_metadata(runtime: Runtime, boto: Boto) -> None:
    topic = boto("sns").create_topic(Name="news")["TopicArn"]
    done = await run(runtime, machine(("Publish", task(
        "arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"Message": "Hi"}}))))
    assert done.status == "SUCCEEDED", done.cause
    assert set(done.output) == {"MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}
    assert_sdk_metadata(done.output, JSON_AND_QUERY_HEADERS, "text/xml")


async def test_sns_unknown_topic_fails_with_an_sns_error(runtime: Runtime) -> None:
    done = await run(runtime, machine(("Publish", task("arn:aws:states:::sns:publish", {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:nope", "Message": "x"}))))
    assert done.status == "FAILED"
    assert done.error == "SNS.NotFoundException"
    assert "(Service: AmazonSNS; Status Code: 404; Error Code: NotFound;" in (done.cause or "")


# -- DynamoDB ----------------------------------------------------------------------------------

def _create_table(boto: Boto, name: str) -> None:
    boto("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST")


async def test_dynamodb_put_update_get_delete_as_the_corpus_records_them(
        runtime: Runtime, boto: Boto) -> None:
    _create_table(boto, "items")
    key = {"id": {"S": "id1"}}
    done = await run(runtime, machine(
        ("Put", task("arn:aws:states:::dynamodb:putItem", {
            "TableName": "items", "Item": {"id": {"S": "id1"}, "data": {"S": "HelloWorld"}}},
            ResultPath="$.put")),
        ("Update", task("arn:aws:states:::dynamodb:updateItem", {
            "TableName": "items", "Key": key, "UpdateExpression": "set S=:r",
            "ExpressionAttributeValues": {":r": {"S": "HelloWorldUpdated"}},
            "ReturnValues": "UPDATED_NEW"}, ResultPath="$.update")),
        ("Get", task("arn:aws:states:::dynamodb:getItem", {"TableName": "items", "Key": key},
                     ResultPath="$.get")),
        ("Delete", task("arn:aws:states:::dynamodb:deleteItem",
                        {"TableName": "items", "Key": key}, ResultPath="$.delete"))))
    assert done.status == "SUCCEEDED", done.cause
    out = done.output
    # Corpus test_base_integrations[DYNAMODB_PUT_UPDATE_GET_ITEM].
    assert set(out["put"]) == {"SdkHttpMetadata", "SdkResponseMetadata"}
    assert out["update"]["Attributes"] == {"S": {"S": "HelloWorldUpdated"}}
    assert out["get"]["Item"] == {"S": {"S": "HelloWorldUpdated"}, "data": {"S": "HelloWorld"},
                                  "id": {"S": "id1"}}
    for result in (out["put"], out["update"], out["delete"]):
        assert_sdk_metadata(result, DYNAMODB_HEADERS, "application/x-amz-json-1.0")
    assert_sdk_metadata(out["get"], DYNAMODB_GET_ITEM_HEADERS, "application/x-amz-json-1.0")
    assert out["put"]["SdkHttpMetadata"]["HttpHeaders"]["Server"] == "Server"
    assert out["put"]["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "2"


async def test_dynamodb_sdk_put_item_on_missing_table(runtime: Runtime) -> None:
    done = await run(runtime, machine(("Put", task(
        "arn:aws:states:::aws-sdk:dynamodb:putItem",
        {"TableName": "no-such-table", "Item": {"id": {"S": "id1"}}}))))
    # Corpus test_dynamodb_put_item_no_such_table.
    assert done.error == "DynamoDb.ResourceNotFoundException"
    assert re.fullmatch(r"Requested resource not found \(Service: DynamoDb, Status Code: 400, "
                        r"Request ID: [^)]+\)", done.cause or "")


async def test_dynamodb_sdk_put_then_query_returns_sdk_shapes(
        runtime: Runtime, boto: Boto) -> None:
    _create_table(boto, "sdk-items")
    done = await run(runtime, machine(
        ("Put", task("arn:aws:states:::aws-sdk:dynamodb:putItem", {
            "TableName": "sdk-items", "Item": {"id": {"S": "id1"}, "data": {"S": "x"}}},
            ResultPath="$.put")),
        ("Query", task("arn:aws:states:::aws-sdk:dynamodb:query", {
            "TableName": "sdk-items", "KeyConditionExpression": "id = :id",
            "ExpressionAttributeValues": {":id": {"S": "id1"}}}, ResultPath="$.query"))))
    assert done.status == "SUCCEEDED", done.cause
    assert done.output["put"] == {}
    query = done.output["query"]
    assert (query["Count"], query["ScannedCount"]) == (1, 1)
    assert query["Items"] == [{"id": {"S": "id1"}, "data": {"S": "x"}}]


# -- EventBridge -------------------------------------------------------------------------------

async def test_events_put_events_serialises_detail_and_returns_entries(
        runtime: Runtime) -> None:
    done = await run(runtime, machine(("Put", task("arn:aws:states:::events:putEvents", {
        "Entries": [{"Detail": {"Message": "Hello"}, "DetailType": "greeting",
                     "Source": "some.source"}]}))))
    assert done.status == "SUCCEEDED", done.cause
    # AWS's recording of test_put_events_base: the response alone, no SDK metadata.
    assert list(done.output) == ["Entries", "FailedEntryCount"]
    assert done.output["FailedEntryCount"] == 0
    assert len(done.output["Entries"]) == 1 and "EventId" in done.output["Entries"][0]


# -- S3 ------------------------------------------------------------------------------------------

async def test_s3_get_object_body_is_text_after_the_headers(runtime: Runtime, boto: Boto) -> None:
    s3 = boto("s3")
    s3.create_bucket(Bucket="docs-bucket")
    s3.put_object(Bucket="docs-bucket", Key="file_key", Body=b"text data")
    done = await run(runtime, machine(("Get", task(
        "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket.$": "$.b", "Key": "file_key"}))),
        {"b": "docs-bucket"})
    assert done.status == "SUCCEEDED", done.cause
    output = done.output
    # Corpus test_s3_get_object[str].
    assert output["Body"] == "text data" and list(output)[-1] == "Body"
    assert output["ContentLength"] == 9
    assert output["ETag"] == '"332eec544317a6d340b8e77da7fe54ad"'
    assert output["ContentType"] == "binary/octet-stream"
    assert output["Metadata"] == {}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", output["LastModified"])


async def test_s3_get_object_reports_a_checksum_only_when_the_task_asks(
        runtime: Runtime, boto: Boto) -> None:
    # S3 GetObject: "To retrieve the checksum, this mode must be enabled" (ChecksumMode); AWS's
    # recorded getObject results (corpus test_s3_get_object) carry no Checksum* member.
    s3 = boto("s3")
    s3.create_bucket(Bucket="checksum-bucket")
    s3.put_object(Bucket="checksum-bucket", Key="k", Body=b"text data",
                  ChecksumAlgorithm="CRC32")
    plain = await run(runtime, machine(("Get", task(
        "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "checksum-bucket", "Key": "k"}))))
    assert plain.status == "SUCCEEDED", plain.cause
    assert not [key for key in plain.output if key.startswith("Checksum")]
    asked = await run(runtime, machine(("Get", task(
        "arn:aws:states:::aws-sdk:s3:getObject",
        {"Bucket": "checksum-bucket", "Key": "k", "ChecksumMode": "ENABLED"}))))
    assert asked.status == "SUCCEEDED", asked.cause
    assert asked.output["ChecksumCRC32"]


async def test_s3_missing_key_and_bucket(runtime: Runtime, boto: Boto) -> None:
    boto("s3").create_bucket(Bucket="empty-bucket")
    no_key = await run(runtime, machine(("Get", task(
        "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "empty-bucket", "Key": "nope"}))))
    # Corpus test_s3_no_such_key / test_no_such_bucket: the Exception suffix is added.
    assert no_key.error == "S3.NoSuchKeyException"
    assert re.fullmatch(r"The specified key does not exist\. \(Service: S3, Status Code: 404, "
                        r"Request ID: [^)]+\)", no_key.cause or "")
    no_bucket = await run(runtime, machine(("List", task(
        "arn:aws:states:::aws-sdk:s3:listObjects", {"Bucket": "some-nonexistent-bucket"}))))
    assert no_bucket.error == "S3.NoSuchBucketException"


# -- Step Functions and Secrets Manager ----------------------------------------------------------

async def test_sfn_start_execution_serialises_input_and_pascal_cases_the_result(
        moto_url: str, boto: Boto) -> None:
    sfn = boto("stepfunctions")
    arn = sfn.create_state_machine(
        name="target", roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    )["stateMachineArn"]
    resource = "arn:aws:states:::aws-sdk:sfn:startExecution"
    parameters = {"StateMachineArn": arn, "Input": {"key": "value"}, "Name": None}
    # Called directly: a Runtime serves `aws-sdk:sfn` on its own machines before any source.
    async with AwsIntegrations(endpoint_url=moto_url, max_attempts=1) as aws:
        integration = aws.resolve_call(resource, parameters)
        assert integration is not None
        output = await integration.invoke(TaskCall(
            resource=resource, parameters=parameters, state_name="Start",
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e"))
    # Corpus test_sfn_start_execution: {"ExecutionArn", "StartDate"}; botocore says executionArn.
    assert set(output) == {"ExecutionArn", "StartDate"}
    assert isinstance(output["StartDate"], str)
    [execution] = sfn.list_executions(stateMachineArn=arn)["executions"]
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert described["input"] == '{"key":"value"}'


async def test_optimised_start_execution_of_a_missing_machine(runtime: Runtime) -> None:
    done = await run(runtime, machine(("Start", task(
        "arn:aws:states:::states:startExecution.sync",
        {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:nope"}))))
    # Corpus test_start_execution_no_such_arn.
    assert done.error == "StepFunctions.StateMachineDoesNotExistException"
    assert "(Service: AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist" \
        in (done.cause or "")


async def test_secrets_manager_create_then_list(runtime: Runtime) -> None:
    done = await run(runtime, machine(
        ("Create", task("arn:aws:states:::aws-sdk:secretsmanager:createSecret",
                        {"Name": "app-secret", "SecretString": "HelloWorld"},
                        ResultPath="$.created")),
        ("List", task("arn:aws:states:::aws-sdk:secretsmanager:listSecrets", {},
                      ResultPath="$.listed"))))
    assert done.status == "SUCCEEDED", done.cause
    assert done.output["created"]["Name"] == "app-secret"
    assert [secret["Name"] for secret in done.output["listed"]["SecretList"]] == ["app-secret"]


# -- failure modes -------------------------------------------------------------------------------

async def test_unreachable_endpoint_is_an_sdk_client_exception(closed_port_url: str) -> None:
    async with AwsIntegrations(endpoint_url=closed_port_url, max_attempts=1) as aws, \
            Runtime(clock="virtual", sources=(aws,)) as runtime:
        optimised = await run(runtime, caught("arn:aws:states:::sqs:sendMessage", {
            "QueueUrl": f"{closed_port_url}/123456789012/q", "MessageBody": "x"}))
        sdk = await run(runtime, caught("arn:aws:states:::aws-sdk:dynamodb:getItem", {
            "TableName": "t", "Key": {"id": {"S": "1"}}}))
    assert optimised.status == "SUCCEEDED"
    assert optimised.output["Error"] == "SQS.SdkClientException"
    assert optimised.output["Cause"].startswith("Unable to execute HTTP request: ")
    assert sdk.output["Error"] == "DynamoDb.SdkClientException"


async def test_unknown_parameter_is_a_runtime_error_not_a_crash(runtime: Runtime) -> None:
    done = await run(runtime, machine(("Get", task(
        "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "b", "Key": "k", "Nope": 1}))))
    assert (done.status, done.error) == ("FAILED", "States.Runtime")
    assert "Nope" in (done.cause or "")


async def test_unserved_resources_are_left_to_other_sources() -> None:
    aws = AwsIntegrations(endpoint_url="http://127.0.0.1:1")
    assert aws.resolve_call("arn:aws:states:::aws-sdk:nosuchservice:doIt", {}) is None
    assert aws.resolve_call("arn:aws:states:::aws-sdk:s3:noSuchAction", {}) is None
    assert aws.resolve_call("arn:aws:states:::ecs:runTask.sync", {}) is None
    assert aws.resolve_call("arn:aws:states:::activity:x", {}) is None
    assert aws.resolve_call("my-python-task", {}) is None
    assert aws.resolve_call("arn:aws:states:::aws-sdk:sfn:startExecution", {}) is not None
    await aws.close()


async def test_endpoint_from_the_standard_environment_variable(
        moto_url: str, boto: Boto, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_url)
    url = boto("sqs").create_queue(QueueName="from-env")["QueueUrl"]
    async with AwsIntegrations(max_attempts=1) as aws, \
            Runtime(clock="virtual", sources=(aws,)) as runtime:
        done = await run(runtime, machine(("Send", task(
            "arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": "hi"}))))
    assert done.status == "SUCCEEDED", done.cause


async def test_one_pooled_client_per_service_and_region(moto_url: str) -> None:
    aws = AwsIntegrations(endpoint_url=moto_url)
    first = await aws.pool.client("sqs", "us-east-1")
    assert await aws.pool.client("sqs", "us-east-1") is first
    assert await aws.pool.client("sqs", "eu-west-1") is not first
    await aws.close()
    assert await aws.pool.client("sqs", "us-east-1") is not first
    await aws.close()
