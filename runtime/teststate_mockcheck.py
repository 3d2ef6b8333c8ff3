"""TestState's checks of a mocked result (`mock.result`), with the messages AWS answers.

A mocked Map result is the Map's result: an array, or an object when the Map has a
ResultWriter; a mocked Parallel result has one entry per branch. A mocked Task result of a
service integration is checked against the output shape of the service's API in botocore's
models, as `mock.fieldValidationMode` asks:

- STRICT (the default): required members present, present members of the right type;
- PRESENT: present members of the right type;
- NONE: no check.

Member names are the API's with the first letter upper-cased, as Step Functions returns
them (`executionArn` -> `ExecutionArn`). Members the API does not declare are accepted (AWS
accepts `{"random": "json"}` for lambda:invoke). Blobs of optimised integrations are JSON
(lambda:invoke's `Payload` is the function's decoded answer), of `aws-sdk:` ones strings.
Only request-response calls and `states:startExecution.sync` (DescribeExecution's shape)
are checked: `.waitForTaskToken` results are what the token's holder sends, other `.sync`
results follow per-service descriptions that botocore does not model, and `http:invoke`,
`apigateway:invoke`, Lambda function ARNs and activities have no API shape.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final, NoReturn

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import ListShape, MapShape, OperationNotFoundError, Shape, StructureShape

from integrations.aws._naming import botocore_service, parse_service_resource, pascal
from runtime.dataflow.scope import JSON
from runtime.errors import AslError

MODES: Final = ("STRICT", "PRESENT", "NONE")
#: `arn:aws:states:::<service>:...` names of optimised integrations that botocore spells
#: differently.
_OPTIMISED_SERVICES: Final = {"states": "stepfunctions", "elasticmapreduce": "emr"}
_PREFIX: Final = "Mock result schema validation error: "


def check_map_result(result: JSON, *, has_writer: bool) -> None:
    if has_writer and not isinstance(result, dict):
        raise AslError("ValidationException", "Mocked result must be a JSON object.")
    if not has_writer and not isinstance(result, list):
        raise AslError("ValidationException", "Mocked result must be an array.")


def check_parallel_result(result: JSON, branches: int) -> None:
    if not isinstance(result, list):
        raise AslError("ValidationException", "Mocked result must be an array.")
    if len(result) != branches:
        raise AslError("ValidationException", "Mocked result must contain the same number of "
                                              "items as number of Parallel branches.")


def check_task_result(resource: str, result: JSON, mode: str) -> None:
    """Raises AslError(ValidationException) with AWS's message when `result` does not fit."""
    if mode == "NONE" or result is None:
        return
    target = _output_shape(resource)
    if target is None:
        return
    shape, optimised = target
    _Checker(strict=mode == "STRICT", optimised=optimised).check(result, shape, None)


def _output_shape(resource: str) -> tuple[StructureShape, bool] | None:
    """(output shape, optimised?) of the API call a Task resource makes, if it has one."""
    parsed = parse_service_resource(resource)
    if parsed is None:
        return None
    pattern = resource.rsplit(":", 1)[-1].partition(".")[2] if "." in resource else ""
    optimised = not parsed.kind.startswith("aws-sdk:")
    action = parsed.action
    if optimised:
        service = _OPTIMISED_SERVICES.get(parsed.service, parsed.service)
        if (parsed.service, action, pattern) == ("states", "startExecution", "sync"):
            action, pattern = "describeExecution", ""
    else:
        found = botocore_service(parsed.service, _available_services())
        if found is None:
            return None
        service = found
    if pattern:
        return None
    shape = _operation_output(service, pascal(action))
    return (shape, optimised) if shape is not None else None


@lru_cache(maxsize=1)
def _session() -> Any:
    return botocore.session.get_session()


@lru_cache(maxsize=1)
def _available_services() -> frozenset[str]:
    return frozenset(_session().get_available_services())


@lru_cache(maxsize=256)
def _operation_output(service: str, operation: str) -> StructureShape | None:
    try:
        model = _session().get_service_model(service)
        shape = model.operation_model(operation).output_shape
    except (UnknownServiceError, OperationNotFoundError):
        return None
    return shape if isinstance(shape, StructureShape) else None


class _Checker:
    __slots__ = ("optimised", "strict")

    def __init__(self, *, strict: bool, optimised: bool) -> None:
        self.strict = strict
        self.optimised = optimised

    def check(self, value: JSON, shape: Shape, field: str | None) -> None:
        if isinstance(shape, StructureShape):
            self._structure(value, shape, field)
        elif isinstance(shape, ListShape):
            if not isinstance(value, list):
                _wrong_type(field, "an array")
            self._length(value, shape, field)
            for entry in value:
                self.check(entry, shape.member, field)
        elif isinstance(shape, MapShape):
            if not isinstance(value, dict):
                _wrong_type(field, "an object")
            for entry in value.values():
                self.check(entry, shape.value, field)
        else:
            self._scalar(value, shape, field)

    def _structure(self, value: JSON, shape: StructureShape, field: str | None) -> None:
        if shape.type_name == "document" or shape.metadata.get("document"):
            return
        if not isinstance(value, dict):
            if field is None:
                raise AslError("ValidationException",
                               f"{_PREFIX}The mocked result must be a JSON object")
            _wrong_type(field, "an object")
        members = {pascal(name): member for name, member in shape.members.items()}
        if self.strict:
            for required in shape.required_members:
                if pascal(required) not in value:
                    raise AslError("ValidationException",
                                   f"{_PREFIX}Required field '{pascal(required)}' is missing")
        for name, entry in value.items():
            member = members.get(name)
            if member is not None:
                self.check(entry, member, name)

    def _scalar(self, value: JSON, shape: Shape, field: str | None) -> None:
        kind = shape.type_name
        if kind in ("string", "timestamp") or (kind == "blob" and not self.optimised):
            if not isinstance(value, str):
                _wrong_type(field, "a string")
            if kind == "string" and shape.enum and value not in shape.enum:
                _invalid(field, "is not an expected value")
            self._length(value, shape, field)
        elif kind in ("integer", "long", "float", "double"):
            whole = kind in ("integer", "long")
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    whole and not isinstance(value, int)):
                _wrong_type(field, "a number")
            minimum, maximum = shape.metadata.get("min"), shape.metadata.get("max")
            if minimum is not None and value < minimum:
                _invalid(field, "is less than the minimum value")
            if maximum is not None and value > maximum:
                _invalid(field, "exceeds the maximum value")
        elif kind == "boolean" and not isinstance(value, bool):
            _wrong_type(field, "a boolean")

    @staticmethod
    def _length(value: str | list[Any], shape: Shape, field: str | None) -> None:
        minimum = shape.metadata.get("min")
        if minimum is not None and len(value) < minimum:
            _invalid(field, "is smaller than the minimum length")


def _wrong_type(field: str | None, expected: str) -> NoReturn:
    _invalid(field, f"must be {expected}")


def _invalid(field: str | None, problem: str) -> NoReturn:
    raise AslError("ValidationException", f"{_PREFIX}Field '{field}' {problem}")
