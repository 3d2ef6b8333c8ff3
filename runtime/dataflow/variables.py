"""Workflow variables (`Assign`): the naming rules the validator enforces and the size limits a
state's assignment must respect when it exits.

AWS developer guide, "Passing data between states with variables" (workflow-variables):

- Variable names follow the Unicode identifier rules (Unicode Standard Annex #31): an ID_Start
  first character, ID_Continue characters after it, at most 80 characters. `$states` is the one
  reserved variable.
- "The maximum size for a single variable is 256KiB", "the maximum combined size for all
  variables in a single Assign field is also 256KiB", and "the total size of all stored
  variables cannot exceed 10MiB per execution".

A limit exceeded at run time fails the state with `States.DataLimitExceeded`, the error AWS uses
for every payload size quota.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from runtime.dataflow.scope import JSON
from runtime.errors import DATA_LIMIT_EXCEEDED, StatesError

MAX_NAME_LENGTH: Final = 80
RESERVED_NAMES: Final = frozenset({"states"})
MAX_VARIABLE_BYTES: Final = 256 * 1024
MAX_ASSIGN_BYTES: Final = 256 * 1024
MAX_TOTAL_BYTES: Final = 10 * 1024 * 1024
_PATH_SUFFIX: Final = ".$"


def variable_name(key: str, *, jsonata: bool) -> str:
    """The variable an `Assign` key names: JSONPath keys ending in `.$` take a path or an
    intrinsic as value, and the suffix is not part of the name."""
    if not jsonata and key.endswith(_PATH_SUFFIX):
        return key[: -len(_PATH_SUFFIX)]
    return key


def variable_name_problem(name: str) -> str | None:
    """Why `name` cannot be a workflow variable, or None if it can."""
    if name in RESERVED_NAMES:
        return f"'{name}' is a reserved variable name"
    if len(name) > MAX_NAME_LENGTH:
        return f"a variable name cannot exceed {MAX_NAME_LENGTH} characters"
    # str.isidentifier() is UAX #31 (XID_Start, XID_Continue) plus a leading underscore, which
    # JSONata's `$_name` also reads as a variable.
    if not name.isidentifier():
        return ("a variable name must start with a letter or an underscore and contain only "
                "letters, digits and underscores")
    return None


def check_assignment(assigned: Mapping[str, JSON], current: Mapping[str, JSON]) -> None:
    """Enforce AWS's variable size limits on one state's assignment.

    Args:
        assigned: the variables the state's `Assign` (or the matched Choice rule's or Catcher's)
            evaluated to, by name.
        current: the variables visible to the state before the assignment.

    Raises:
        StatesError: `States.DataLimitExceeded` when one value exceeds 256 KiB, the assignment
            as a whole exceeds 256 KiB, or the variables after it exceed 10 MiB.
    """
    assign_bytes = 0
    for name, value in assigned.items():
        size = _size(value)
        if size > MAX_VARIABLE_BYTES:
            raise StatesError(DATA_LIMIT_EXCEEDED, (
                f"The variable '{name}' has a size of {size} bytes, exceeding the maximum of "
                f"{MAX_VARIABLE_BYTES} bytes for a single variable."))
        assign_bytes += size
    if assign_bytes > MAX_ASSIGN_BYTES:
        raise StatesError(DATA_LIMIT_EXCEEDED, (
            f"The variables assigned by the state have a combined size of {assign_bytes} bytes, "
            f"exceeding the maximum of {MAX_ASSIGN_BYTES} bytes for a single Assign field."))
    kept = [name for name in current if name not in assigned]
    # Every stored value passed the single-variable limit when it was assigned, so fewer than
    # MAX_TOTAL_BYTES / MAX_VARIABLE_BYTES (40) names cannot reach the total: no encoding needed.
    if (len(kept) + len(assigned)) * MAX_VARIABLE_BYTES <= MAX_TOTAL_BYTES:
        return
    total = assign_bytes + sum(_size(current[name]) for name in kept)
    if total > MAX_TOTAL_BYTES:
        raise StatesError(DATA_LIMIT_EXCEEDED, (
            f"The variables of the execution would have a total size of {total} bytes, "
            f"exceeding the maximum of {MAX_TOTAL_BYTES} bytes."))


def _size(value: JSON) -> int:
    """Bytes of the value's UTF-8 JSON text, as AWS measures payloads."""
    return len(msgspec.json.encode(value))
