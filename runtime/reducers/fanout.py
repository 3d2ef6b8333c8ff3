"""Map and Parallel: child frames run in the same turn loop as their parent; the parent
completes, fails or starts more iterations whenever a child finishes."""

from __future__ import annotations

from runtime import errors
from runtime import events as ev
from runtime.dataflow.scope import JSON
from runtime.errors import StatesError
from runtime.program import MapNode, ParallelNode, RecoverableNode
from runtime.reducers.recovery import handle_error
from runtime.reducers.turn import Turn
from runtime.state import Frame, child_id, children


def run_map(turn: Turn, frame_id: str, node: MapNode) -> None:
    """Start the Map (also on every retry of it)."""
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    try:
        items = node.items(scope)
        _limits(turn, frame_id, node)
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.emit("MapStateStarted", frame_id,
              ev.MapStateStartedDetails(length=len(items), items=items))
    progress(turn, frame_id)


def run_parallel(turn: Turn, frame_id: str, node: ParallelNode) -> None:
    frame = turn.frame(frame_id)
    try:
        branch_input = node.effective_input(turn.scope(frame))
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.emit("ParallelStateStarted", frame_id,
              ev.FanoutDetails(input=branch_input, length=len(node.branches)))
    for index, branch in enumerate(node.branches):
        start_at = turn.program.machines[branch].start_at
        turn.queue.append((child_id(frame_id, index), start_at, branch_input))


def progress(turn: Turn, frame_id: str, failure: tuple[str | None, str | None] | None = None
             ) -> None:
    """Called after a child finished (or the Map started): complete, fail, or start more."""
    frame = turn.frame(frame_id)
    fan = frame.fanout
    assert fan is not None
    node = turn.node(frame)
    assert isinstance(node, (MapNode, ParallelNode))
    if isinstance(node, ParallelNode):
        if fan.succeeded == fan.total:
            _complete(turn, frame_id, node, [child.value for child in children(turn.work, frame)])
        return
    try:
        concurrency, tolerated_count, tolerated_percentage = _limits(turn, frame_id, node)
    except StatesError as limit_failure:
        turn.fail_state(frame_id, node, limit_failure)
        return
    if fan.failed and _exceeds_tolerance(node, fan.failed, fan.total, tolerated_count,
                                         tolerated_percentage):
        error, cause = failure if failure is not None else (None, None)
        if node.tolerated_count is not None or node.tolerated_percentage is not None:
            error = errors.EXCEED_TOLERATED_FAILURE_THRESHOLD
            cause = "The specified tolerated failure threshold was exceeded"
        _fail_map(turn, frame_id, node, error, cause)
        return
    if fan.succeeded + fan.failed == fan.total:
        results = [_iteration_result(child) for child in children(turn.work, frame)]
        turn.emit("MapStateSucceeded", frame_id)
        _complete(turn, frame_id, node, results)
        return
    while fan.started < fan.total and (concurrency == 0 or fan.running < concurrency):
        if not _start_iteration(turn, frame_id, node, fan.started):
            return
        fan = turn.frame(frame_id).fanout
        assert fan is not None


def _exceeds_tolerance(node: MapNode, failed: int, total: int, count: float,
                       percentage: float) -> bool:
    """AWS: with no threshold set any failure fails the Map; otherwise it fails once a
    threshold that is set is exceeded (an unset one does not count as zero)."""
    if node.tolerated_count is None and node.tolerated_percentage is None:
        return True
    if node.tolerated_count is not None and failed > count:
        return True
    return node.tolerated_percentage is not None and failed * 100.0 / total > percentage


def fail_parallel(turn: Turn, frame_id: str, error: str | None, cause: str | None) -> None:
    node = turn.node(turn.frame(frame_id))
    turn.emit("ParallelStateFailed", frame_id, ev.FanoutDetails(error=error, cause=cause))
    _recover(turn, frame_id, node, error, cause)


def _fail_map(turn: Turn, frame_id: str, node: MapNode, error: str | None, cause: str | None
              ) -> None:
    frame = turn.frame(frame_id)
    for child in children(turn.work, frame):
        if not child.done and child.state is not None:
            turn.emit("MapIterationAborted", frame_id,
                      ev.MapIterationDetails(name=node.name, index=child.index))
    _recover(turn, frame_id, node, error, cause)


def _recover(turn: Turn, frame_id: str, node: object, error: str | None, cause: str | None
             ) -> None:
    assert isinstance(node, RecoverableNode)
    handle_error(turn, frame_id, node, error or errors.BRANCH_FAILED, cause)


def _start_iteration(turn: Turn, frame_id: str, node: MapNode, index: int) -> bool:
    """Start iteration `index`; False if that failed the Map (or the execution)."""
    turn.emit("MapIterationStarted", frame_id,
              ev.MapIterationDetails(name=node.name, index=index))
    frame = turn.frame(frame_id)
    assert frame.fanout is not None
    item = frame.fanout.items[index]
    value = item
    if node.item_selector is not None:
        scope = turn.scope(frame, item=(index, item))
        try:
            selector_scope = scope if node.jsonata else scope.with_input(
                node.effective_input(scope))
            value = node.item_selector(selector_scope)
        except StatesError as failure:
            turn.fail_state(frame_id, node, failure)
            return False
    start_at = turn.program.machines[node.processor].start_at
    turn.queue.append((child_id(frame_id, index), start_at, value))
    return True


def _iteration_result(child: Frame) -> JSON:
    if child.failed:
        return {"Error": child.error, "Cause": child.cause}
    return child.value


def _complete(turn: Turn, frame_id: str, node: MapNode | ParallelNode, results: list[JSON]
              ) -> None:
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    try:
        output = node.output(scope, results)
        assigned = node.assign(scope, results)
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    turn.exit_state(frame_id, node, output, assigned, node.next)


def _limits(turn: Turn, frame_id: str, node: MapNode) -> tuple[int, float, float]:
    """(MaxConcurrency (0 = unbounded), ToleratedFailureCount, ToleratedFailurePercentage)."""
    scope = turn.scope(turn.frame(frame_id))
    concurrency = node.max_concurrency(scope) if node.max_concurrency is not None else 0
    count = node.tolerated_count(scope) if node.tolerated_count is not None else 0
    percentage = (node.tolerated_percentage(scope)
                  if node.tolerated_percentage is not None else 0)
    return int(concurrency), count, percentage
