"""Function names, qualifiers and ARNs.

A `FunctionName` parameter may be a name, a full ARN or a partial ARN (`ACCOUNT:function:NAME`),
each optionally followed by `:QUALIFIER` (the pattern in the Lambda API reference). The region
and account in an ARN are not used for lookup: one service holds one account's functions.
"""

from __future__ import annotations

import re

from integrations.lambda_local.errors import LambdaApiError

LATEST = "$LATEST"
DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"

_NAME = r"[a-zA-Z0-9\-_]+"
_FUNCTION_NAME_RE = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d:)?(?:\d{12}:)?"
    rf"(?:function:)?(?P<name>{_NAME})(?::(?P<qualifier>\$LATEST|{_NAME}))?"
)
#: CreateFunction limits a plain name to 64 characters (the ARN forms to 140).
MAX_NAME_LENGTH = 64


def function_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


def parse_function_name(raw: str, qualifier: str | None) -> tuple[str, str | None]:
    """(name, qualifier) from a FunctionName parameter and the separate Qualifier parameter."""
    found = _FUNCTION_NAME_RE.fullmatch(raw)
    if found is None or len(found.group("name")) > MAX_NAME_LENGTH:
        raise LambdaApiError(
            "ValidationException",
            f"1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?"
            "(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
        )
    derived = found.group("qualifier")
    if derived is not None and qualifier is not None and derived != qualifier:
        raise LambdaApiError("InvalidParameterValueException",
                             "The derived qualifier from the function name does not match the "
                             "specified qualifier.")
    return found.group("name"), derived if derived is not None else qualifier

