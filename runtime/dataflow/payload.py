"""JSONPath payload templates (Parameters, ItemSelector, ResultSelector), compiled once.

In any object of a template, a key ending in `.$` holds a path or an intrinsic function call
whose value replaces it under the key without `.$`. Subtrees with no such key are constants:
they are returned as they are, never rebuilt, since values are never mutated in place.
"""

from __future__ import annotations

from collections.abc import Callable

from runtime.dataflow.intrinsics import compile_intrinsic
from runtime.dataflow.paths import PathNotFound, compile_path, render_json
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


def _compile_object(template: dict[str, JSON]) -> Evaluator | None:
    entries: list[tuple[str, Evaluator | None, JSON]] = []
    is_dynamic = False
    for key, value in template.items():
        if key.endswith(".$"):
            entries.append((key[:-2], _compile_field(key, value), None))
            is_dynamic = True
            continue
        evaluator = _compile_node(value)
        entries.append((key, evaluator, value))
        is_dynamic = is_dynamic or evaluator is not None
    if not is_dynamic:
        return None
    frozen = tuple(entries)

    def build_object(scope: Scope) -> JSON:
        return {
            key: constant if evaluator is None else evaluator(scope)
            for key, evaluator, constant in frozen
        }

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


def _compile_field(key: str, expression: JSON) -> Evaluator:
    if type(expression) is not str:
        raise AslError(
            "InvalidDefinition",
            f"The value of the field '{key}' must be a JSONPath or an intrinsic function, "
            f"not {render_json(expression)}",
        )
    if expression.startswith(_INTRINSIC_PREFIX):
        return compile_intrinsic(expression)
    return _compile_field_path(key, expression)


def _compile_field_path(key: str, path: str) -> Callable[[Scope], JSON]:
    evaluate = compile_path(path)

    def select(scope: Scope) -> JSON:
        try:
            return evaluate(scope)
        except PathNotFound:
            raise StatesError(
                RUNTIME,
                f"The JSONPath '{path}' specified for the field '{key}' could not be found "
                f"in the input '{render_json(scope.input)}'",
            ) from None

    return select
