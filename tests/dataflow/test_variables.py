from __future__ import annotations

import time
from collections.abc import Mapping

import pytest

from runtime.dataflow.variables import (
    MAX_ASSIGN_BYTES,
    MAX_TOTAL_BYTES,
    MAX_VARIABLE_BYTES,
    check_assignment,
    variable_name,
    variable_name_problem,
)
from runtime.errors import DATA_LIMIT_EXCEEDED, StatesError


def _text(size: int) -> str:
    """A string whose JSON encoding takes exactly `size` bytes (the quotes count)."""
    return "a" * (size - 2)


def _limit_error(assigned: Mapping[str, object], current: Mapping[str, object] | None = None
                 ) -> str:
    with pytest.raises(StatesError) as raised:
        check_assignment(assigned, current or {})
    assert raised.value.error == DATA_LIMIT_EXCEEDED
    return raised.value.cause


def test_jsonpath_keys_name_the_variable_without_the_path_suffix() -> None:
    assert variable_name("x.$", jsonata=False) == "x"
    assert variable_name("x", jsonata=False) == "x"
    assert variable_name("x.$", jsonata=True) == "x.$"


@pytest.mark.parametrize(("name", "valid"), [
    ("x", True), ("camelCase9", True), ("_under", True), ("ünïcödé", True), ("x" * 80, True),
    ("9lives", False), ("with space", False), ("dash-ed", False), ("dot.ted", False),
    ("", False), ("x" * 81, False), ("states", False),
])
def test_variable_name_rules(name: str, valid: bool) -> None:
    assert (variable_name_problem(name) is None) is valid


def test_a_variable_may_take_exactly_256_kib() -> None:
    # workflow-variables: "The maximum size for a single variable is 256KiB".
    check_assignment({"x": _text(MAX_VARIABLE_BYTES)}, {})
    cause = _limit_error({"x": _text(MAX_VARIABLE_BYTES + 1)})
    assert cause == (f"The variable 'x' has a size of {MAX_VARIABLE_BYTES + 1} bytes, exceeding "
                     f"the maximum of {MAX_VARIABLE_BYTES} bytes for a single variable.")


def test_sizes_are_utf8_bytes_of_the_json_text() -> None:
    # "é" is two bytes in UTF-8: the character count alone would pass.
    with pytest.raises(StatesError):
        check_assignment({"x": "é" * (MAX_VARIABLE_BYTES // 2)}, {})


def test_one_assign_field_may_hold_256_kib_in_all() -> None:
    # "you could assign X and Y to 128KiB, but you could not assign both X and Y to 256KiB in
    # the same Assign field."
    half = MAX_ASSIGN_BYTES // 2
    check_assignment({"x": _text(half), "y": _text(half)}, {})
    cause = _limit_error({"x": _text(half), "y": _text(half + 1)})
    assert "combined size" in cause and "single Assign field" in cause


def test_the_variables_of_an_execution_may_hold_10_mib() -> None:
    # "The total size of all stored variables cannot exceed 10MiB per execution."
    chunk = _text(MAX_VARIABLE_BYTES)
    stored = {f"v{index}": chunk for index in range(MAX_TOTAL_BYTES // MAX_VARIABLE_BYTES)}
    check_assignment({"v0": "replaced"}, stored)
    cause = _limit_error({"extra": 1}, stored)
    assert cause.startswith(f"The variables of the execution would have a total size of "
                            f"{MAX_TOTAL_BYTES + 1} bytes")


def test_reassigning_a_variable_replaces_its_size() -> None:
    chunk = _text(MAX_VARIABLE_BYTES)
    stored = {f"v{index}": chunk for index in range(MAX_TOTAL_BYTES // MAX_VARIABLE_BYTES)}
    check_assignment({"v1": chunk}, stored)


def test_checking_a_typical_assignment_costs_microseconds() -> None:
    current = {f"v{index}": {"id": index, "tags": ["a", "b"]} for index in range(30)}
    assigned = {"x": {"order": 1, "items": list(range(20))}, "y": "done"}
    started = time.perf_counter()
    for _ in range(1000):
        check_assignment(assigned, current)
    per_call = (time.perf_counter() - started) / 1000
    assert per_call < 50e-6
