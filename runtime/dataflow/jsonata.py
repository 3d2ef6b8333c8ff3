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
5. Non-determinism comes from the scope only: `$random()`/`$uuid()` draw from `scope.random()`,
   `$now()`/`$millis()` return the state's entered time (`$states.context.State.EnteredTime`),
   never the wall clock, so replays evaluate to the same values.

The engine is `jsonata-python`. Its `Jsonata.evaluate()` is bypassed: it would copy every binding
into a new frame, walk (and rewrite in place) the whole result to convert nulls, and read
`$now()` from the wall clock. Instead each evaluation gets one small frame that resolves
`$states` and workflow variables on demand from the scope.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final, Literal

from jsonata import JException, Jsonata
from jsonata.functions import Functions
from jsonata.parser import Parser
from jsonata.utils import Utils

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
        except _FunctionError as error:
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


# --- bindings: $states, workflow variables, AWS's functions ----------------------------------


class _FunctionError(Exception):
    """A failure inside one of AWS's added functions (they have no JSONata error code)."""


class _ScopeFrame(Jsonata.Frame):  # type: ignore[misc]  # the engine ships no type hints
    """The root frame of one evaluation: `$states` and workflow variables come from the scope,
    built only when the expression looks them up."""

    def __init__(self, scope: Scope, *, needs_context: bool) -> None:
        super().__init__(_AWS_FRAME)
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
                scoped = _SCOPED_FUNCTIONS.get(name)
                if scoped is None:
                    return super().lookup(name)
                value = _ScopedFunction(scoped, self._scope)
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


class _ScopedFunction(Jsonata.JFunction):  # type: ignore[misc]  # no type hints upstream
    """One of AWS's functions that reads the scope ($random, $uuid, $now, $millis)."""

    def __init__(self, template: Jsonata.JFunction, scope: Scope) -> None:
        self.function = template.function
        self.signature = template.signature
        self.function_name = template.function_name
        self._implementation = template.function.function
        self._scope = scope

    def call(self, input: Any, args: Any) -> Any:
        return self._implementation(self._scope, *(args or ()))


def _define(signature: str, implementation: Callable[..., Any]) -> Jsonata.JFunction:
    return Jsonata.JFunction(Jsonata.JLambda(implementation), signature)


def _partition(array: list[Any], size: float) -> list[list[Any]]:
    # AWS: integer parameters of its functions are rounded down.
    chunk = math.floor(size)
    if chunk <= 0:
        raise _FunctionError(f"The chunk size must be a positive integer, but was {size}")
    return [list(array[start:start + chunk]) for start in range(0, len(array), chunk)]


_RANGE_LIMIT: Final = 10_000_000  # JSONata's own limit for the `[a..b]` operator (D2014)


def _range(start: float, end: float, step: float) -> list[int]:
    first, last, delta = math.floor(start), math.floor(end), math.floor(step)
    if delta == 0:
        raise _FunctionError("The step of $range must not be 0")
    values = range(first, last + (1 if delta > 0 else -1), delta)
    if len(values) > _RANGE_LIMIT:
        raise _FunctionError(f"$range would generate more than {_RANGE_LIMIT} values")
    return list(values)


_HASH_ALGORITHMS: Final[Mapping[str, Callable[[bytes], Any]]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


def _hash(data: str, algorithm: str) -> str:
    digest = _HASH_ALGORITHMS.get(algorithm)
    if digest is None:
        supported = ", ".join(_HASH_ALGORITHMS)
        raise _FunctionError(
            f"The hash algorithm '{algorithm}' is not supported; use one of {supported}"
        )
    return str(digest(data.encode()).hexdigest())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse(text: str) -> Any:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise _FunctionError(f"Unable to parse '{text}' as JSON: {error}") from None
    return Utils.NULL_VALUE if value is None else value


def _random(scope: Scope, seed: float | None = None) -> float:
    if seed is None:
        return scope.random().random()
    # AWS: the same seed always gives the same number.
    return random.Random(math.floor(seed)).random()


def _uuid(scope: Scope) -> str:
    return str(uuid.UUID(int=scope.random().getrandbits(128), version=4))


def _entered_millis(scope: Scope) -> int:
    context = scope.context
    state = context.get("State") if isinstance(context, dict) else None
    entered = state.get("EnteredTime") if isinstance(state, dict) else None
    if not isinstance(entered, str):
        raise _FunctionError("The state's entered time is not available")
    return int(datetime.fromisoformat(entered).timestamp() * 1000)


def _now(scope: Scope, picture: str | None = None, timezone: str | None = None) -> str | None:
    millis = _entered_millis(scope)
    formatted: str | None = Functions.datetime_from_millis(millis, picture, timezone)
    return formatted


def _millis(scope: Scope) -> int:
    return _entered_millis(scope)


_SCOPED_FUNCTIONS: Final[Mapping[str, Jsonata.JFunction]] = {
    "random": _define("<n?:n>", _random),
    "uuid": _define("<:s>", _uuid),
    "now": _define("<s?s?:s>", _now),
    "millis": _define("<:n>", _millis),
}


def _build_aws_frame() -> Jsonata.Frame:
    frame = Jsonata.Frame(Jsonata.static_frame)
    frame.bind("partition", _define("<an:a>", _partition))
    frame.bind("range", _define("<nnn:a<n>>", _range))
    frame.bind("hash", _define("<ss:s>", _hash))
    frame.bind("parse", _define("<s:j>", _parse))
    # AWS supports every JSONata 2.0.6 function except $eval ($parse replaces it): calling it
    # fails as calling any undefined function does (T1006).
    frame.bind("eval", None)
    for name, function in _SCOPED_FUNCTIONS.items():
        if function.signature is not None:
            function.signature.set_function_name(name)
    return frame


_AWS_FRAME: Final = _build_aws_frame()
