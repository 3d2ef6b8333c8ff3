from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import structlog.testing

from runtime.log.file import encode_frame, find_frame
from runtime.log.memory import MemoryEventLog
from runtime.log.snapshots import (
    SNAPSHOTS_FILE,
    FileSnapshotStore,
    MemorySnapshotStore,
    Snapshot,
    SnapshotStore,
    load,
)
from tests.log.contract import make_events

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "file"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SnapshotStore]:
    made: SnapshotStore = (
        MemorySnapshotStore()
        if request.param == "memory"
        else await FileSnapshotStore.open(tmp_path)
    )
    yield made
    await made.close()


async def test_latest_is_the_highest_version_at_or_below_lte(store: SnapshotStore) -> None:
    assert await store.latest("arn:a") is None
    for version in (3, 7, 5):
        await store.save("arn:a", version, b"state@%d" % version)
    await store.save("arn:b", 9, b"other stream")

    assert await store.latest("arn:a") == Snapshot("arn:a", 7, b"state@7")
    assert await store.latest("arn:a", lte=6) == Snapshot("arn:a", 5, b"state@5")
    assert await store.latest("arn:a", lte=5) == Snapshot("arn:a", 5, b"state@5")
    assert await store.latest("arn:a", lte=2) is None
    assert await store.latest("arn:c") is None


async def test_saving_a_version_again_replaces_it(store: SnapshotStore) -> None:
    await store.save("arn:a", 4, b"old")
    await store.save("arn:a", 4, b"new")
    assert await store.latest("arn:a") == Snapshot("arn:a", 4, b"new")


async def test_invalid_snapshots_are_refused(store: SnapshotStore) -> None:
    with pytest.raises(ValueError):
        await store.save("arn:a", 0, b"before any event")
    with pytest.raises(ValueError):
        await store.save("arn:a", 1, "text")  # type: ignore[arg-type]


async def test_closed_store_refuses_use(store: SnapshotStore) -> None:
    await store.close()
    with pytest.raises(anyio.ClosedResourceError):
        await store.save("arn:a", 1, b"s")
    with pytest.raises(anyio.ClosedResourceError):
        await store.latest("arn:a")
    await store.close()


async def test_file_store_reopens_with_its_snapshots(tmp_path: Path) -> None:
    async with await FileSnapshotStore.open(tmp_path) as store:
        await store.save("arn:a", 2, b"two")
        await store.save("arn:a", 2, b"two, again")
        await store.save("arn:a", 6, b"six")
    async with await FileSnapshotStore.open(tmp_path) as store:
        assert await store.latest("arn:a") == Snapshot("arn:a", 6, b"six")
        assert await store.latest("arn:a", lte=5) == Snapshot("arn:a", 2, b"two, again")


def snapshot_offsets(path: Path) -> list[int]:
    content, offsets = path.read_bytes(), []
    position = find_frame(content, 0)
    while position is not None:
        offsets.append(position)
        position = find_frame(content, position + 1)
    return offsets


def flip_byte(path: Path, offset: int) -> None:
    content = bytearray(path.read_bytes())
    content[offset] ^= 0xFF
    path.write_bytes(bytes(content))


async def test_snapshot_damaged_while_open_is_skipped_with_a_warning(tmp_path: Path) -> None:
    async with await FileSnapshotStore.open(tmp_path) as store:
        await store.save("arn:a", 2, b"two")
        await store.save("arn:a", 6, b"six")
        newest = snapshot_offsets(tmp_path / SNAPSHOTS_FILE)[-1]
        flip_byte(tmp_path / SNAPSHOTS_FILE, newest + 12)
        with structlog.testing.capture_logs() as logs:
            assert await store.latest("arn:a") == Snapshot("arn:a", 2, b"two")
    assert [(entry["event"], entry["offset"]) for entry in logs] == [
        ("snapshot_store.corrupt_snapshot_skipped", newest)
    ]


async def test_corrupt_snapshot_in_the_middle_is_skipped_on_open(tmp_path: Path) -> None:
    async with await FileSnapshotStore.open(tmp_path) as store:
        for version in (2, 4, 6):
            await store.save("arn:a", version, b"state@%d" % version)
    middle = snapshot_offsets(tmp_path / SNAPSHOTS_FILE)[1]
    flip_byte(tmp_path / SNAPSHOTS_FILE, middle + 12)

    with structlog.testing.capture_logs() as logs:
        store = await FileSnapshotStore.open(tmp_path)
    async with store:
        assert await store.latest("arn:a") == Snapshot("arn:a", 6, b"state@6")
        assert await store.latest("arn:a", lte=5) == Snapshot("arn:a", 2, b"state@2")
    assert [(entry["offset"], entry["torn_tail"]) for entry in logs] == [(middle, False)]


async def test_torn_snapshot_tail_is_truncated(tmp_path: Path) -> None:
    async with await FileSnapshotStore.open(tmp_path) as store:
        await store.save("arn:a", 2, b"two")
    snapshot_file = tmp_path / SNAPSHOTS_FILE
    intact_size = snapshot_file.stat().st_size
    with snapshot_file.open("ab") as handle:
        handle.write(encode_frame(b"x" * 100)[:50])

    with structlog.testing.capture_logs() as logs:
        store = await FileSnapshotStore.open(tmp_path)
    async with store:
        assert snapshot_file.stat().st_size == intact_size
        await store.save("arn:a", 3, b"three")
        assert await store.latest("arn:a") == Snapshot("arn:a", 3, b"three")
    assert [entry["torn_tail"] for entry in logs] == [True]


async def test_load_returns_the_snapshot_and_the_events_after_it() -> None:
    log, snapshots = MemoryEventLog(), MemorySnapshotStore()
    await log.append("arn:a", make_events("arn:a", 1, 6), expected_version=0)
    await snapshots.save("arn:a", 2, b"after 2")
    await snapshots.save("arn:a", 4, b"after 4")

    assert await load(log, snapshots, "arn:a") == (
        Snapshot("arn:a", 4, b"after 4"),
        make_events("arn:a", 5, 2),
    )
    assert await load(log, snapshots, "arn:a", lte=3) == (
        Snapshot("arn:a", 2, b"after 2"),
        make_events("arn:a", 3, 1),
    )
    assert await load(log, snapshots, "arn:b") == (None, [])


async def test_load_ignores_a_snapshot_ahead_of_the_log() -> None:
    # An unsynced log tail can be lost in a crash while a synced snapshot of it survives.
    log, snapshots = MemoryEventLog(), MemorySnapshotStore()
    await log.append("arn:a", make_events("arn:a", 1, 3), expected_version=0)
    await snapshots.save("arn:a", 5, b"after 5, which the log no longer has")
    assert await load(log, snapshots, "arn:a") == (None, make_events("arn:a", 1, 3))
