"""Validation diagnostics placed on the lines of the definition text the user typed.

The validator reports JSON locations (`/States/A/Next`, AWS's notation) or, for a syntax error,
a Jackson-style `line: N, column: M`; an editor needs a line and column. Locations join keys
with "/" unescaped, as AWS prints them, so a location is matched against the joined form of
every member path of the document rather than split back into keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from runtime.model.validate_rules import Diagnostic

_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_JACKSON_POSITION: Final = re.compile(r"line: (\d+), column: (\d+)\]$")
_decoder: Final = json.JSONDecoder()


def member_offsets(text: str) -> dict[str, int]:
    """Each member's location (`/States/A`, `/States/A/Catch/0`) -> the offset where it starts
    in `text` (its key for an object member, its value for an array element). `"/"` is the
    document. `text` must be valid JSON."""
    offsets: dict[str, int] = {}
    _walk(text, _WHITESPACE.match(text, 0).end(), "", offsets)  # type: ignore[union-attr]
    offsets["/"] = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    return offsets


def _walk(text: str, position: int, location: str, offsets: dict[str, int]) -> int:
    """Record the members of the value at `position`; return the offset just past it."""
    opener = text[position]
    if opener not in "{[":
        _, end = _decoder.raw_decode(text, position)
        return end
    closer = "}" if opener == "{" else "]"
    position = _skip(text, position + 1)
    index = 0
    while text[position] != closer:
        if opener == "{":
            key_start = position
            key, position = json.decoder.scanstring(text, position + 1)  # type: ignore[attr-defined]
            member = f"{location}/{key}"
            position = _skip(text, _skip(text, position) + 1)  # past the ':'
        else:
            key_start = position
            member = f"{location}/{index}"
        offsets.setdefault(member, key_start)
        position = _skip(text, _walk(text, position, member, offsets))
        if text[position] == ",":
            position = _skip(text, position + 1)
        index += 1
    return position + 1


def _skip(text: str, position: int) -> int:
    return _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset`."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def placed(diagnostics: Sequence[Diagnostic], text: str) -> list[dict[str, Any]]:
    """The diagnostics as JSON objects with `line` and `column` (None where the finding has no
    place in the text, e.g. "Workflow has no terminal state")."""
    offsets: dict[str, int] | None = None
    out = []
    for diagnostic in diagnostics:
        line = column = None
        location = diagnostic.location or ""
        syntax = _JACKSON_POSITION.search(location)
        if syntax is not None:
            line, column = int(syntax.group(1)), int(syntax.group(2))
        elif location.startswith("/"):
            if offsets is None:
                offsets = member_offsets(text)
            offset = _nearest(offsets, location)
            if offset is not None:
                line, column = line_and_column(text, offset)
        out.append({**msgspec.to_builtins(diagnostic), "line": line, "column": column})
    return out


def _nearest(offsets: dict[str, int], location: str) -> int | None:
    """The offset of `location`, or of its closest enclosing member that exists (a missing
    field is reported at the object that lacks it)."""
    while location:
        if location in offsets:
            return offsets[location]
        location = location.rpartition("/")[0]
    return offsets.get("/")
