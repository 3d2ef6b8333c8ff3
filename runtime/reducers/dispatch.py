"""Which reducer runs a state, and which one a fired timer or task outcome resumes."""

from __future__ import annotations

from typing import assert_never

from runtime.program import ChoiceNode, FailNode, MapNode, Node, ParallelNode, TaskNode, WaitNode
from runtime.reducers import fanout, simple, task, wait
from runtime.reducers.turn import Turn


def run_state(turn: Turn, frame_id: str, node: Node) -> None:
    """Run a state that has just been entered."""
    match node.kind:
        case "Pass":
            simple.run_pass(turn, frame_id, node)
        case "Succeed":
            simple.run_succeed(turn, frame_id, node)
        case "Fail":
            assert isinstance(node, FailNode)
            simple.run_fail(turn, frame_id, node)
        case "Choice":
            assert isinstance(node, ChoiceNode)
            simple.run_choice(turn, frame_id, node)
        case _:
            rerun_state(turn, frame_id, node)


def rerun_state(turn: Turn, frame_id: str, node: Node) -> None:
    """Start (or, after a retry interval, restart) a state that waits for something."""
    if isinstance(node, TaskNode):
        task.run_task(turn, frame_id, node)
    elif isinstance(node, WaitNode):
        wait.run_wait(turn, frame_id, node)
    elif isinstance(node, MapNode):
        fanout.run_map(turn, frame_id, node)
    elif isinstance(node, ParallelNode):
        fanout.run_parallel(turn, frame_id, node)
    else:
        assert_never(node)  # type: ignore[arg-type]
