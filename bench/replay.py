"""How long rebuilding (fold of the events) and replaying (re-deciding every turn) take on
25,000-event histories.

Run: `python bench/replay.py [--events N] [--repeat R] [--profile]`. Each workload is run once
through a real `Runtime` on the virtual clock until its history holds about N events, then
`rebuild` and `replay` run R times on that history; the table shows the best and the median.
The target for `rebuild` is under 100 ms; a workload that misses it is profiled (top functions
by own time), as is every workload with `--profile`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, NamedTuple

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import events as ev
from runtime.engine import Runtime
from runtime.program import Program
from runtime.replay import rebuild, replay
from runtime.state import ExecutionState, new_state

REBUILD_TARGET_MS: Final = 100.0

#: A counter loop: Choice, Pass and a one-second Wait per round, so every round is a turn
#: (8 events, 2 of them internal).
WAIT_LOOP: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Choice", "Default": "Done", "Choices": [
            {"Variable": "$.count", "NumericLessThanPath": "$.limit", "Next": "Increment"}]},
        "Increment": {"Type": "Pass", "Next": "Pause", "Parameters": {
            "count.$": "States.MathAdd($.count, 1)", "limit.$": "$.limit"}},
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Check"},
        "Done": {"Type": "Succeed"},
    },
}

#: The same loop without the Wait: one turn of 4 events per round.
CHOICE_LOOP: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": WAIT_LOOP["States"]["Check"],
        "Increment": {**WAIT_LOOP["States"]["Increment"], "Next": "Check"},
        "Done": {"Type": "Succeed"},
    },
}

#: A Map of Pass iterations: 4 events per item, in one turn.
MAP_OF_PASSES: dict[str, Any] = {
    "StartAt": "Fan",
    "States": {
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Touch",
            "States": {"Touch": {"Type": "Pass", "Parameters": {"item.$": "$"}, "End": True}}}},
    },
}


class Workload(NamedTuple):
    name: str
    definition: dict[str, Any]
    #: The input that makes a history of about `events` events.
    input: Callable[[int], Any]


WORKLOADS: Final = (
    Workload("choice+wait loop (turn per round)", WAIT_LOOP,
             lambda events: {"count": 0, "limit": events // 8}),
    Workload("choice loop (one turn)", CHOICE_LOOP,
             lambda events: {"count": 0, "limit": events // 4}),
    Workload("map of passes (one turn)", MAP_OF_PASSES,
             lambda events: {"items": list(range(events // 4))}),
)


class History(NamedTuple):
    program: Program
    events: list[ev.HistoryEvent]
    initial: ExecutionState


async def record(workload: Workload, events: int) -> History:
    async with Runtime(clock="virtual") as runtime:
        machine_arn = await runtime.create_state_machine("bench", workload.definition)
        arn = await runtime.start_execution(machine_arn, workload.input(events), name="bench")
        done = await runtime.wait(arn)
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        return History(runtime.state_machine(machine_arn).program, list(runtime.history(arn)),
                       new_state(arn, machine_arn, "bench"))


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` runs of `action`."""
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        out.append((time.perf_counter() - started) * 1000)
    return out


def profile(action: Callable[[], object], top: int = 12) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(action)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=25_000, help="history length to build")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each operation")
    parser.add_argument("--profile", action="store_true", help="profile every rebuild")
    args = parser.parse_args()

    print(f"{'workload':36} {'events':>7} {'turns':>6} {'rebuild best/median ms':>23} "
          f"{'replay best/median ms':>22}")
    to_profile = []
    for workload in WORKLOADS:
        history = anyio.run(record, workload, args.events)
        turns = sum(1 for event in history.events if event.type == ev.MESSAGE_RECEIVED)

        def do_rebuild(history: History = history) -> ExecutionState:
            return rebuild(history.events, state=history.initial)

        def do_replay(history: History = history) -> object:
            result = replay(history.program, history.events, state=history.initial)
            assert result.divergence is None, result.divergence.describe()
            return result

        rebuild_ms = timed(do_rebuild, args.repeat)
        replay_ms = timed(do_replay, max(1, args.repeat // 2))
        print(f"{workload.name:36} {len(history.events):>7} {turns:>6} "
              f"{min(rebuild_ms):>11.1f} / {statistics.median(rebuild_ms):>8.1f} "
              f"{min(replay_ms):>11.1f} / {statistics.median(replay_ms):>7.1f}")
        if args.profile or min(rebuild_ms) > REBUILD_TARGET_MS:
            to_profile.append((workload.name, do_rebuild))
    for name, action in to_profile:
        print(f"\nrebuild profile, {name} (target {REBUILD_TARGET_MS:.0f} ms):")
        print(profile(action))


if __name__ == "__main__":
    main()
