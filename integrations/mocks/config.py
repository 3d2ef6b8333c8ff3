"""The mock configuration file of Step Functions Local (and LocalStack, which reads the same
format), parsed and checked once into lookups that answer "what does the Nth invocation of this
state return?".

    {"StateMachines": {"<machine name>": {"TestCases": {"<case>": {"<state>": "<response>"}}}},
     "MockedResponses": {"<response>": {"0": {"Return": ...},
                                        "1-2": {"Throw": {"Error": "...", "Cause": "..."}}}}}

As AWS documents it: invocation keys are "N" or an inclusive range "N-M", and a mocked state
needs an answer for every invocation, so the keys must cover 0, 1, 2, ... without gaps or
overlaps. An entry holds exactly one of `Return` (any JSON value: the task's result, for
`lambda:invoke` the whole Invoke response) and `Throw` (`Error` and `Cause` strings). Both tools
require `Cause`; a missing one is accepted here and means no cause.

Built in Python, a config may also hold callables: an entry `{"0-2": fn}`, or a whole mocked
response `{"MockedResponses": {"R": fn}}` serving every invocation. `fn(call)` (sync or async)
takes the `TaskCall` and returns the result or raises `TaskError`.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from integrations._base import JSON, TaskCall

MockCallable = Callable[[TaskCall], Any]

#: Step Functions Local and LocalStack both read the file named by this variable;
#: LocalStack's CLI forwards it from `LOCALSTACK_SFN_MOCK_CONFIG`.
CONFIG_PATH_VARIABLES: Final = ("SFN_MOCK_CONFIG", "LOCALSTACK_SFN_MOCK_CONFIG")

_ROOT_FIELDS: Final = ("StateMachines", "MockedResponses")
_RANGE: Final = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EVERY_INVOCATION: Final = sys.maxsize


class MockConfigError(ValueError):
    """The mock configuration is not valid; `location` is the JSON path of the fault."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


class UnknownTestCase(LookupError):
    """The configuration has no such state machine or test case."""


class Return(msgspec.Struct, frozen=True):
    value: JSON


class Throw(msgspec.Struct, frozen=True):
    error: str
    cause: str | None = None


Response = Return | Throw | MockCallable


class MockedResponse(msgspec.Struct, frozen=True):
    """One entry of `MockedResponses`: the answer to each invocation of a state using it."""

    name: str
    #: The last invocation number each response serves, ascending (ranges are contiguous
    #: from 0, so a range's start is the previous range's end + 1).
    ends: tuple[int, ...]
    responses: tuple[Response, ...]

    def at(self, invocation: int) -> Response | None:
        """The answer to invocation `invocation` (0-based), or None past the last one."""
        index = bisect.bisect_left(self.ends, invocation)
        return self.responses[index] if index < len(self.ends) else None

    @property
    def invocations(self) -> int:
        return self.ends[-1] + 1


class MockConfig(msgspec.Struct, frozen=True):
    #: state machine name -> test case name -> state name -> mocked response name.
    state_machines: Mapping[str, Mapping[str, Mapping[str, str]]]
    responses: Mapping[str, MockedResponse]

    def test_case(self, state_machine_name: str, test_case: str) -> dict[str, MockedResponse]:
        """The mocked states of one test case, by state name.

        Raises:
            UnknownTestCase: no such state machine or test case in the configuration.
        """
        cases = self.state_machines.get(state_machine_name)
        if cases is None:
            raise UnknownTestCase(
                f"The mock configuration has no state machine named '{state_machine_name}'")
        states = cases.get(test_case)
        if states is None:
            raise UnknownTestCase(f"The mock configuration has no test case '{test_case}' "
                                  f"for state machine '{state_machine_name}'")
        return {state: self.responses[response] for state, response in states.items()}


def split_test_case(state_machine_arn: str) -> tuple[str, str | None]:
    """Step Functions Local and LocalStack select a test case by starting the execution with
    the state machine ARN suffixed `#TestCaseName`: (ARN without it, test case or None).

    Raises:
        ValueError: the ARN ends in `#` with no test case name.
    """
    arn, separator, test_case = state_machine_arn.rpartition("#")
    if not separator:
        return state_machine_arn, None
    if not test_case:
        raise ValueError(f"No test case name after '#' in '{state_machine_arn}'")
    return arn, test_case


def mock_config_path(environ: Mapping[str, str] | None = None) -> str | None:
    """The mock file named by the environment, as both tools look for it, or None."""
    env = os.environ if environ is None else environ
    return next((env[name] for name in CONFIG_PATH_VARIABLES if env.get(name)), None)


def load_mock_config(path: str | os.PathLike[str]) -> MockConfig:
    """Read and check a mock configuration file.

    Raises:
        MockConfigError: the file is not JSON or not a valid configuration.
        OSError: the file cannot be read.
    """
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise MockConfigError(f"{os.fspath(path)}:{error.lineno}:{error.colno}",
                              f"not valid JSON: {error.msg}") from None
    return parse_mock_config(document)


def parse_mock_config(document: Any) -> MockConfig:
    """Check a decoded configuration (or one built in Python) and index it.

    Raises:
        MockConfigError: naming the JSON location of the first fault.
    """
    root = _object(document, ("$",))
    for field in root:
        if field not in _ROOT_FIELDS:
            raise MockConfigError("$", f"unknown field '{field}' (the fields are "
                                  "'StateMachines' and 'MockedResponses')")
    for field in _ROOT_FIELDS:
        if field not in root:
            raise MockConfigError("$", f"missing field '{field}'")
    responses = {name: _mocked_response(name, value, ("$", "MockedResponses", name))
                 for name, value in _object(root["MockedResponses"],
                                            ("$", "MockedResponses")).items()}
    machines = {name: _test_cases(value, ("$", "StateMachines", name), responses)
                for name, value in _object(root["StateMachines"],
                                           ("$", "StateMachines")).items()}
    return MockConfig(state_machines=machines, responses=responses)


def _test_cases(value: Any, path: tuple[str, ...], responses: Mapping[str, MockedResponse]
                ) -> dict[str, dict[str, str]]:
    machine = _object(value, path)
    if set(machine) != {"TestCases"}:
        extra = sorted(set(machine) - {"TestCases"})
        raise MockConfigError(_location(path), f"unknown field '{extra[0]}'" if extra
                              else "missing field 'TestCases'")
    cases: dict[str, dict[str, str]] = {}
    for case_name, case in _object(machine["TestCases"], (*path, "TestCases")).items():
        case_path = (*path, "TestCases", case_name)
        states: dict[str, str] = {}
        for state, response in _object(case, case_path).items():
            if not isinstance(response, str):
                raise MockConfigError(_location((*case_path, state)),
                                      "must be the name of a mocked response (a string)")
            if response not in responses:
                raise MockConfigError(_location((*case_path, state)),
                                      f"no mocked response named '{response}' in "
                                      "MockedResponses")
            states[state] = response
        cases[case_name] = states
    return cases


def _mocked_response(name: str, value: Any, path: tuple[str, ...]) -> MockedResponse:
    if callable(value):
        return MockedResponse(name=name, ends=(_EVERY_INVOCATION,), responses=(value,))
    entries = _object(value, path)
    if not entries:
        raise MockConfigError(_location(path), "needs at least one invocation entry (\"0\")")
    ranges = sorted((_invocations(key, (*path, key)), key) for key in entries)
    expected = 0
    for (start, end), key in ranges:
        if start != expected:
            problem = "overlaps an earlier entry" if start < expected else \
                f"leaves invocation {expected} without a response"
            raise MockConfigError(_location((*path, key)),
                                  f"invocations {start}-{end} {problem}: every invocation "
                                  "from 0 needs exactly one response")
        expected = end + 1
    return MockedResponse(
        name=name, ends=tuple(end for (_, end), _ in ranges),
        responses=tuple(_response(entries[key], (*path, key)) for _, key in ranges))


def _invocations(key: str, path: tuple[str, ...]) -> tuple[int, int]:
    match = _RANGE.fullmatch(key)
    if match is None:
        raise MockConfigError(_location(path), "an invocation key is a number (\"0\") or an "
                              "inclusive range (\"1-3\")")
    start = int(match[1])
    end = int(match[2]) if match[2] is not None else start
    if end < start:
        raise MockConfigError(_location(path), f"range ends ({end}) before it starts ({start})")
    return start, end


def _response(value: Any, path: tuple[str, ...]) -> Response:
    if callable(value):
        return value  # type: ignore[no-any-return]
    entry = _object(value, path)
    if len(entry) != 1 or next(iter(entry)) not in ("Return", "Throw"):
        fields = ", ".join(f"'{k}'" for k in entry) or "none"
        raise MockConfigError(_location(path), "needs exactly one of 'Return' and 'Throw' "
                              f"(has {fields})")
    if "Return" in entry:
        return Return(value=entry["Return"])
    throw_path = (*path, "Throw")
    throw = _object(entry["Throw"], throw_path)
    for field in throw:
        if field not in ("Error", "Cause"):
            raise MockConfigError(_location(throw_path), f"unknown field '{field}' (the "
                                  "fields are 'Error' and 'Cause')")
    error = throw.get("Error")
    if not isinstance(error, str):
        raise MockConfigError(_location((*throw_path, "Error")), "must be a string (the error "
                              "name Retry and Catch match)")
    cause = throw.get("Cause")
    if cause is not None and not isinstance(cause, str):
        raise MockConfigError(_location((*throw_path, "Cause")), "must be a string")
    return Throw(error=error, cause=cause)


def _object(value: Any, path: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MockConfigError(_location(path), f"must be an object, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _location(path: tuple[str, ...]) -> str:
    """`$.MockedResponses.Retry['1-2'].Throw`: dotted where the key allows it."""
    parts = [path[0]]
    for key in path[1:]:
        parts.append(f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{json.dumps(key)}]")
    return "".join(parts)
