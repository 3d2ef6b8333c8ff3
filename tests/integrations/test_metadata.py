"""Result metadata, error causes and result shapes as AWS recorded them (no network)."""

from __future__ import annotations

import glob
import json
import os
import re
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from integrations.aws._clients import Reply
from integrations.aws._errors import v1_error, v2_error
from integrations.aws._headers import aws_response_headers, untraced_trace_id
from integrations.aws._metadata import (
    _java_string_hash,
    _spread,
    java_hash_map_order,
    with_sdk_metadata,
)
from integrations.aws._shapes import epoch_millis, from_response
from integrations.aws.lambda_ import function_error

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "conformance",
                      "cases-services")
_models = botocore.session.get_session()

#: What moto's server sends beside a DynamoDB PutItem answer.
MOTO_HEADERS = [("Server", "Werkzeug/3.1.8 Python/3.11.7"),
                ("Date", "Sat, 28 Nov 2026 06:49:27 GMT"),
                ("Content-Type", "application/x-amz-json-1.0"), ("server", "amazon.com"),
                ("x-amzn-requestid", "req-7"), ("x-amz-crc32", "2745614147"),
                ("Content-Length", "2"), ("Access-Control-Allow-Origin", "*"),
                ("Connection", "close")]


def reply(headers: list[tuple[str, str]], output: dict[str, Any] | None = None,
          request_id: str = "req-7") -> Reply:
    return Reply(output=output or {}, status=200, headers=headers, request_id=request_id)


def headers_for(service: str, operation: str, answer: Reply) -> list[tuple[str, str]]:
    return aws_response_headers(service, operation, _models.get_service_model(service), answer)


# -- header order ----------------------------------------------------------------------------

@pytest.mark.parametrize("recorded", [
    ["X-Amz-Log-Result", "X-Amz-Executed-Version", "x-amzn-Remapped-Content-Length",
     "Connection", "x-amzn-RequestId", "Content-Length", "Date", "X-Amzn-Trace-Id",
     "Content-Type"],
    ["Server", "Connection", "x-amzn-RequestId", "x-amz-crc32", "Content-Length", "Date",
     "Content-Type"],
    ["Server", "x-amzn-requestid", "Connection", "x-amz-crc32", "Content-Length", "Date",
     "Content-Type"],
    ["x-amzn-RequestId", "connection", "Content-Length", "Date", "Content-Type"],
])
def test_all_http_headers_come_in_java_hash_map_order(recorded: list[str]) -> None:
    assert java_hash_map_order(sorted(recorded, key=str.lower)) == recorded


def test_names_in_one_bucket_keep_their_insertion_order() -> None:
    # `Connection` and `x-amzn-RequestId` share bucket 8 of 16.
    assert java_hash_map_order(["Connection", "x-amzn-RequestId"]) == \
        ["Connection", "x-amzn-RequestId"]
    assert java_hash_map_order(["x-amzn-RequestId", "Connection"]) == \
        ["x-amzn-RequestId", "Connection"]


def test_java_string_hash_codes() -> None:
    # Values of Java's String.hashCode(); a non-BMP character counts as two UTF-16 units.
    assert _java_string_hash("hello") == 99162322
    assert _java_string_hash("") == 0
    assert _java_string_hash("\U0001F600") == 0xD83D * 31 + 0xDE00


def test_a_larger_map_orders_by_the_grown_table() -> None:
    # 13 names exceed 16 * 0.75: Java's table has 32 buckets by then.
    names = [f"Header-{index}" for index in range(13)]
    buckets = [_spread(_java_string_hash(name)) & 31 for name in java_hash_map_order(names)]
    assert buckets == sorted(buckets)
    assert [_spread(_java_string_hash(name)) & 15 for name in java_hash_map_order(names)] != \
        sorted(_spread(_java_string_hash(name)) & 15 for name in names)


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="conformance corpus not present")
def test_every_recorded_header_set_is_produced_in_its_recorded_order() -> None:
    recorded: list[list[str]] = []
    for path in glob.glob(os.path.join(CORPUS, "*.json")):
        with open(path) as file:
            _collect_header_orders(json.load(file), recorded)
    assert len(recorded) > 100
    for names in recorded:
        if "X-Amz-Executed-Version" in names:
            service, operation = "lambda", "Invoke"
        elif "x-amz-crc32" in names:
            service = "dynamodb"
            operation = "GetItem" if "x-amzn-requestid" in names else "PutItem"
        else:
            service, operation = "sqs", "SendMessage"
        log = {"LogResult": "bG9n"} if "X-Amz-Log-Result" in names else {}
        produced = headers_for(service, operation, reply(
            [("x-amz-crc32", "1"), ("Content-Length", "2")],
            {"ExecutedVersion": "$LATEST", **log}))
        assert java_hash_map_order([name for name, _ in produced]) == names


def _collect_header_orders(node: object, found: list[list[str]]) -> None:
    if isinstance(node, dict):
        metadata = node.get("SdkHttpMetadata")
        if isinstance(metadata, dict):
            found.append(list(metadata["AllHttpHeaders"]))
        for value in node.values():
            _collect_header_orders(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_header_orders(value, found)


# -- header values -----------------------------------------------------------------------------

def test_dynamodb_reports_dynamodb_headers_not_the_emulators() -> None:
    produced = dict(headers_for("dynamodb", "PutItem", reply(MOTO_HEADERS)))
    assert produced == {"Server": "Server", "Date": "Sat, 28 Nov 2026 06:49:27 GMT",
                        "Content-Type": "application/x-amz-json-1.0", "Content-Length": "2",
                        "Connection": "keep-alive", "x-amzn-RequestId": "req-7",
                        "x-amz-crc32": "2745614147"}


def test_dynamodb_get_item_spells_its_request_id_header_in_lower_case() -> None:
    produced = dict(headers_for("dynamodb", "GetItem", reply(MOTO_HEADERS)))
    assert produced["x-amzn-requestid"] == "req-7"
    assert "x-amzn-RequestId" not in produced


def test_a_header_the_response_lacks_is_left_out_not_invented() -> None:
    without_checksum = [(name, value) for name, value in MOTO_HEADERS if name != "x-amz-crc32"]
    assert "x-amz-crc32" not in dict(headers_for("dynamodb", "PutItem", reply(without_checksum)))
    lambda_headers = dict(headers_for("lambda", "Invoke", reply([], {"Payload": b"[1, 2]"})))
    assert "X-Amz-Log-Result" not in lambda_headers
    assert "X-Amz-Executed-Version" not in lambda_headers
    # A streamed payload sent without Content-Length still has a length.
    assert lambda_headers["Content-Length"] == "6"


def test_sns_and_sqs_content_types_follow_the_protocol_when_not_sent() -> None:
    assert dict(headers_for("sns", "Publish", reply([])))["Content-Type"] == "text/xml"
    assert dict(headers_for("sqs", "SendMessage", reply([])))["Content-Type"] == \
        "application/x-amz-json-1.0"


def test_lambda_trace_header_is_kept_when_sent_else_marked_unsampled() -> None:
    sent = [("X-Amzn-Trace-Id", "Root=1-65a1b2c3-0123456789abcdef01234567;Sampled=1")]
    assert dict(headers_for("lambda", "Invoke", reply(sent)))["X-Amzn-Trace-Id"] == sent[0][1]
    made = untraced_trace_id("req-7", "Sat, 28 Nov 2026 06:49:27 GMT")
    assert made == untraced_trace_id("req-7", "Sat, 28 Nov 2026 06:49:27 GMT")
    # The root id's second part is the response time in hex seconds (X-Ray's format).
    seconds = int(datetime(2026, 11, 28, 6, 49, 27, tzinfo=UTC).timestamp())
    assert re.fullmatch(rf"Root=1-{seconds:08x}-[0-9a-f]{{24}};Sampled=0", made)


def test_a_service_without_a_recorded_profile_keeps_the_reply_headers() -> None:
    assert headers_for("events", "PutEvents", reply(MOTO_HEADERS)) == MOTO_HEADERS


def test_sdk_metadata_shape() -> None:
    answer = reply(MOTO_HEADERS)
    result = with_sdk_metadata({"Attributes": {}}, answer,
                               headers_for("dynamodb", "UpdateItem", answer))
    assert list(result) == ["Attributes", "SdkHttpMetadata", "SdkResponseMetadata"]
    metadata = result["SdkHttpMetadata"]
    assert list(metadata["AllHttpHeaders"]) == ["Server", "Connection", "x-amzn-RequestId",
                                                "x-amz-crc32", "Content-Length", "Date",
                                                "Content-Type"]
    assert list(metadata["HttpHeaders"]) == ["Connection", "Content-Length", "Content-Type",
                                             "Date", "Server", "x-amz-crc32",
                                             "x-amzn-RequestId"]
    assert result["SdkResponseMetadata"] == {"RequestId": "req-7"}


# -- error names and causes --------------------------------------------------------------------

def client_error(code: str, message: str, status: int,
                 headers: dict[str, str] | None = None) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"RequestId": "req-9", "HTTPStatusCode": status,
                                             "HTTPHeaders": headers or {},
                                             "RetryAttempts": 0}}, "Operation")


def test_v1_error_names_follow_the_service_model() -> None:
    # Corpus test_fifo_message_attribute: the wire code InvalidParameter is the model's
    # InvalidParameterException.
    sns = v1_error(client_error("InvalidParameter", "Invalid parameter: The MessageGroupId "
                                "parameter is required for FIFO topics", 400),
                   "sns", _models.get_service_model("sns"))
    assert sns.error == "SNS.InvalidParameterException"
    assert sns.cause == ("Invalid parameter: The MessageGroupId parameter is required for FIFO "
                         "topics (Service: AmazonSNS; Status Code: 400; Error Code: "
                         "InvalidParameter; Request ID: req-9; Proxy: null)")
    # Corpus test_put_item_invalid_table_name: an error the model does not declare.
    dynamodb = v1_error(client_error("ValidationException", "1 validation error detected", 400),
                        "dynamodb", _models.get_service_model("dynamodb"))
    assert dynamodb.error == "DynamoDB.AmazonDynamoDBException"
    assert dynamodb.cause == ("1 validation error detected (Service: AmazonDynamoDBv2; Status "
                              "Code: 400; Error Code: ValidationException; Request ID: req-9; "
                              "Proxy: null)")


def test_v2_causes_count_attempts_only_for_step_functions() -> None:
    s3 = v2_error(client_error("NoSuchBucket", "The specified bucket does not exist", 404,
                               {"x-amz-id-2": "ext-1"}), _models.get_service_model("s3"))
    # Corpus test_no_such_bucket.
    assert (s3.error, s3.cause) == ("S3.NoSuchBucketException",
                                    "The specified bucket does not exist (Service: S3, Status "
                                    "Code: 404, Request ID: req-9, Extended Request ID: ext-1)")
    secrets = v2_error(client_error("InvalidRequestException", "Invalid name.", 400),
                       _models.get_service_model("secretsmanager"))
    assert secrets.cause == "Invalid name. (Service: SecretsManager, Status Code: 400, " \
        "Request ID: req-9)"
    # Corpus test_sfn_send_task_outcome_with_no_such_token.
    sfn = v2_error(client_error("InvalidToken", "Invalid Token: 'Invalid token'", 400),
                   _models.get_service_model("stepfunctions"))
    assert (sfn.error, sfn.cause) == ("Sfn.InvalidTokenException",
                                      "Invalid Token: 'Invalid token' (Service: Sfn, Status "
                                      "Code: 400, Request ID: req-9) (SDK Attempt Count: 1)")


def test_lambda_function_error_cause_per_form() -> None:
    raw = b'{"errorMessage": "", "errorType": "CustomException", "requestId": "r", ' \
          b'"stackTrace": ["  File \\"/var/task/handler.py\\", line 9"]}'
    reencoded = function_error(raw, reencode=True)
    assert reencoded.error == "CustomException"
    assert reencoded.cause == '{"errorMessage":"","errorType":"CustomException",' \
        '"requestId":"r","stackTrace":["  File \\"/var/task/handler.py\\", line 9"]}'
    assert function_error(raw, reencode=False).cause == raw.decode()
    assert function_error(b"out of memory", reencode=True).error == "Lambda.Unknown"


# -- result shapes -----------------------------------------------------------------------------

def test_optimised_results_order_members_alphabetically_and_keep_map_order() -> None:
    send = _models.get_service_model("sqs").operation_model("SendMessage")
    result = from_response(send.output_shape, {"MD5OfMessageBody": "b", "MessageId": "m",
                                                "MD5OfMessageAttributes": "a"},
                           epoch_millis, alphabetical=True)
    assert list(result) == ["MD5OfMessageAttributes", "MD5OfMessageBody", "MessageId"]
    get = _models.get_service_model("dynamodb").operation_model("GetItem")
    item = from_response(get.output_shape, {"Item": {"id": {"S": "1"}, "data": {"S": "x"}}},
                         epoch_millis, alphabetical=True)
    assert list(item["Item"]) == ["id", "data"]


def test_sns_fifo_publish_keeps_the_sequence_number() -> None:
    # Corpus test_fifo_message_attribute[input_params1-False]: MessageId, SequenceNumber.
    publish = _models.get_service_model("sns").operation_model("Publish")
    result = from_response(publish.output_shape, {"SequenceNumber": "100000000000000",
                                                  "MessageId": "m"},
                           epoch_millis, alphabetical=True)
    assert result == {"MessageId": "m", "SequenceNumber": "100000000000000"}
    assert list(result) == ["MessageId", "SequenceNumber"]
