"""Names as Step Functions spells them: resources, services and errors.

Step Functions runs its optimised integrations on the AWS SDK for Java v1 and its `aws-sdk:`
integrations on the SDK for Java v2, and error names follow those SDKs' class names:
`DynamoDB.AmazonDynamoDBException` (v1, an error the service model does not declare) next to
`DynamoDb.ResourceNotFoundException` (v2). The rules here derive both from botocore's service
models, so any service and error is named without a table of errors.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

import msgspec


class V1Identity(NamedTuple):
    #: What prefixes the error name: `Lambda` in `Lambda.ServiceException`.
    prefix: str
    #: The service name inside an error cause: `(Service: AWSLambda; ...)`.
    service: str
    #: The class of an error the service model does not declare.
    base_exception: str


#: The Java v1 identity of each service with an optimised integration, by botocore name. Source:
#: the conformance corpus (`Lambda.ResourceNotFoundException` "(Service: AWSLambda; ...)",
#: `DynamoDB.AmazonDynamoDBException` "(Service: AmazonDynamoDBv2; ...)", `SNS.`, `StepFunctions.`)
#: and the SDK v1 client names for the others.
V1_IDENTITIES: Final[dict[str, V1Identity]] = {
    "lambda": V1Identity("Lambda", "AWSLambda", "AWSLambdaException"),
    "dynamodb": V1Identity("DynamoDB", "AmazonDynamoDBv2", "AmazonDynamoDBException"),
    "sns": V1Identity("SNS", "AmazonSNS", "AmazonSNSException"),
    "sqs": V1Identity("SQS", "AmazonSQS", "AmazonSQSException"),
    "stepfunctions": V1Identity("StepFunctions", "AWSStepFunctions", "AWSStepFunctionsException"),
    "events": V1Identity("EventBridge", "AmazonEventBridge", "AmazonEventBridgeException"),
}

#: `aws-sdk:<name>` names (SDK v2 client names, lower case) that differ from botocore's.
_SDK_ALIASES: Final[dict[str, str]] = {
    "sfn": "stepfunctions",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "cloudwatchevents": "events",
    "cognitoidentityprovider": "cognito-idp",
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
    "databasemigration": "dms",
    "costexplorer": "ce",
    "applicationautoscaling": "application-autoscaling",
    "marketplacemetering": "meteringmarketplace",
    "iotdataplane": "iot-data",
}


def botocore_service(sdk_name: str, available: frozenset[str]) -> str | None:
    """The botocore service an `aws-sdk:<sdk_name>` resource names, or None."""
    name = sdk_name.lower()
    if name in _SDK_ALIASES:
        return _SDK_ALIASES[name]
    if name in available:
        return name
    for candidate in available:
        if candidate.replace("-", "") == name:
            return candidate
    return None


def sdk_v2_service_name(service_id: str) -> str:
    """The SDK v2 client name for a botocore `serviceId`: `DynamoDB` -> `DynamoDb`,
    `SFN` -> `Sfn`, `Secrets Manager` -> `SecretsManager` (the v2 code generator's rule:
    split on word boundaries, then capitalise each word and lower-case the rest)."""
    return "".join(word.lower().capitalize() for word in _split_words(service_id))


def _split_words(text: str) -> list[str]:
    spaced = re.sub(r"[^A-Za-z0-9]+", " ", text)
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z](?:[a-zA-Z]|[0-9]))", " ", spaced)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    spaced = re.sub(r"([0-9])([a-zA-Z])", r"\1 \2", spaced)
    return spaced.split()


def exception_class(shape_name: str) -> str:
    """The SDK class of a declared error: `NoSuchKey` -> `NoSuchKeyException` (AWS: "include
    the Exception suffix ... even if the suffix is not part of the service's error name")."""
    name = shape_name[:1].upper() + shape_name[1:]
    return name if name.endswith("Exception") else f"{name}Exception"


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def camel(name: str) -> str:
    return name[:1].lower() + name[1:]


class ServiceResource(msgspec.Struct, frozen=True):
    """`arn:<partition>:states:::<service>:<action>[.<pattern>]`, split."""

    #: `lambda`, `sqs`, ... or `aws-sdk:s3`.
    kind: str
    #: The service as written after `aws-sdk:` (or the optimised service's name).
    service: str
    #: The API action as written, without the integration-pattern suffix.
    action: str


def parse_service_resource(resource: str) -> ServiceResource | None:
    """Split a Step Functions service-integration ARN; None for anything else."""
    parts = resource.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states" or parts[3:5] != ["", ""]:
        return None
    if parts[5] == "aws-sdk":
        if len(parts) < 8:
            return None
        service, action = parts[6], ":".join(parts[7:])
        kind = f"aws-sdk:{service}"
    else:
        service, action = parts[5], ":".join(parts[6:])
        kind = service
    action = action.split(".", 1)[0]
    if not service or not action:
        return None
    return ServiceResource(kind=kind, service=service, action=action)


class FunctionArn(msgspec.Struct, frozen=True):
    arn: str
    region: str


def parse_function_arn(resource: str) -> FunctionArn | None:
    """`arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`, or None."""
    parts = resource.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function":
        return None
    return FunctionArn(arn=resource, region=parts[3])


def arn_region(value: object) -> str | None:
    """The region of an ARN-valued parameter (a function, topic or state machine ARN)."""
    if isinstance(value, str) and value.startswith("arn:"):
        parts = value.split(":")
        if len(parts) > 4 and parts[3]:
            return parts[3]
    return None
