"""The floor of this machine, as ../shared/bench/limit.py measures it: the least work one state
transition can do in plain Python on one core, and what fsync'd appends cost."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

STATE_INPUT: dict[str, Any] = {"a": {"x": 42, "tag": "t"},
                               "payload": {"k": "v", "list": [1, 2, 3]}}
RECORD = b"x" * 199 + b"\n"


def _get(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def _set(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    result = dict(document)
    cursor = result
    for key in path[:-1]:
        cursor[key] = dict(cursor.get(key, {}))
        cursor = cursor[key]
    cursor[path[-1]] = value
    return result


def minimal_transitions(count: int) -> None:
    """`count` transitions of a Pass state with Parameters and ResultPath: copy the input, get
    two paths, set the result at a path (shallow copies) and append an event tuple."""
    events: list[tuple[int, str, str, dict[str, Any]]] = []
    document = STATE_INPUT
    x_path, tag_path, result_path = ("a", "x"), ("a", "tag"), ("a",)
    for step in range(count):
        state_input = dict(document)
        effective = {"x": _get(state_input, x_path), "tag": _get(state_input, tag_path),
                     "step": step}
        document = _set(state_input, result_path, effective)
        events.append((step, "PassStateExited", "P", document))


def rate(operation: Callable[[int], None], min_seconds: float) -> float:
    """Operations/s of `operation(n)`, best of three runs of at least min_seconds/3 each."""
    count = 1000
    while True:
        started = time.perf_counter()
        operation(count)
        if time.perf_counter() - started >= min_seconds / 3:
            break
        count *= 4
    best = min(_timed(operation, count) for _ in range(3))
    return count / best


def _timed(operation: Callable[[int], None], count: int) -> float:
    started = time.perf_counter()
    operation(count)
    return time.perf_counter() - started


def fsync_appends(records_per_fsync: int, seconds: float, directory: str) -> dict[str, float]:
    """200-byte records written `records_per_fsync` at a time, each write followed by fsync."""
    descriptor, path = tempfile.mkstemp(prefix="floor-fsync-", dir=directory)
    records = syncs = 0
    try:
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            os.write(descriptor, RECORD * records_per_fsync)
            os.fsync(descriptor)
            records += records_per_fsync
            syncs += 1
    finally:
        os.close(descriptor)
        os.unlink(path)
    return {"records_per_fsync": records_per_fsync, "records_per_s": records / elapsed,
            "fsync_ms": elapsed / syncs * 1000}


def measure(seconds: float, directory: str = "/tmp") -> dict[str, Any]:
    return {
        "transition_min_per_s": rate(minimal_transitions, seconds),
        "fsync_dir": directory,
        "fsync": [fsync_appends(group, seconds, directory) for group in (1, 100)],
    }
