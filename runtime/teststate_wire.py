"""TestState's request as it comes over the wire (AWS JSON names) -> `TestStateRequest`.

Covers every member of AWS's TestStateInput: `mock` (result, errorOutput,
fieldValidationMode), `stateConfiguration` (retrierRetryCount, errorCausedByState,
mapIterationFailureCount, mapItemReaderData), `revealSecrets`, `context`, `stateName`,
`variables`, `inspectionLevel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from runtime.errors import AslError
from runtime.teststate import InspectionLevel, Mock, TestStateRequest
from runtime.teststate_mockcheck import MODES

_LEVELS: Final = ("INFO", "DEBUG", "TRACE")


def request_from_body(body: Mapping[str, Any]) -> TestStateRequest:
    """Raises AslError(ValidationException / SerializationException) for a malformed body."""
    definition = body.get("definition")
    if definition is None:
        raise AslError("ValidationException", "1 validation error detected: Value null at "
                                              "'definition' failed to satisfy constraint: "
                                              "Member must not be null")
    if not isinstance(definition, str):
        raise AslError("SerializationException", "'definition' must be a string")
    level: InspectionLevel = body.get("inspectionLevel") or "INFO"
    if level not in _LEVELS:
        raise AslError("ValidationException", _enum_message(level, "inspectionLevel", _LEVELS))
    configuration = _object(body, "stateConfiguration")
    return TestStateRequest(
        definition=definition, input=body.get("input"), inspection_level=level,
        variables=body.get("variables"), state_name=body.get("stateName"),
        mock=_mock(body), context=body.get("context"), role_arn=body.get("roleArn") or "",
        reveal_secrets=bool(body.get("revealSecrets")),
        retrier_retry_count=_count(configuration, "retrierRetryCount"),
        error_caused_by_state=configuration.get("errorCausedByState"),
        map_iteration_failure_count=_count(configuration, "mapIterationFailureCount"),
        map_item_reader_data=configuration.get("mapItemReaderData"))


def _mock(body: Mapping[str, Any]) -> Mock | None:
    if body.get("mock") is None:
        return None
    mock = _object(body, "mock")
    error_output = mock.get("errorOutput")
    mode = mock.get("fieldValidationMode") or "STRICT"
    if mode not in MODES:
        raise AslError("ValidationException",
                       _enum_message(mode, "mock.fieldValidationMode", MODES))
    error = error_output.get("error") if isinstance(error_output, dict) else None
    cause = error_output.get("cause") if isinstance(error_output, dict) else None
    return Mock(result=mock.get("result"), error=error, cause=cause,
                field_validation_mode=mode)


def _object(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AslError("SerializationException", f"'{key}' must be an object")
    return value


def _count(configuration: Mapping[str, Any], key: str) -> int:
    value = configuration.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise AslError("SerializationException", f"'stateConfiguration.{key}' must be a number")
    if value < 0:
        raise AslError("ValidationException",
                       f"1 validation error detected: Value '{value}' at "
                       f"'stateConfiguration.{key}' failed to satisfy constraint: Member must "
                       f"have value greater than or equal to 0")
    return value


def _enum_message(value: object, field: str, allowed: tuple[str, ...]) -> str:
    return (f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]")
