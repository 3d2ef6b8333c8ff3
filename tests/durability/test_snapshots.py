"""Snapshots: a store keeps an execution's state every `snapshot_every` events; resuming
starts from the latest one and folds only the events after it, to the same state."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from runtime import Runtime
from runtime.state import new_state, project

LOOP = {"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": 50, "Next": "W"}],
          "Default": "Done"},
    "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
    "P": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "C"},
    "Done": {"Type": "Succeed"}}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _run(store: Path) -> str:
    """A 50-turn execution (each Wait ends a turn), run to its end on a store."""
    async with Runtime(store=store, clock="virtual", snapshot_every=100) as rt:
        done = await rt.run(await rt.create_state_machine("loop", LOOP), {"i": 0}, name="long")
        assert done.status == "SUCCEEDED" and done.output == {"i": 50}
        return done.execution_arn


@pytest.mark.anyio
async def test_resume_from_a_snapshot_equals_folding_the_whole_history(tmp_path: Path) -> None:
    store = tmp_path / "store"
    arn = await _run(store)
    async with Runtime(store=store, clock="virtual", snapshot_every=100) as rt:
        assert rt.snapshots is not None
        snapshot = await rt.snapshots.latest(arn)
        assert snapshot is not None and snapshot.version >= 100
        events = rt.history(arn)
        resumed = rt._actor(arn).state
        folded = project(events, new_state(arn, resumed.state_machine_arn, "long"))
        assert msgspec.msgpack.encode(resumed) == msgspec.msgpack.encode(folded)


@pytest.mark.anyio
async def test_a_corrupt_snapshot_file_falls_back_to_the_log(tmp_path: Path) -> None:
    store = tmp_path / "store"
    arn = await _run(store)
    snapshots = store / "snapshots.log"
    data = bytearray(snapshots.read_bytes())
    for offset in range(20, len(data), 7):
        data[offset] ^= 0xFF
    snapshots.write_bytes(bytes(data))
    async with Runtime(store=store, clock="virtual", snapshot_every=100) as rt:
        state = rt._actor(arn).state
        assert (state.status, state.output) == ("SUCCEEDED", {"i": 50})
        assert len(rt.history(arn)) == state.version
