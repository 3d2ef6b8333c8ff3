"""Pass, Choice, Succeed and Fail: states that finish within the turn that enters them."""

from __future__ import annotations

from runtime import errors
from runtime.errors import StatesError
from runtime.model import states as asl
from runtime.program import ChoiceNode, FailNode, Node
from runtime.reducers.turn import Turn


def run_pass(turn: Turn, frame_id: str, node: Node) -> None:
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    spec = node.spec
    try:
        if node.jsonata:
            result = scope.input
        else:
            effective = node.effective_input(scope)
            result = spec.result if isinstance(spec, asl.Pass) and spec.has_result else effective
        output = node.output(scope, result)
        assigned = node.assign(scope, result)
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.exit_state(frame_id, node, output, assigned, node.next)


def run_succeed(turn: Turn, frame_id: str, node: Node) -> None:
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    try:
        output = node.output(scope, node.effective_input(scope))
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.exit_state(frame_id, node, output, None, None)


def run_fail(turn: Turn, frame_id: str, node: FailNode) -> None:
    scope = turn.scope(turn.frame(frame_id))
    try:
        error = node.error(scope) if node.error is not None else None
        cause = node.cause(scope) if node.cause is not None else None
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.fail_frame(frame_id, error, cause)


def run_choice(turn: Turn, frame_id: str, node: ChoiceNode) -> None:
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    try:
        effective = node.effective_input(scope)
        rule_scope = scope if node.jsonata else scope.with_input(effective)
        for rule in node.rules:
            if rule.matches(rule_scope):
                assigned = _merge(node.assign(scope, effective), rule.assign(scope, effective))
                output = (rule.output or node.output)(scope, effective)
                turn.exit_state(frame_id, node, output, assigned, rule.next)
                return
        if node.default is None:
            turn.fail_state(frame_id, node, StatesError(
                errors.NO_CHOICE_MATCHED,
                "No Matches!",
            ), prefixed=False)
            return
        output = node.output(scope, effective)
        assigned = node.assign(scope, effective)
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.exit_state(frame_id, node, output, assigned, node.default)


def _merge(first: dict[str, object] | None, second: dict[str, object] | None
           ) -> dict[str, object] | None:
    if first and second:
        return {**first, **second}
    return first or second
