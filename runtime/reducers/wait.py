"""Wait: start a timer in the turn that enters the state, exit when it fires."""

from __future__ import annotations

from runtime import errors
from runtime.errors import StatesError
from runtime.program import WaitNode, parse_timestamp
from runtime.reducers.turn import Turn


def run_wait(turn: Turn, frame_id: str, node: WaitNode) -> None:
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    try:
        effective = node.effective_input(scope)
        inner = scope if node.jsonata else scope.with_input(effective)
        if node.seconds is not None:
            due = turn.at + float(node.seconds(inner))
        else:
            assert node.timestamp is not None
            text = node.timestamp(inner)
            parsed = parse_timestamp(text) if isinstance(text, str) else None
            if parsed is None:
                raise StatesError(errors.RUNTIME, f"The Timestamp value '{text}' is not a valid "
                                                  "ISO-8601 extended offset date-time")
            due = parsed
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.start_timer(frame_id, due, "wait")


def finish_wait(turn: Turn, frame_id: str, node: WaitNode) -> None:
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    try:
        effective = node.effective_input(scope)
        output = node.output(scope, effective)
        assigned = node.assign(scope, effective)
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.exit_state(frame_id, node, output, assigned, node.next)
