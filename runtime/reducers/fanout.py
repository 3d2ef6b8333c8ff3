"""Map and Parallel: child frames run in the same turn loop as their parent; the parent
completes, fails or starts more iterations whenever a child finishes."""

from __future__ import annotations

import uuid

from runtime import errors
from runtime import events as ev
from runtime.dataflow.items import batches, reader_items
from runtime.dataflow.scope import JSON, Scope
from runtime.errors import StatesError
from runtime.program import MapNode, ParallelNode, RecoverableNode
from runtime.reducers.recovery import handle_error
from runtime.reducers.turn import Turn, effects_for
from runtime.state import Frame, child_id, children

# The runtime's own service that writes a Distributed Map's results (runtime/nested.py).
WRITE_MAP_RESULTS = "arn:aws:states:::stepline:writeMapResults"


def run_map(turn: Turn, frame_id: str, node: MapNode) -> None:
    """Start the Map (also on every retry of it). A Distributed Map with an ItemReader first
    asks S3 for its items (see `request_answered`)."""
    frame = turn.frame(frame_id)
    scope = turn.scope(frame)
    reader = node.reader
    try:
        _limits(turn, frame_id, node)
        if reader is not None:
            request = reader.parameters(_item_scope(node, scope))
        else:
            items = _batched(node, scope, node.items(scope))
    except StatesError as failure:
        turn.fail_state(frame_id, node, failure)
        return
    if reader is None:
        turn.emit("MapStateStarted", frame_id,
                  ev.MapStateStartedDetails(length=len(items), items=items))
        if node.distributed:
            _start_map_run(turn, frame_id, node)
        progress(turn, frame_id)
        return
    # AWS records length 0: the Map Run reads the items.
    turn.emit("MapStateStarted", frame_id, ev.MapStateStartedDetails(length=0))
    _start_map_run(turn, frame_id, node)
    _request(turn, frame_id, reader.resource, request, "items")


def request_answered(turn: Turn, frame_id: str, node: MapNode, purpose: str, output: JSON,
                     error: str | None, cause: str | None, failed: bool) -> None:
    """The ItemReader's S3 response (purpose "items") or the ResultWriter's (purpose
    "results")."""
    if purpose == "results":
        if failed:
            _fail_map(turn, frame_id, node, errors.RESULT_WRITER_FAILED, cause)
            return
        turn.emit("MapStateSucceeded", frame_id)
        turn.complete_state(frame_id, node, output)
        return
    reader = node.reader
    assert reader is not None
    if failed:
        _fail_map(turn, frame_id, node, errors.ITEM_READER_FAILED, cause)
        return
    scope = turn.scope(turn.frame(frame_id))
    try:
        limit = reader.max_items(_item_scope(node, scope)) if reader.max_items else None
        items = reader_items(reader.action, output, reader.config, int(limit) if limit else None)
        items = _batched(node, scope, items)
    except StatesError as failure:
        _fail_map(turn, frame_id, node, failure.error, failure.cause)
        return
    turn.emit(ev.ITEMS_LOADED, frame_id, ev.ItemsLoadedDetails(items=items))
    progress(turn, frame_id)


def _item_scope(node: MapNode, scope: Scope) -> Scope:
    return scope if node.jsonata else scope.with_input(node.effective_input(scope))


def _batched(node: MapNode, scope: Scope, items: list[JSON]) -> list[JSON]:
    if node.batch_max_items is None and node.batch_max_bytes is None \
            and node.batch_input is None:
        return items
    inner = _item_scope(node, scope)
    max_items = node.batch_max_items(inner) if node.batch_max_items is not None else None
    max_bytes = node.batch_max_bytes(inner) if node.batch_max_bytes is not None else None
    return batches(items, max_items=int(max_items) if max_items else None,
                   max_bytes=int(max_bytes) if max_bytes else None,
                   batch_input=node.batch_input(inner) if node.batch_input is not None else None)


def _start_map_run(turn: Turn, frame_id: str, node: MapNode) -> None:
    """A Distributed Map's iterations run as a Map Run, named like AWS's:
    `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>`."""
    machine_arn = turn.work.state_machine_arn.split(":")
    region, account, machine = machine_arn[3], machine_arn[4], machine_arn[-1]
    run_id = uuid.UUID(int=turn.scope(turn.frame(frame_id)).random().getrandbits(128), version=4)
    arn = f"arn:aws:states:{region}:{account}:mapRun:{machine}/{node.label}:{run_id}"
    turn.emit("MapRunStarted", frame_id, ev.MapRunStartedDetails(map_run_arn=arn))


def _request(turn: Turn, frame_id: str, resource: str, parameters: JSON, purpose: str) -> None:
    turn.emit(ev.TASK_REQUESTED, frame_id, ev.TaskRequestDetails(
        resource=resource, parameters=parameters, purpose=purpose))
    waiting = turn.frame(frame_id).waiting
    assert waiting is not None
    turn.effects.extend(effects_for(turn.work, turn.frame(frame_id), waiting))


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
            turn.complete_state(frame_id, node,
                                [child.value for child in children(turn.work, frame)])
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
        finished = children(turn.work, frame)
        results = [_iteration_result(child) for child in finished]
        if fan.map_run:
            turn.emit("MapRunSucceeded", frame_id, ev.MapRunEndedDetails())
        if node.writer is not None:
            try:
                target = node.writer(_item_scope(node, turn.scope(frame)))
            except StatesError as failure:
                turn.fail_state(frame_id, node, failure)
                return
            _request(turn, frame_id, WRITE_MAP_RESULTS,
                     {**(target if isinstance(target, dict) else {}),
                      "MapRunArn": fan.map_run, "Results": results,
                      "Failed": [child.index for child in finished if child.failed]},
                     "results")
            return
        turn.emit("MapStateSucceeded", frame_id)
        turn.complete_state(frame_id, node, results)
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
    fan = frame.fanout
    run = fan.map_run if fan is not None else ""
    if fan is not None:
        for child in children(turn.work, frame):
            if not child.done and child.state is not None:
                turn.emit("MapIterationAborted", frame_id,
                          ev.MapIterationDetails(name=node.name, index=child.index),
                          map_run=run)
    if run and turn.work.map_runs[run].status == "RUNNING":
        turn.emit("MapRunFailed", frame_id, ev.MapRunEndedDetails(error=error, cause=cause))
    _recover(turn, frame_id, node, error, cause)


def _recover(turn: Turn, frame_id: str, node: object, error: str | None, cause: str | None
             ) -> None:
    assert isinstance(node, RecoverableNode)
    handle_error(turn, frame_id, node, error or errors.BRANCH_FAILED, cause)


def _start_iteration(turn: Turn, frame_id: str, node: MapNode, index: int) -> bool:
    """Start iteration `index`; False if that failed the Map (or the execution)."""
    fan = turn.frame(frame_id).fanout
    assert fan is not None
    turn.emit("MapIterationStarted", frame_id,
              ev.MapIterationDetails(name=node.name, index=index), map_run=fan.map_run)
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


def _limits(turn: Turn, frame_id: str, node: MapNode) -> tuple[int, float, float]:
    """(MaxConcurrency (0 = unbounded), ToleratedFailureCount, ToleratedFailurePercentage)."""
    scope = turn.scope(turn.frame(frame_id))
    concurrency = node.max_concurrency(scope) if node.max_concurrency is not None else 0
    count = node.tolerated_count(scope) if node.tolerated_count is not None else 0
    percentage = (node.tolerated_percentage(scope)
                  if node.tolerated_percentage is not None else 0)
    return int(concurrency), count, percentage
