"""JSONPath references and the JSONPath data-flow fields, compiled once per definition.

AWS evaluates JSONPath with Jayway JsonPath. Three roots exist: `$` (the state's input), `$$`
(the context object) and `$name` (a workflow variable). A *definite* path (only names and
array indexes) gets a direct getter that walks the value with no parser at run time; any other
path splits into its longest definite prefix, walked directly, and a remainder parsed once by
jsonpath-ng, with its array steps swapped for ones that behave like Jayway's. A definite path
with no value raises `PathNotFound`; a non-definite one always yields the (possibly empty)
list of its matches, even when its definite prefix is missing or crosses a non-object (AWS
gives `[]` for `$.items[*]` or `$.item.items[1:]` on `{}`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as parse_jsonpath
from jsonpath_ng.jsonpath import DatumInContext, Fields, Index, Slice

from runtime.dataflow.scope import JSON, Evaluator, Scope
from runtime.errors import RUNTIME, AslError, StatesError

Step = str | int
"""One definite step: an object key or an array index (negative counts from the end)."""

REFERENCE_PATH_CONFLICT: Final = "States.ReferencePathConflict"
"""What AWS executions report when ResultPath cannot be applied to the state input
(`"Unable to apply ReferencePath $.someTaskResult to input \\"input1\\""`). The States Language
spec and the SDKs' error constants document States.ResultPathMatchFailure for this failure,
but executions are observed to fail with this name instead, and a Catch must match it."""


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
# A backslash keeps the next character from closing the name, but stays in the name: AWS's
# Jayway takes the text between the quotes verbatim (`$['a\"b']` selects the key `a\"b`).
_BRACKET_NAME: Final = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""")


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
        steps.append(single if single is not None else double)
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


def explain_miss(value: JSON, steps: Sequence[Step]) -> str:
    """Jayway's explanation of why `steps` select nothing in `value` (used only on failure)."""
    for position, step in enumerate(steps):
        here = _normalized(steps[:position])
        is_leaf = position == len(steps) - 1
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


class _Wildcard:
    """Jayway's `[*]` and `.*`: the elements of an array or the values of an object, and
    nothing from anything else (jsonpath-ng would wrap a non-array in a one-element list)."""

    def find(self, datum: Any) -> list[Any]:
        datum = DatumInContext.wrap(datum)
        value = datum.value
        if type(value) is list:
            return [DatumInContext(item, path=Index(at), context=datum)
                    for at, item in enumerate(value)]
        if type(value) is dict:
            return [DatumInContext(item, path=Fields(key), context=datum)
                    for key, item in value.items()]
        return []


class _ArraySlice:
    """A slice (`[1:]`, `[:2]`) that, as in Jayway, selects nothing from a non-array."""

    def __init__(self, bounds: Any) -> None:
        self._bounds = bounds

    def find(self, datum: Any) -> list[Any]:
        datum = DatumInContext.wrap(datum)
        if type(datum.value) is not list:
            return []
        return list(self._bounds.find(datum))


class _ArrayIndexes:
    """Indexes (`[0]`, `[0,2]`, `[-1]`) that, as in Jayway, select only existing elements of an
    array (jsonpath-ng would index a string, fail on an object, or raise on a short array)."""

    def __init__(self, indexes: tuple[int, ...]) -> None:
        self._indexes = indexes

    def find(self, datum: Any) -> list[Any]:
        datum = DatumInContext.wrap(datum)
        value = datum.value
        if type(value) is not list:
            return []
        return [DatumInContext(value[at], path=Index(at), context=datum)
                for at in self._indexes if -len(value) <= at < len(value)]


def _with_jayway_steps(node: Any) -> Any:
    """`node` with its wildcards, slices and indexes replaced by the Jayway-like steps above,
    which jsonpath-ng's other nodes call through `find` alone.

    The tree comes fresh from the parser and is shared with nobody, so it is adjusted in place;
    nested paths (filter expressions, descent, unions) are reached through the node's fields.
    """
    if type(node) is Slice:
        if node.start is None and node.end is None and node.step is None:
            return _Wildcard()
        return _ArraySlice(node)
    if type(node) is Index:
        return _ArrayIndexes(tuple(node.indices))
    if type(node) is Fields and node.fields == ("*",):
        return _Wildcard()
    if isinstance(node, JSONPath):
        for name, child in list(vars(node).items()):
            if isinstance(child, JSONPath):
                setattr(node, name, _with_jayway_steps(child))
            elif type(child) is list:
                setattr(node, name, [_with_jayway_steps(item) for item in child])
    return node


def _indefinite_getter(path: str, steps: Sequence[Step], remainder: str) -> Callable[[JSON], JSON]:
    expression = _with_jayway_steps(_parse(path, "$" + remainder))
    prefix = tuple(steps)

    def get_matches(value: JSON) -> JSON:
        start = walk(value, prefix) if prefix else value
        if start is _NOT_FOUND:
            return []
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
