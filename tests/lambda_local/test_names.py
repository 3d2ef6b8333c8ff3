"""FunctionName forms the Lambda API accepts (its documented pattern)."""

from __future__ import annotations

import pytest

from integrations.lambda_local.errors import LambdaApiError
from integrations.lambda_local.names import parse_function_name


@pytest.mark.parametrize(("raw", "qualifier", "expected"), [
    ("my-fn", None, ("my-fn", None)),
    ("my-fn:prod", None, ("my-fn", "prod")),
    ("my-fn", "3", ("my-fn", "3")),
    ("arn:aws:lambda:eu-west-1:123456789012:function:my_fn", None, ("my_fn", None)),
    ("arn:aws:lambda:us-east-1:123456789012:function:my-fn:$LATEST", None,
     ("my-fn", "$LATEST")),
    ("123456789012:function:my-fn", None, ("my-fn", None)),
    ("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:7", "7", ("f", "7")),
])
def test_names_arns_and_partial_arns(raw: str, qualifier: str | None,
                                     expected: tuple[str, str | None]) -> None:
    assert parse_function_name(raw, qualifier) == expected


def test_qualifier_in_the_name_must_match_the_parameter() -> None:
    with pytest.raises(LambdaApiError) as raised:
        parse_function_name("my-fn:1", "2")
    assert raised.value.code == "InvalidParameterValueException"


@pytest.mark.parametrize("raw", ["", "has space", "a" * 65, "arn:aws:s3:::bucket"])
def test_malformed_names_are_validation_errors(raw: str) -> None:
    with pytest.raises(LambdaApiError) as raised:
        parse_function_name(raw, None)
    assert raised.value.code == "ValidationException"
