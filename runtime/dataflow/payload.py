"""JSONPath payload templates (Parameters, ItemSelector, ResultSelector), compiled once.

In any object of a template, a key ending in `.$` holds a path or an intrinsic function call
whose value replaces it under the key without `.$`. Subtrees with no such key are constants:
they are returned as they are, never rebuilt, since values are never mutated in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from runtime.dataflow.intrinsics import compile_intrinsic
from runtime.dataflow.paths import (
    PathNotFound,
    compile_path,
    compile_value_path,
    input_root,
    render_json,
)
from runtime.dataflow.scope import JSON, Evaluator, Scope
from runtime.errors import RUNTIME, AslError, StatesError

_INTRINSIC_PREFIX = "States."


def compile_payload(template: JSON) -> Evaluator:
    """Compile a payload template into an evaluator that builds the payload from a scope.

    `$` paths read `scope.input` (the caller binds it: the effective input for Parameters,
    the item for ItemSelector, the result for ResultSelector).

    Raises:
        AslError: InvalidDefinition for a `.$` field whose value is not a valid path or
            intrinsic call.
        StatesError: (at evaluation) States.Runtime when a path selects nothing; intrinsic
            failures as the intrinsic raises them.
    """
    dynamic = _compile_node(template)
    if dynamic is None:
        return lambda scope: template
    return dynamic


def _compile_node(node: JSON) -> Evaluator | None:
    """An evaluator for a node holding `.$` fields somewhere, or None for a constant node."""
    if type(node) is dict:
        return _compile_object(node)
    if type(node) is list:
        return _compile_array(node)
    return None


_CONSTANT: Final = 0
_FROM_INPUT: Final = 1
_EVALUATED: Final = 2


def _compile_object(template: dict[str, JSON]) -> Evaluator | None:
    # Each entry: (output key, kind, constant / getter / evaluator, template key). Getters of
    # `$` paths are called on `scope.input` right here, saving two calls per field.
    entries: list[tuple[str, int, Any, str]] = []
    for key, value in template.items():
        if key.endswith(".$"):
            entries.append((key[:-2], *_compile_field(key, value), key))
            continue
        evaluator = _compile_node(value)
        if evaluator is None:
            entries.append((key, _CONSTANT, value, key))
        else:
            entries.append((key, _EVALUATED, evaluator, key))
    if all(kind == _CONSTANT for _, kind, _, _ in entries):
        return None
    frozen = tuple(entries)

    def build_object(scope: Scope) -> JSON:
        built = {}
        for key, kind, item, field in frozen:
            try:
                if kind == _FROM_INPUT:
                    built[key] = item(scope.input)
                elif kind == _EVALUATED:
                    built[key] = item(scope)
                else:
                    built[key] = item
            except PathNotFound as miss:
                raise StatesError(
                    RUNTIME,
                    f"The JSONPath '{miss.path}' specified for the field '{field}' could not "
                    f"be found in the input '{render_json(scope.input)}'",
                ) from None
        return built

    return build_object


def _compile_array(template: list[JSON]) -> Evaluator | None:
    elements = [(_compile_node(element), element) for element in template]
    if all(evaluator is None for evaluator, _ in elements):
        return None
    frozen = tuple(elements)

    def build_array(scope: Scope) -> JSON:
        return [
            constant if evaluator is None else evaluator(scope)
            for evaluator, constant in frozen
        ]

    return build_array


def _compile_field(key: str, expression: JSON) -> tuple[int, Callable[[Any], JSON]]:
    """The kind and callable of a `.$` field: an intrinsic, or a path (its bare getter when
    the path reads `$`; a miss raises `PathNotFound`, worded by the enclosing object)."""
    if type(expression) is not str:
        raise AslError(
            "InvalidDefinition",
            f"The value of the field '{key}' must be a JSONPath or an intrinsic function, "
            f"not {render_json(expression)}",
        )
    if expression.startswith(_INTRINSIC_PREFIX):
        return _EVALUATED, compile_intrinsic(expression)
    root, getter, _ = compile_value_path(expression)
    if root is input_root:
        return _FROM_INPUT, getter
    return _EVALUATED, compile_path(expression)
