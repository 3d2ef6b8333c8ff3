"""The mock configuration file: both tools' documented examples, and clear errors for faulty
files naming the JSON location."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.mocks import (
    MockConfigError,
    UnknownTestCase,
    load_mock_config,
    mock_config_path,
    parse_mock_config,
    split_test_case,
)
from integrations.mocks.config import Return, Throw

# The example of AWS's "Configuration file for mocked service integrations" page.
AWS_EXAMPLE: dict[str, Any] = {
    "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
        "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
        "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
        "HybridPath": {"LambdaState": "MockedLambdaSuccess"},
    }}},
    "MockedResponses": {
        "MockedLambdaSuccess": {"0": {"Return": {
            "StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}},
        "LambdaMockedResourceNotReady": {"0": {"Throw": {
            "Error": "Lambda.ResourceNotReadyException",
            "Cause": "Lambda resource is not ready."}}},
        "MockedSQSSuccess": {"0": {"Return": {
            "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
            "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"}}},
        "MockedLambdaRetry": {
            "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException",
                            "Cause": "Lambda resource is not ready."}},
            "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
            "3": {"Return": {"StatusCode": 200,
                             "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}},
        },
    },
}

# LocalStack's documented file has the same shape; its Return may be any JSON value (a string
# here), and its keys may list ranges out of order.
LOCALSTACK_EXAMPLE: dict[str, Any] = {
    "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
        "LambdaRetryCase": {"LambdaState": "MockedLambdaStateRetry",
                            "SQSState": "MockedSQSStateSuccess"}}}},
    "MockedResponses": {
        "MockedLambdaStateRetry": {
            "3": {"Return": {"StatusCode": 200, "Payload": {"greeting": "Hello John Smith"}}},
            "1-2": {"Throw": {"Error": "Lambda.TooManyRequestsException",
                              "Cause": "Invocation rate limit exceeded."}},
            "0": {"Throw": {"Error": "Lambda.ServiceException",
                            "Cause": "An internal service error occurred."}},
        },
        "MockedSQSStateSuccess": {"0": {"Return": "message sent"}},
    },
}


def test_aws_example_answers_each_invocation_from_its_range() -> None:
    config = parse_mock_config(AWS_EXAMPLE)
    retry = config.test_case("LambdaSQSIntegration", "RetryPath")["LambdaState"]
    answers = [retry.at(n) for n in range(5)]
    assert answers[0] == Throw("Lambda.ResourceNotReadyException", "Lambda resource is not ready.")
    assert answers[1] == answers[2] == Throw("Lambda.TimeoutException", "Lambda timed out.")
    assert isinstance(answers[3], Return) and answers[3].value["StatusCode"] == 200
    assert answers[4] is None  # past the last entry
    assert retry.invocations == 4
    assert set(config.test_case("LambdaSQSIntegration", "HybridPath")) == {"LambdaState"}


def test_localstack_example_with_unordered_keys_and_a_string_return() -> None:
    config = parse_mock_config(LOCALSTACK_EXAMPLE)
    case = config.test_case("LambdaSQSIntegration", "LambdaRetryCase")
    assert case["LambdaState"].at(0) == Throw("Lambda.ServiceException",
                                              "An internal service error occurred.")
    assert case["LambdaState"].at(2) == Throw("Lambda.TooManyRequestsException",
                                              "Invocation rate limit exceeded.")
    assert case["SQSState"].at(0) == Return("message sent")


def test_load_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "MockConfigFile.json"
    path.write_text(json.dumps(AWS_EXAMPLE))
    assert load_mock_config(path).responses.keys() == AWS_EXAMPLE["MockedResponses"].keys()
    assert mock_config_path({"SFN_MOCK_CONFIG": str(path)}) == str(path)
    assert mock_config_path({"LOCALSTACK_SFN_MOCK_CONFIG": "/m.json"}) == "/m.json"
    assert mock_config_path({}) is None


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "StateMachines": {,\n}')
    with pytest.raises(MockConfigError) as caught:
        load_mock_config(path)
    assert caught.value.location == f"{path}:2:21"
    assert "not valid JSON" in str(caught.value)


def _with_responses(responses: Any, case: Any = None) -> dict[str, Any]:
    return {"StateMachines": {"M": {"TestCases": {"C": case or {"S": "R"}}}},
            "MockedResponses": {"R": responses}}


@pytest.mark.parametrize(("document", "location", "fragment"), [
    ([], "$", "must be an object, not an array"),
    ({"StateMachines": {}, "MockedResponse": {}}, "$", "unknown field 'MockedResponse'"),
    ({"StateMachines": {}}, "$", "missing field 'MockedResponses'"),
    ({"StateMachines": {"M": {}}, "MockedResponses": {}}, "$.StateMachines.M",
     "missing field 'TestCases'"),
    ({"StateMachines": {"M": {"TestCases": {}, "Extra": 1}}, "MockedResponses": {}},
     "$.StateMachines.M", "unknown field 'Extra'"),
    (_with_responses({"0": {"Return": 1}}, {"S": "Missing"}), "$.StateMachines.M.TestCases.C.S",
     "no mocked response named 'Missing'"),
    (_with_responses({"0": {"Return": 1}}, {"S": 3}), "$.StateMachines.M.TestCases.C.S",
     "must be the name of a mocked response"),
    (_with_responses({}), "$.MockedResponses.R", "at least one invocation"),
    (_with_responses({"first": {"Return": 1}}), "$.MockedResponses.R.first",
     "an invocation key is a number"),
    (_with_responses({"0": {"Return": 1}, "3-1": {"Return": 2}}), '$.MockedResponses.R["3-1"]',
     "range ends (1) before it starts (3)"),
    (_with_responses({"1": {"Return": 1}}), '$.MockedResponses.R["1"]',
     "leaves invocation 0 without a response"),
    (_with_responses({"0-2": {"Return": 1}, "2": {"Return": 2}}), '$.MockedResponses.R["2"]',
     "overlaps an earlier entry"),
    (_with_responses({"0": {"Return": 1, "Throw": {"Error": "E"}}}), '$.MockedResponses.R["0"]',
     "exactly one of 'Return' and 'Throw' (has 'Return', 'Throw')"),
    (_with_responses({"0": {}}), '$.MockedResponses.R["0"]', "(has none)"),
    (_with_responses({"0": {"Throw": {"Cause": "c"}}}), '$.MockedResponses.R["0"].Throw.Error',
     "must be a string"),
    (_with_responses({"0": {"Throw": {"Error": "E", "Cause": 5}}}),
     '$.MockedResponses.R["0"].Throw.Cause', "must be a string"),
    (_with_responses({"0": {"Throw": {"Error": "E", "Reason": "r"}}}),
     '$.MockedResponses.R["0"].Throw', "unknown field 'Reason'"),
    (_with_responses({"0": {"Throw": "Boom"}}), '$.MockedResponses.R["0"].Throw',
     "must be an object, not a string"),
])
def test_invalid_configuration_names_the_json_location(document: Any, location: str,
                                                       fragment: str) -> None:
    with pytest.raises(MockConfigError) as caught:
        parse_mock_config(document)
    assert caught.value.location == location
    assert fragment in caught.value.message


def test_throw_without_cause_is_accepted() -> None:
    config = parse_mock_config(_with_responses({"0": {"Throw": {"Error": "E"}}}))
    assert config.responses["R"].at(0) == Throw("E", None)


def test_unknown_test_case_or_machine() -> None:
    config = parse_mock_config(AWS_EXAMPLE)
    with pytest.raises(UnknownTestCase, match="no test case 'Nope'"):
        config.test_case("LambdaSQSIntegration", "Nope")
    with pytest.raises(UnknownTestCase, match="no state machine named 'Other'"):
        config.test_case("Other", "HappyPath")


def test_split_test_case_from_state_machine_arn() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:LambdaSQSIntegration"
    assert split_test_case(f"{arn}#HappyPath") == (arn, "HappyPath")
    assert split_test_case(arn) == (arn, None)
    with pytest.raises(ValueError, match="No test case name"):
        split_test_case(f"{arn}#")


def test_python_callables_as_responses() -> None:
    def every(call: Any) -> str:
        return "always"

    config = parse_mock_config({"StateMachines": {"M": {"TestCases": {"C": {"S": "R"}}}},
                                "MockedResponses": {"R": every,
                                                    "Q": {"0": every, "1": {"Return": 2}}}})
    assert config.responses["R"].at(10**9) is every
    assert config.responses["Q"].at(0) is every
    assert config.responses["Q"].at(1) == Return(2)
