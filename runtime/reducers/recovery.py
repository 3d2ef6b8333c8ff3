"""What happens after a Task, Parallel or Map state fails: Retry, then Catch, then failure of
the frame. States without Retry/Catch fail their frame directly."""

from __future__ import annotations

from runtime import events as ev
from runtime.errors import StatesError
from runtime.program import Node, RecoverableNode
from runtime.reducers.retry import backoff, find_retrier, matches
from runtime.reducers.turn import Turn


def handle_error(turn: Turn, frame_id: str, node: Node, error: str, cause: str | None) -> None:
    """AWS records MapStateFailed only when no retry follows (a retried Map goes straight from
    MapIterationFailed to MapStateStarted); Parallel records ParallelStateFailed itself."""
    if not isinstance(node, RecoverableNode):
        turn.fail_frame(frame_id, error, cause)
        return
    frame = turn.frame(frame_id)
    index = find_retrier(node.retriers, error)
    if index is not None:
        retrier = node.retriers[index]
        attempts = frame.retry_counts[index] if index < len(frame.retry_counts) else 0
        if attempts < retrier.max_attempts:
            delay = backoff(retrier, attempts, turn.scope(frame).random())
            turn.start_timer(frame_id, turn.at + delay, f"retry:{index}")
            return
    if node.kind == "Map":
        turn.emit("MapStateFailed", frame_id, ev.FanoutDetails(error=error, cause=cause))
    for catcher in node.catchers:
        if matches(catcher.error_equals, error):
            # AWS's error output always has a Cause, empty when there is none (e.g. a timeout;
            # conformance: error_handling/test_task_service_lambda::test_invoke_timeout).
            error_output = {"Error": error, "Cause": cause if cause is not None else ""}
            scope = turn.scope(frame)
            try:
                output = catcher.output(scope, error_output)
                assigned = catcher.assign(scope, error_output)
            except StatesError as failure:
                # A catcher that fails does not catch again: the error ends the frame.
                turn.fail_state(frame_id, node, failure, recoverable=False)
                return
            turn.exit_state(frame_id, node, output, assigned, catcher.next)
            return
    turn.fail_frame(frame_id, error, cause)

