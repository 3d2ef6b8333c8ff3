"""JSONPath references, compiled once per definition into plain getters.

AWS evaluates JSONPath with Jayway JsonPath. Three roots exist: `$` (the state's input), `$$`
(the context object) and `$name` (a workflow variable). A *definite* path (only names and
array indexes) gets a direct getter that walks the value with no parser at run time; any other
path splits into its longest definite prefix, walked directly, and a remainder parsed once by
jsonpath-ng. Like Jayway, a definite path with no value raises `PathNotFound`, while a
non-definite one yields the (possibly empty) list of its matches; a missing *prefix* of a
non-definite path is still "not found" (Jayway only forgives absent properties once the path
has become indefinite).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as parse_jsonpath

from runtime.dataflow.scope import JSON, Evaluator, Scope
from runtime.errors import AslError

Step = str | int
"""One definite step: an object key or an array index (negative counts from the end)."""


class PathNotFound(Exception):
    """A definite path selected nothing; callers word the AWS error for their field.

    Args:
        path: the path as written in the definition.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


_VARIABLE_ROOT: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_DOT_NAME: Final = re.compile(r"\.([^\s.\[\]()*?@$'\",\\]+)")
_BRACKET_INDEX: Final = re.compile(r"\[\s*(-?\d+)\s*\]")
_BRACKET_NAME: Final = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""")
_ESCAPE: Final = re.compile(r"\\(.)")


def _unescape(quoted: str) -> str:
    return _ESCAPE.sub(r"\1", quoted)


def split_root(path: str) -> tuple[Callable[[Scope], JSON], str]:
    """Separate the root (`$`, `$$`, `$name`) from the rest of the path.

    Returns:
        a function that reads the root value from a scope, and the path after the root.

    Raises:
        AslError: InvalidDefinition if `path` does not start with `$`.
    """
    if not path.startswith("$"):
        raise AslError("InvalidDefinition", f"Invalid JSONPath '{path}': must start with '$'")
    if path.startswith("$$"):
        return _context_root, path[2:]
    variable = _VARIABLE_ROOT.match(path)
    if variable is not None:
        name = variable.group(1)

        def variable_root(scope: Scope) -> JSON:
            try:
                return scope.variables[name]
            except KeyError:
                raise PathNotFound(path) from None

        return variable_root, path[variable.end():]
    return _input_root, path[1:]


def _input_root(scope: Scope) -> JSON:
    return scope.input


def _context_root(scope: Scope) -> JSON:
    return scope.context


def definite_prefix(rest: str) -> tuple[list[Step], str]:
    """Read the definite steps at the start of `rest` (a path without its root).

    Returns:
        the steps, and whatever follows them (empty when the whole path is definite).
    """
    steps: list[Step] = []
    position = 0
    while position < len(rest):
        if rest.startswith("..", position):
            break
        name = _DOT_NAME.match(rest, position)
        if name is not None:
            steps.append(name.group(1))
            position = name.end()
            continue
        index = _BRACKET_INDEX.match(rest, position)
        if index is not None:
            steps.append(int(index.group(1)))
            position = index.end()
            continue
        quoted = _BRACKET_NAME.match(rest, position)
        if quoted is not None:
            single, double = quoted.group(1), quoted.group(2)
            steps.append(_unescape(single if single is not None else double))
            position = quoted.end()
            continue
        break
    return steps, rest[position:]


_NOT_FOUND: Final = object()


def walk(value: JSON, steps: Sequence[Step]) -> JSON:
    """Follow definite steps from `value`; return `_NOT_FOUND` where one does not apply."""
    for step in steps:
        if type(step) is int:
            # Python would index strings too; JSONPath indexes only arrays.
            if type(value) is not list:
                return _NOT_FOUND
            try:
                value = value[step]
            except IndexError:
                return _NOT_FOUND
        else:
            try:
                value = value[step]
            except (KeyError, TypeError):
                return _NOT_FOUND
    return value


def _direct_getter(path: str, steps: Sequence[Step]) -> Callable[[JSON], JSON]:
    if len(steps) == 1 and type(steps[0]) is str:
        key = steps[0]

        def get_key(value: JSON) -> JSON:
            try:
                return value[key]
            except (KeyError, TypeError):
                raise PathNotFound(path) from None

        return get_key
    if len(steps) == 2 and type(steps[0]) is str and type(steps[1]) is str:
        outer, inner = steps

        def get_two_keys(value: JSON) -> JSON:
            try:
                return value[outer][inner]
            except (KeyError, TypeError):
                raise PathNotFound(path) from None

        return get_two_keys

    frozen = tuple(steps)

    def get_steps(value: JSON) -> JSON:
        found = walk(value, frozen)
        if found is _NOT_FOUND:
            raise PathNotFound(path)
        return found

    return get_steps


def _parse_remainder(path: str, remainder: str) -> JSONPath:
    try:
        return parse_jsonpath("$" + remainder)
    except JSONPathError as error:
        raise AslError("InvalidDefinition", f"Invalid JSONPath '{path}': {error}") from None


def compile_value_path(path: str) -> tuple[Callable[[Scope], JSON], Callable[[JSON], JSON], bool]:
    """Compile `path` into its root reader and a getter applied to the root value.

    Returns:
        (root reader, getter, definite). A definite getter returns the value or raises
        `PathNotFound`; an indefinite one returns the list of matches.

    Raises:
        AslError: InvalidDefinition for a path that is not valid JSONPath.
    """
    root, rest = split_root(path)
    steps, remainder = definite_prefix(rest)
    if not remainder:
        if not steps:
            return root, _identity, True
        return root, _direct_getter(path, steps), True
    if "$" in remainder:
        # A filter that refers back to the root must see the whole document.
        expression = _parse_remainder(path, rest)
        steps = []
    else:
        expression = _parse_remainder(path, remainder)
    prefix = tuple(steps)

    def get_matches(value: JSON) -> JSON:
        if prefix:
            value = walk(value, prefix)
            if value is _NOT_FOUND:
                raise PathNotFound(path)
        return [match.value for match in expression.find(value)]

    return root, get_matches, False


def _identity(value: JSON) -> JSON:
    return value


def compile_path(path: str) -> Evaluator:
    """Compile a JSONPath reference (`$...`, `$$...`, `$name...`) into an evaluator.

    The evaluator returns the selected value for a definite path, or the list of matches for a
    path with wildcards, slices, filters or recursive descent.

    Raises:
        AslError: InvalidDefinition (at compile time) for invalid syntax.
        PathNotFound: (at evaluation) when a definite path selects nothing.
    """
    root, getter, _ = compile_value_path(path)
    if root is _input_root:
        return lambda scope: getter(scope.input)
    return lambda scope: getter(root(scope))
