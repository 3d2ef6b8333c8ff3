"""Map and Parallel: child frames run in the same turn loop as their parent, except a
Distributed Map's iterations, which are child executions of its Map Run (so that many workers
can run them); the parent completes, fails or starts more iterations whenever a child
finishes."""

from __future__ import annotations

import uuid

from runtime import errors
from runtime import events as ev
from runtime.dataflow.items import batches, reader_items
from runtime.dataflow.scope import JSON, Scope
from runtime.errors import StatesError
from runtime.map_runs import child_execution_arn, map_run_arn
from runtime.messages import ChildExecutionEnded, UpdateMapRun
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
    """A Distributed Map's iterations run as a Map Run of child executions."""
    concurrency, count, percentage = _limits(turn, frame_id, node)
    run_id = uuid.UUID(int=turn.scope(turn.frame(frame_id)).random().getrandbits(128), version=4)
    arn = map_run_arn(turn.work.state_machine_arn, node.label, run_id)
    turn.emit("MapRunStarted", frame_id, ev.MapRunStartedDetails(
        map_run_arn=arn, max_concurrency=concurrency, tolerated_count=count,
        tolerated_percentage=percentage))


def update_map_run(turn: Turn, update: UpdateMapRun) -> None:
    """UpdateMapRun: new limits for a running Map Run, applied at once (more children may
    start, or the failures so far may now fail it)."""
    for frame in list(turn.work.frames.values()):
        fan = frame.fanout
        if fan is None or fan.map_run != update.map_run_arn \
                or turn.work.map_runs[fan.map_run].status != "RUNNING":
            continue
        turn.emit(ev.MAP_RUN_UPDATED, frame.id, ev.MapRunUpdatedDetails(
            max_concurrency=update.max_concurrency, tolerated_count=update.tolerated_count,
            tolerated_percentage=update.tolerated_percentage))
        if frame.waiting is None:  # not still reading its items
            progress(turn, frame.id)
        return


def child_ended(turn: Turn, frame_id: str, node: MapNode, index: int,
                ended: ChildExecutionEnded) -> None:
    """A Map Run's child execution ended: a stopped or timed-out child counts as failed."""
    succeeded = ended.status == "SUCCEEDED"
    turn.emit(ev.CHILD_ENDED, frame_id, ev.ChildEndedDetails(
        index=index, status="SUCCEEDED" if succeeded else "FAILED",
        output=ended.output if succeeded else None, error=ended.error, cause=ended.cause))
    progress(turn, frame_id, None if succeeded else (ended.error, ended.cause))


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
    if fan.failed and _exceeds_tolerance(fan.failed, fan.total, tolerated_count,
                                         tolerated_percentage):
        error, cause = failure if failure is not None else (None, None)
        if tolerated_count is not None or tolerated_percentage is not None:
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


def _exceeds_tolerance(failed: int, total: int, count: float | None,
                       percentage: float | None) -> bool:
    """AWS: with no threshold set any failure fails the Map; otherwise it fails once a
    threshold that is set is exceeded (an unset one does not count as zero)."""
    if count is None and percentage is None:
        return True
    if count is not None and failed > count:
        return True
    return percentage is not None and failed * 100.0 / total > percentage


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
            waiting = child.waiting
            if child.done:
                continue
            if waiting is not None and waiting.kind == "child" and waiting.child is not None:
                turn.emit(ev.CHILD_ENDED, frame_id,
                          ev.ChildEndedDetails(index=child.index, status="ABORTED"))
                turn.stop_child(waiting.key, waiting.child)
            elif child.state is not None:
                turn.emit("MapIterationAborted", frame_id,
                          ev.MapIterationDetails(name=node.name, index=child.index))
    if run and turn.work.map_runs[run].status == "RUNNING":
        turn.emit("MapRunFailed", frame_id, ev.MapRunEndedDetails(error=error, cause=cause))
    _recover(turn, frame_id, node, error, cause)


def _recover(turn: Turn, frame_id: str, node: object, error: str | None, cause: str | None
             ) -> None:
    assert isinstance(node, RecoverableNode)
    handle_error(turn, frame_id, node, error or errors.BRANCH_FAILED, cause)


def _start_iteration(turn: Turn, frame_id: str, node: MapNode, index: int) -> bool:
    """Start iteration `index`: a frame of this execution, or in a Distributed Map a child
    execution of its Map Run. False if that failed the Map (or the execution)."""
    fan = turn.frame(frame_id).fanout
    assert fan is not None
    run = fan.map_run
    if not run:
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
    if run:
        turn.emit(ev.CHILD_STARTED, frame_id, ev.ChildStartedDetails(
            index=index, execution_arn=child_execution_arn(run, index), input=value))
        child = turn.frame(child_id(frame_id, index))
        assert child.waiting is not None
        turn.effects.extend(effects_for(turn.work, child, child.waiting))
        return True
    start_at = turn.program.machines[node.processor].start_at
    turn.queue.append((child_id(frame_id, index), start_at, value))
    return True


def _iteration_result(child: Frame) -> JSON:
    if child.failed:
        return {"Error": child.error, "Cause": child.cause}
    return child.value


def _limits(turn: Turn, frame_id: str, node: MapNode
            ) -> tuple[int, float | None, float | None]:
    """(MaxConcurrency (0 = unbounded), ToleratedFailureCount, ToleratedFailurePercentage);
    a tolerance is None when not set. A Map Run's are its own: set when it started, changed
    by UpdateMapRun."""
    frame = turn.frame(frame_id)
    run = frame.fanout.map_run if frame.fanout is not None else ""
    if run:
        record = turn.work.map_runs[run]
        return record.max_concurrency, record.tolerated_count, record.tolerated_percentage
    scope = turn.scope(frame)
    concurrency = node.max_concurrency(scope) if node.max_concurrency is not None else 0
    count = node.tolerated_count(scope) if node.tolerated_count is not None else None
    percentage = (node.tolerated_percentage(scope)
                  if node.tolerated_percentage is not None else None)
    return int(concurrency), count, percentage
