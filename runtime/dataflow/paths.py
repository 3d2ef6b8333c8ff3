"""JSONPath references and the JSONPath data-flow fields, compiled once per definition.

AWS evaluates JSONPath with Jayway JsonPath. Three roots exist: `$` (the state's input), `$$`
(the context object) and `$name` (a workflow variable). A *definite* path (only names and
array indexes) gets a direct getter that walks the value with no parser at run time; any other
path splits into its longest definite prefix, walked directly, and a remainder parsed once by
jsonpath-ng. Like Jayway, a definite path with no value raises `PathNotFound`, while a
non-definite one yields the (possibly empty) list of its matches; a missing *prefix* of a
non-definite path is still "not found" (Jayway forgives absent properties only once the path
has become indefinite).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Final

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as parse_jsonpath

from runtime.dataflow.scope import JSON, Evaluator, Scope
from runtime.errors import RUNTIME, AslError, StatesError

Step = str | int
"""One definite step: an object key or an array index (negative counts from the end)."""

REFERENCE_PATH_CONFLICT: Final = "States.ReferencePathConflict"
"""What AWS raises when ResultPath cannot be applied to the state input (for example
`"Unable to apply ReferencePath $.x to input \\"text\\""`), though the States Language spec
names States.ResultPathMatchFailure for it."""


class PathNotFound(Exception):
    """A definite path selected nothing; callers word the AWS error for their field.

    Args:
        path: the path as written in the definition.
        detail: Jayway's explanation (`No results for path: $['a']`, ...), which AWS quotes
            in some causes.
    """

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


def render_json(value: JSON) -> str:
    """Render a value the way AWS quotes it inside error causes: compact JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_VARIABLE_ROOT: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_DOT_NAME: Final = re.compile(r"\.([^\s.\[\]()*?@$'\",\\]+)")
_BRACKET_INDEX: Final = re.compile(r"\[\s*(-?\d+)\s*\]")
_BRACKET_NAME: Final = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""")
_ESCAPE: Final = re.compile(r"\\(.)")


def _invalid(path: str, reason: str) -> AslError:
    return AslError("InvalidDefinition", f"Invalid JSONPath '{path}': {reason}")


def input_root(scope: Scope) -> JSON:
    """The root reader of `$` paths (compare a compiled root with `is` to skip the call)."""
    return scope.input


def _context_root(scope: Scope) -> JSON:
    return scope.context


def split_root(path: str) -> tuple[Callable[[Scope], JSON], str]:
    """Separate the root (`$`, `$$`, `$name`) from the rest of the path.

    Returns:
        a function that reads the root value from a scope, and the path after the root.

    Raises:
        AslError: InvalidDefinition if `path` does not start with `$`.
    """
    if not path.startswith("$"):
        raise _invalid(path, "a path must start with '$'")
    if path.startswith("$$"):
        return _context_root, path[2:]
    variable = _VARIABLE_ROOT.match(path)
    if variable is None:
        return input_root, path[1:]
    name = variable.group(1)

    def variable_root(scope: Scope) -> JSON:
        try:
            return scope.variables[name]
        except KeyError:
            raise PathNotFound(path, f"The variable '${name}' is not defined") from None

    return variable_root, path[variable.end():]


def definite_prefix(rest: str) -> tuple[list[Step], str]:
    """Read the definite steps at the start of `rest` (a path without its root).

    Returns:
        the steps, and whatever follows them (empty when the whole path is definite).
    """
    steps: list[Step] = []
    position = 0
    while position < len(rest) and not rest.startswith("..", position):
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
        if quoted is None:
            break
        single, double = quoted.group(1), quoted.group(2)
        steps.append(_ESCAPE.sub(r"\1", single if single is not None else double))
        position = quoted.end()
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


_JSON_TYPE_NAMES: Final[dict[type, str]] = {
    list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _normalized(steps: Sequence[Step]) -> str:
    return "$" + "".join(f"[{step}]" if type(step) is int else f"['{step}']" for step in steps)


def explain_miss(value: JSON, steps: Sequence[Step], *, leaf_is_last: bool = True) -> str:
    """Jayway's explanation of why `steps` select nothing in `value` (used only on failure).

    Args:
        leaf_is_last: False when the steps are the prefix of an indefinite path, so that even
            the last one is an intermediate property to Jayway.
    """
    for position, step in enumerate(steps):
        here = _normalized(steps[:position])
        is_leaf = leaf_is_last and position == len(steps) - 1
        if type(step) is int:
            if value is None:
                return f"The path {here} is null"
            if type(value) is not list:
                context = value if isinstance(value, str) else render_json(value)
                return (f"Filter: [{step}] can only be applied to arrays. "
                        f"Current context is: {context}")
            if not -len(value) <= step < len(value):
                break
        elif type(value) is not dict:
            found = _JSON_TYPE_NAMES.get(type(value), "null")
            return (f"Expected to find an object with property ['{step}'] in path {here} "
                    f"but found '{found}'. This is not a json object.")
        elif step not in value:
            if is_leaf:
                break
            return f"Missing property in path {_normalized(steps[:position + 1])}"
        value = value[step]
    return f"No results for path: {_normalized(steps)}"


def _direct_getter(path: str, steps: Sequence[Step]) -> Callable[[JSON], JSON]:
    frozen = tuple(steps)

    def not_found(value: JSON) -> PathNotFound:
        return PathNotFound(path, explain_miss(value, frozen))

    # The common shapes ($.a, $.a.b) get a getter with no loop at all.
    if len(frozen) == 1 and type(frozen[0]) is str:
        key = frozen[0]

        def get_key(value: JSON) -> JSON:
            try:
                return value[key]
            except (KeyError, TypeError):
                raise not_found(value) from None

        return get_key
    if len(frozen) == 2 and type(frozen[0]) is str and type(frozen[1]) is str:
        outer, inner = frozen

        def get_two_keys(value: JSON) -> JSON:
            try:
                return value[outer][inner]
            except (KeyError, TypeError):
                raise not_found(value) from None

        return get_two_keys

    def get_steps(value: JSON) -> JSON:
        found = walk(value, frozen)
        if found is _NOT_FOUND:
            raise not_found(value)
        return found

    return get_steps


def _parse(path: str, expression: str) -> JSONPath:
    try:
        return parse_jsonpath(expression)
    except JSONPathError as error:
        raise _invalid(path, str(error)) from None


def _indefinite_getter(path: str, steps: Sequence[Step], remainder: str) -> Callable[[JSON], JSON]:
    expression = _parse(path, "$" + remainder)
    prefix = tuple(steps)

    def get_matches(value: JSON) -> JSON:
        start = walk(value, prefix) if prefix else value
        if start is _NOT_FOUND:
            raise PathNotFound(path, explain_miss(value, prefix, leaf_is_last=False))
        return [match.value for match in expression.find(start)]

    return get_matches


def _identity(value: JSON) -> JSON:
    return value


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
    if remainder:
        return root, _indefinite_getter(path, steps, remainder), False
    if not steps:
        return root, _identity, True
    return root, _direct_getter(path, steps), True


def compile_path(path: str) -> Evaluator:
    """Compile a JSONPath reference (`$...`, `$$...`, `$name...`) into an evaluator.

    The evaluator returns the selected value for a definite path, or the list of matches for a
    path with wildcards, slices, filters or recursive descent.

    Raises:
        AslError: InvalidDefinition (at compile time) for invalid syntax.
        PathNotFound: (at evaluation) when a definite path selects nothing.
    """
    root, getter, _ = compile_value_path(path)
    if root is input_root:
        return lambda scope: getter(scope.input)
    return lambda scope: getter(root(scope))


def _compile_selecting_path(path: str) -> Callable[[Scope], JSON]:
    """InputPath / OutputPath / ItemsPath: a miss fails the state as AWS words it."""
    if path == "$":
        return input_root
    evaluate = compile_path(path)

    def select(scope: Scope) -> JSON:
        try:
            return evaluate(scope)
        except PathNotFound as miss:
            raise StatesError(RUNTIME, f"Invalid path '{path}' : {miss.detail}") from None

    return select


def _empty_object(scope: Scope) -> JSON:
    return {}


def compile_input_path(path: str | None) -> Callable[[Scope], JSON]:
    """Compile InputPath; the evaluator reads `scope.input` (the raw state input).

    Args:
        path: the field's value; None for `"InputPath": null`, which gives `{}`. An absent
            field means `$`, which the caller passes.

    Raises:
        AslError: InvalidDefinition for invalid syntax.
        StatesError: (at evaluation) States.Runtime, `Invalid path '$.x' : No results for
            path: $['x']`, when the path selects nothing.
    """
    if path is None:
        return _empty_object
    return _compile_selecting_path(path)


def compile_output_path(path: str | None) -> Callable[[Scope], JSON]:
    """Compile OutputPath; the evaluator reads `scope.input`, bound by the caller to the
    state's output after ResultPath. Same semantics and errors as `compile_input_path`."""
    if path is None:
        return _empty_object
    return _compile_selecting_path(path)


def compile_items_path(path: str) -> Callable[[Scope], JSON]:
    """Compile a Map state's ItemsPath, a reference path that must select an array.

    Raises:
        AslError: InvalidDefinition for invalid syntax or a non-definite path.
        StatesError: (at evaluation) States.Runtime when the path selects nothing or selects
            something other than an array.
    """
    _, _, definite = compile_value_path(path)
    if not definite:
        raise _invalid(path, "ItemsPath must be a reference path")
    select = _compile_selecting_path(path)

    def items(scope: Scope) -> JSON:
        value = select(scope)
        if type(value) is not list:
            raise StatesError(
                RUNTIME,
                f"Invalid path '{path}' : The ItemsPath must point to a JSON array, "
                f"but found '{render_json(value)}'",
            )
        return value

    return items


def compile_result_path(path: str | None) -> Callable[[JSON, JSON], JSON]:
    """Compile ResultPath into `(state_input, result) -> combined output`.

    `$` gives the result, None (`"ResultPath": null`) gives the input unchanged, and `$.a.b`
    gives a copy of the input with `a.b` set to the result, creating missing objects. The
    input is never mutated: only the containers along the path are copied.

    Raises:
        AslError: InvalidDefinition unless `path` is a reference path on the input (no `$$`,
            no variables, no wildcards, filters, slices or descent).
        StatesError: (at evaluation) States.ReferencePathConflict when the path crosses a
            value that is not an object (or an array, for an index step).
    """
    if path is None:
        return lambda state_input, result: state_input
    root, rest = split_root(path)
    steps, remainder = definite_prefix(rest)
    if root is not input_root or remainder:
        raise _invalid(path, "ResultPath must be a reference path on the state input")
    if not steps:
        return lambda state_input, result: result
    frozen = tuple(steps)

    def combine(state_input: JSON, result: JSON) -> JSON:
        combined = _set_along(state_input, frozen, result)
        if combined is _NOT_FOUND:
            raise StatesError(
                REFERENCE_PATH_CONFLICT,
                f"Unable to apply ReferencePath {path} to input {render_json(state_input)}",
            )
        return combined

    return combine


def _set_along(container: JSON, steps: Sequence[Step], value: JSON) -> JSON:
    """A copy of `container` with `value` at `steps`; `_NOT_FOUND` if a step cannot apply."""
    step, rest = steps[0], steps[1:]
    if type(step) is int:
        if type(container) is not list or not -len(container) <= step < len(container):
            return _NOT_FOUND
        child = _set_along(container[step], rest, value) if rest else value
        if child is _NOT_FOUND:
            return _NOT_FOUND
        copied_list = list(container)
        copied_list[step] = child
        return copied_list
    if type(container) is not dict:
        return _NOT_FOUND
    if rest:
        existing = container.get(step, _NOT_FOUND)
        if existing is _NOT_FOUND and type(rest[0]) is str:
            existing = {}
        child = _NOT_FOUND if existing is _NOT_FOUND else _set_along(existing, rest, value)
    else:
        child = value
    if child is _NOT_FOUND:
        return _NOT_FOUND
    copied = dict(container)
    copied[step] = child
    return copied
