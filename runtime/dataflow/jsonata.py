"""JSONata (`{% expression %}`) evaluation for states with `QueryLanguage: JSONata`.

Rules of this module:

1. A string is an expression only if it starts with `{%` and ends with `%}` exactly; AWS treats
   `" {% $x %} "` (note the spaces) as a plain string constant.
2. Everything is parsed at compile time. A JSONata syntax error, or a path whose first step reads
   the (non-existent) top-level context item, is an `InvalidDefinition`, as AWS refuses such
   definitions at CreateStateMachine.
3. Evaluation never mutates its inputs: results that reference input values share them, and
   containers are only rebuilt where an expression or a value normalisation requires it.
4. An expression that yields nothing (JSONata's `undefined`) fails the state with
   `States.QueryEvaluationError`, at any depth of a template: AWS does not drop the key
   (`Output/result` in the corpus fails rather than producing `{}`).
5. Non-determinism comes from the scope only (see `jsonata_functions`: `$random()`, `$uuid()`,
   `$now()` and `$millis()` never read the wall clock or a global generator).

The engine is `jsonata-python`. Its `Jsonata.evaluate()` is bypassed: it would copy every binding
into a new frame, walk (and rewrite in place) the whole result to convert nulls, and read
`$now()` from the wall clock. Instead each evaluation gets one small frame that resolves
`$states` and workflow variables on demand from the scope.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any, Final, Literal

from jsonata import JException, Jsonata
from jsonata.parser import Parser
from jsonata.utils import Utils

from runtime.dataflow.jsonata_functions import (
    AWS_FRAME,
    SCOPED_FUNCTIONS,
    FunctionError,
    ScopedFunction,
)
from runtime.dataflow.scope import JSON, MISSING, Evaluator, Scope
from runtime.errors import QUERY_EVALUATION_ERROR, AslError, StatesError

ExpectedType = Literal["array", "object", "string", "number", "integer", "boolean", "null"]
"""A result type a field demands (`Items` -> 'array', `TimeoutSeconds` -> 'integer', ...)."""

OPEN: Final = "{%"
CLOSE: Final = "%}"


class QueryEvaluationError(StatesError):
    """`States.QueryEvaluationError` plus the field path AWS reports as the event's `location`.

    Args:
        cause: AWS's sentence, without the reducer's "An error occurred while executing the
            state ..." prefix.
        location: the field path, e.g. `Output/result` (AWS's `EvaluationFailed.location`).
    """

    def __init__(self, cause: str, *, location: str) -> None:
        super().__init__(QUERY_EVALUATION_ERROR, cause)
        self.location = location


class JsonataDefinitionError(AslError):
    """An expression AWS refuses at definition time (`InvalidDefinition`).

    Args:
        diagnostic: `INVALID_JSONATA_EXPRESSION` or `UNSUPPORTED_JSONATA_EXPRESSION`.
        detail: the parser's message, without its JSONata error code.
        location: JSON pointer of the field in the definition, e.g. `/States/Main/Output`.
    """

    def __init__(self, diagnostic: str, detail: str, *, location: str) -> None:
        super().__init__(
            "InvalidDefinition",
            f"Invalid State Machine Definition: '{diagnostic}: {detail} at {location}'",
        )
        self.diagnostic = diagnostic
        self.detail = detail
        self.location = location


def is_jsonata_expression(value: object) -> bool:
    """Whether a definition value is a `{% ... %}` expression (no surrounding whitespace)."""
    return (
        isinstance(value, str)
        and len(value) >= len(OPEN) + len(CLOSE)
        and value.startswith(OPEN)
        and value.endswith(CLOSE)
    )


def compile_jsonata_value(
    value: JSON,
    *,
    field: str,
    location: str | None = None,
    expect: ExpectedType | None = None,
) -> Evaluator:
    """Compile a JSON template whose strings may be `{% %}` expressions.

    Args:
        value: the definition value (`Output`, `Arguments`, `Assign`, `Items`, ...).
        field: the field name used in error causes; nested keys extend it as AWS does
            (`Output/result`, and `Items[1]` for array elements).
        location: JSON pointer of the field for definition errors; defaults to `/{field}`.
        expect: the result type the field demands when the whole value is one expression.

    Returns:
        An evaluator that rebuilds only the containers holding expressions.

    Raises:
        JsonataDefinitionError: an expression does not parse or reads the top-level context.
    """
    evaluator = _compile_template(value, field, location or f"/{field}", expect)
    if evaluator is None:
        return lambda scope: value
    return evaluator


def compile_jsonata_expression(
    expression: str,
    *,
    field: str,
    location: str | None = None,
    expect: ExpectedType | None = None,
) -> Evaluator:
    """Compile one `{% ... %}` string (delimiters included); see `compile_jsonata_value`."""
    if not is_jsonata_expression(expression):
        raise JsonataDefinitionError(
            "INVALID_JSONATA_EXPRESSION",
            "An expression must be enclosed in '{%' and '%}'",
            location=location or f"/{field}",
        )
    return _compile_expression(expression, field, location or f"/{field}", expect)


def _compile_template(
    value: JSON, field: str, location: str, expect: ExpectedType | None
) -> Evaluator | None:
    """An evaluator for `value`, or None when it holds no expression (a constant)."""
    if is_jsonata_expression(value):
        return _compile_expression(value, field, location, expect)
    if isinstance(value, dict):
        entries = [
            (key, item, _compile_template(item, f"{field}/{key}", f"{location}/{_pointer(key)}",
                                          None))
            for key, item in value.items()
        ]
        if all(evaluator is None for _, _, evaluator in entries):
            return None
        return lambda scope: {
            key: item if evaluator is None else evaluator(scope)
            for key, item, evaluator in entries
        }
    if isinstance(value, list):
        elements = [
            (item, _compile_template(item, f"{field}[{index}]", f"{location}/{index}", None))
            for index, item in enumerate(value)
        ]
        if all(evaluator is None for _, evaluator in elements):
            return None
        return lambda scope: [
            item if evaluator is None else evaluator(scope) for item, evaluator in elements
        ]
    return None


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


# --- one expression ---------------------------------------------------------------------------

_SIMPLE_PATH: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
_STATES_FIELDS: Final = frozenset({"input", "context", "result", "errorOutput"})
# `$states` needs the (lazily built, costly) context object unless every use of it is followed
# by one of the cheap fields.
_STATES_WITHOUT_CONTEXT: Final = re.compile(r"\$states(?!\s*\.\s*(?:input|result|errorOutput)\b)")


def _compile_expression(
    source: str, field: str, location: str, expect: ExpectedType | None
) -> Evaluator:
    text = source[len(OPEN):-len(CLOSE)].strip()
    try:
        engine = Jsonata(text)
    except JException as error:
        raise JsonataDefinitionError(
            "INVALID_JSONATA_EXPRESSION", _render(error), location=location
        ) from None
    top_level_name = _first_top_level_name(engine.ast)
    if top_level_name is not None:
        raise JsonataDefinitionError(
            "UNSUPPORTED_JSONATA_EXPRESSION",
            f"Reference to '{top_level_name}' at the top level is not supported.",
            location=location,
        )
    ast = engine.ast
    needs_context = _STATES_WITHOUT_CONTEXT.search(text) is not None
    failure = _Failure(text, field)

    def evaluate_with_engine(scope: Scope) -> JSON:
        frame = _ScopeFrame(scope, needs_context=needs_context)
        frame.bind("$", None)
        try:
            result = engine.eval(ast, None, frame)
        except JException as error:
            raise failure.threw(f". {error.error}: {_render(error)}") from None
        except FunctionError as error:
            raise failure.threw(f": {error}") from None
        except (ArithmeticError, ValueError, TypeError, RecursionError) as error:
            # jsonata-python lets some Python errors through where jsonata-js raises a coded
            # error ($number("x") -> D3030): the state still fails with the engine's message.
            raise failure.threw(f": {error}") from None
        if result is None:
            raise failure.undefined()
        return failure.check(_to_json(result, failure), expect)

    simple = _SIMPLE_PATH.fullmatch(text)
    if simple is None:
        return evaluate_with_engine
    return _direct_path(simple, failure, expect, evaluate_with_engine)


def _direct_path(
    match: re.Match[str], failure: _Failure, expect: ExpectedType | None, fallback: Evaluator
) -> Evaluator:
    """A getter for `$states.input.a.b` / `$var.a` that skips the engine while every step is
    an object member; arrays (which JSONata maps over) and unknown names go to the engine."""
    root = match.group(1)
    keys = tuple(match.group(2).split(".")[1:])
    if root == "states":
        if not keys or keys[0] not in _STATES_FIELDS:
            return fallback
        states_field, keys = keys[0], keys[1:]

        def start(scope: Scope) -> JSON:
            return _states_field(scope, states_field)
    else:
        def start(scope: Scope) -> JSON:
            return scope.variables.get(root, MISSING)

    def evaluate(scope: Scope) -> JSON:
        value = start(scope)
        if value is MISSING:
            return fallback(scope)
        for key in keys:
            if isinstance(value, dict):
                value = value.get(key, MISSING)
                if value is MISSING:
                    raise failure.undefined()
            elif isinstance(value, list):
                return fallback(scope)
            else:
                raise failure.undefined()
        return failure.check(value, expect)

    return evaluate


def _states_field(scope: Scope, name: str) -> JSON:
    if name == "input":
        return scope.input
    if name == "context":
        return scope.context
    if name == "result":
        return scope.result
    return scope.error_output


class _Failure:
    """Builds AWS's causes for one expression in one field."""

    __slots__ = ("field", "text")

    def __init__(self, text: str, field: str) -> None:
        self.text = text
        self.field = field

    def _sentence(self, ending: str) -> QueryEvaluationError:
        return QueryEvaluationError(
            f"The JSONata expression '{self.text}' specified for the field '{self.field}' "
            f"{ending}",
            location=self.field,
        )

    def undefined(self) -> QueryEvaluationError:
        return self._sentence("returned nothing (undefined).")

    def unsupported(self) -> QueryEvaluationError:
        return self._sentence("returned an unsupported result type.")

    def threw(self, detail: str) -> QueryEvaluationError:
        return self._sentence(f"threw an error during evaluation{detail}")

    def check(self, value: JSON, expect: ExpectedType | None) -> JSON:
        if expect is None or _has_type(value, expect):
            return value
        raise self._sentence(
            f"returned an unexpected result type. Expected '{expect}', but was "
            f"'{_type_name(value)}' for value: {_compact(value)}"
        )


def _has_type(value: JSON, expected: ExpectedType) -> bool:
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return _type_name(value) == expected


def _type_name(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _compact(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _to_json(value: Any, failure: _Failure) -> JSON:
    """The engine's result as plain JSON: JSONata null -> None, its list subclass -> list,
    whole floats -> int (AWS prints 3, not 3.0). Unchanged containers are returned as they are,
    so values shared with the input are not copied."""
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, bool | str | int) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise failure.threw(f": the number {value} cannot be represented in JSON")
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        converted: dict[str, Any] | None = None
        for index, (key, item) in enumerate(value.items()):
            new = _to_json(item, failure)
            if converted is None and new is not item:
                converted = dict(list(value.items())[:index])
            if converted is not None:
                converted[key] = new
        return value if converted is None else converted
    if isinstance(value, list):
        items = [_to_json(item, failure) for item in value]
        if type(value) is list and all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items
    raise failure.unsupported()


# --- definition-time checks -------------------------------------------------------------------

# Children evaluated against a context item other than the top level one (later path steps,
# predicates, group/sort terms, transform clauses) or inside a function body.
_RELATIVE_CHILDREN: Final = frozenset(
    {"stages", "predicate", "group", "terms", "body", "pattern", "update", "delete"}
)


def _first_top_level_name(node: Any) -> str | None:
    """The first name read from the top-level context item (AWS evaluates with none)."""
    for child in _top_level_nodes(node):
        if child.type == "path" and child.steps and child.steps[0].type == "name":
            return str(child.steps[0].value)
    return None


def _top_level_nodes(node: Any) -> Iterator[Any]:
    if not isinstance(node, Parser.Symbol):
        return
    yield node
    if node.type == "path":
        if node.steps:
            yield from _top_level_nodes(node.steps[0])
        return
    if node.type == "lambda":
        return
    for name, child in vars(node).items():
        if name not in _RELATIVE_CHILDREN and not name.startswith("_"):
            yield from _nested_symbols(child)


def states_fields_read(expression: str) -> frozenset[str]:
    """The `$states` fields (`result`, `errorOutput`, ...) a `{% %}` expression reads by name,
    anywhere in it (predicates and function bodies included); empty if it does not parse.

    AWS (workflow-variables, reserved variable `$states`): "Attempting to access $states.result
    or $states.errorOutput in fields and states where they are not accessible will be caught at
    creation, update, or validation of the state machine."
    """
    try:
        root = Jsonata(expression[len(OPEN):-len(CLOSE)].strip()).ast
    except JException:
        return frozenset()
    found: set[str] = set()
    pending: list[Any] = [root]
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, list | tuple):
            pending.extend(node)
            continue
        if not isinstance(node, Parser.Symbol) or id(node) in seen:
            continue
        seen.add(id(node))
        steps = node.steps if node.type == "path" else None
        if steps and len(steps) > 1 and steps[0].type == "variable" \
                and steps[0].value == "states" and steps[1].type == "name":
            found.add(str(steps[1].value))
        pending.extend(child for name, child in vars(node).items()
                       if not name.startswith("_") and name != "ancestor")
    return frozenset(found)


def _nested_symbols(value: Any) -> Iterator[Any]:
    if isinstance(value, Parser.Symbol):
        yield from _top_level_nodes(value)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _nested_symbols(item)


# --- error messages ---------------------------------------------------------------------------

_PLACEHOLDER: Final = re.compile(r"\{\{\{?\w+\}\}\}?")


def _render(error: JException) -> str:
    """The message as jsonata-js (and so AWS) words it: jsonata-python's catalogue says `Object`
    where jsonata-js says `function`, and drops the JSON quoting of `{{value}}` inserts."""
    template = JException.error_codes.get(error.error)
    if template is None:
        return str(error)
    inserts = iter((error.current, error.expected, error.extra))

    def insert(match: re.Match[str]) -> str:
        value = next(inserts, None)
        if match.group().startswith("{{{"):
            return str(value)
        if error.error == "T0412" and isinstance(value, str):
            value = _ARRAY_ITEM_TYPES.get(value, value)
        return json.dumps(value, ensure_ascii=False, default=str)

    return _PLACEHOLDER.sub(insert, template.replace("Object", "function"))


_ARRAY_ITEM_TYPES: Final = {
    "a": "arrays", "b": "booleans", "f": "functions", "n": "numbers", "o": "objects",
    "s": "strings",
}


# --- bindings: $states and workflow variables ---------------------------------------------


class _ScopeFrame(Jsonata.Frame):  # type: ignore[misc]  # the engine ships no type hints
    """The root frame of one evaluation: `$states` and workflow variables come from the scope,
    built only when the expression looks them up."""

    def __init__(self, scope: Scope, *, needs_context: bool) -> None:
        super().__init__(AWS_FRAME)
        self._scope = scope
        self._needs_context = needs_context

    def lookup(self, name: str) -> Any:
        value = self.bindings.get(name, Utils.NONE)
        if value is not Utils.NONE:
            return value
        if name == "states":
            value = self._states()
        else:
            value = self._scope.variables.get(name, Utils.NONE)
            if value is Utils.NONE:
                scoped = SCOPED_FUNCTIONS.get(name)
                if scoped is None:
                    return super().lookup(name)
                value = ScopedFunction(scoped, self._scope)
            elif value is None:
                # A bare None binding reads as `undefined` in jsonata-python; JSON null is this.
                value = Utils.NULL_VALUE
        self.bindings[name] = value
        return value

    def _states(self) -> dict[str, JSON]:
        scope = self._scope
        states: dict[str, JSON] = {"input": scope.input}
        if self._needs_context:
            states["context"] = scope.context
        if scope.result is not MISSING:
            states["result"] = scope.result
        if scope.error_output is not MISSING:
            states["errorOutput"] = scope.error_output
        return states
