"""Lambda API errors in AWS's REST-JSON shape: the code in `x-amzn-ErrorType` (where botocore
reads it), `{"Type": "User", "Message": ...}` as the body, and the HTTP status AWS uses."""

from __future__ import annotations

import json

from starlette.responses import Response

#: HTTP status per error code, as the Lambda API answers them.
STATUS = {
    "InvalidParameterValueException": 400,
    "InvalidRequestContentException": 400,
    "ValidationException": 400,
    "ResourceNotFoundException": 404,
    "UnknownOperationException": 404,
    "ResourceConflictException": 409,
    "PreconditionFailedException": 412,
    "RequestTooLargeException": 413,
    "UnsupportedMediaTypeException": 415,
    "TooManyRequestsException": 429,
    "ServiceException": 500,
}


class LambdaApiError(Exception):
    """A request the Lambda API refuses; `code` is the exception name botocore raises."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)


def error_response(error: LambdaApiError, request_id: str) -> Response:
    # AWS reports faults of its own ("Service") apart from rejected requests ("User").
    origin = "Service" if error.status >= 500 else "User"
    body = json.dumps({"Type": origin, "Message": error.message})
    return Response(body, status_code=error.status, media_type="application/json",
                    headers={"x-amzn-ErrorType": error.code, "x-amzn-RequestId": request_id})


def not_found(arn: str) -> LambdaApiError:
    return LambdaApiError("ResourceNotFoundException", f"Function not found: {arn}")
