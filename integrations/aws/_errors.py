"""botocore exceptions -> `TaskError`s named and worded as Step Functions reports them.

Causes follow the Java SDK's exception messages, as recorded from AWS in the corpus:
- SDK v1 (optimised integrations): "Function not found: ... (Service: AWSLambda; Status Code:
  404; Error Code: ResourceNotFoundException; Request ID: ...; Proxy: null)"
- SDK v2 (`aws-sdk:`): "The specified key does not exist. (Service: S3, Status Code: 404,
  Request ID: ..., Extended Request ID: ...)"; only Step Functions' own API adds the attempt
  count, "Invalid Token: ... (Service: Sfn, Status Code: 400, Request ID: ...) (SDK Attempt
  Count: 1)", where S3, DynamoDb and SecretsManager causes end at the parenthesis.
A request that never got an answer (refused connection, timeout, missing credentials) is the
SDK's client-side failure: `<Prefix>.SdkClientException`, "Unable to execute HTTP request: ...".
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    ParamValidationError,
)
from botocore.model import ServiceModel

from integrations._base import TaskError
from integrations.aws._naming import V1_IDENTITIES, exception_class, sdk_v2_service_name

#: SDK v2 client names whose recorded causes carry "(SDK Attempt Count: N)".
_ATTEMPT_COUNTED: Final = frozenset({"Sfn"})


def v1_error(exc: Exception, service: str, model: ServiceModel) -> TaskError:
    """The failure of an optimised integration's call."""
    identity = V1_IDENTITIES[service]
    if isinstance(exc, ClientError):
        code, message, status, request_id, _ = _details(exc)
        declared = _declared_error(model, exc)
        name = exception_class(declared) if declared else identity.base_exception
        cause = (f"{message} (Service: {identity.service}; Status Code: {status}; "
                 f"Error Code: {code}; Request ID: {request_id}; Proxy: null)")
        return TaskError(f"{identity.prefix}.{name}", cause)
    return _client_side(exc, identity.prefix)


def v2_error(exc: Exception, model: ServiceModel) -> TaskError:
    """The failure of an `aws-sdk:` integration's call."""
    prefix = sdk_v2_service_name(model.service_id)
    if isinstance(exc, ClientError):
        _, message, status, request_id, attempts = _details(exc)
        declared = _declared_error(model, exc)
        name = exception_class(declared) if declared else f"{prefix}Exception"
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        extended = headers.get("x-amz-id-2")
        details = f"Service: {prefix}, Status Code: {status}, Request ID: {request_id}"
        if extended:
            details += f", Extended Request ID: {extended}"
        cause = f"{message} ({details})"
        if prefix in _ATTEMPT_COUNTED:
            cause += f" (SDK Attempt Count: {attempts})"
        return TaskError(f"{prefix}.{name}", cause)
    return _client_side(exc, prefix)


def _details(exc: ClientError) -> tuple[str, str, int, str, int]:
    error = exc.response.get("Error", {})
    metadata = exc.response.get("ResponseMetadata", {})
    code = str(error.get("Code", "") or "")
    message = str(error.get("Message", "") or "")
    return (code, message, int(metadata.get("HTTPStatusCode", 0)),
            str(metadata.get("RequestId", "") or ""), int(metadata.get("RetryAttempts", 0)) + 1)


def _declared_error(model: ServiceModel, exc: ClientError) -> str | None:
    """The error shape the service model declares for the error, matched on its name or wire
    code (SQS's JSON protocol reports `QueueDoesNotExist` as `QueryErrorCode` beside the
    query-compatible `Code` `AWS.SimpleQueueService.NonExistentQueue`)."""
    error = exc.response.get("Error", {})
    codes = {str(code) for code in (error.get("QueryErrorCode"), error.get("Code")) if code}
    for shape in model.error_shapes:
        if shape.name in codes or shape.error_code in codes:
            return str(shape.name)
    return None


def _client_side(exc: Exception, prefix: str) -> TaskError:
    if isinstance(exc, ParamValidationError):
        # A request botocore cannot even build: AWS refuses such parameters when the
        # definition is created; at run time they fail the task as a runtime error.
        return TaskError("States.Runtime", str(exc))
    if isinstance(exc, HTTPClientError | ConnectionError):
        return TaskError(f"{prefix}.SdkClientException",
                         f"Unable to execute HTTP request: {exc}")
    if isinstance(exc, BotoCoreError):
        return TaskError(f"{prefix}.SdkClientException", str(exc))
    return TaskError(f"{prefix}.SdkClientException", f"{type(exc).__name__}: {exc}")
