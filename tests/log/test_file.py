from __future__ import annotations

import errno
import os
from pathlib import Path

import anyio
import msgspec
import pytest
import structlog.testing

from runtime.log import file as file_module
from runtime.log._base import CorruptLogError
from runtime.log.file import (
    EVENTS_FILE,
    EVENTS_HEADER,
    FileEventLog,
    Frame,
    encode_frame,
    parse_frame,
)
from tests.log.contract import EventLogContract, make_events

pytestmark = pytest.mark.anyio


class TestGroupCommitFileEventLog(EventLogContract):
    persistent = True

    async def make_log(self, directory: Path) -> FileEventLog:
        return await FileEventLog.open(directory, durability="group")


class TestFsyncFileEventLog(EventLogContract):
    persistent = True

    async def make_log(self, directory: Path) -> FileEventLog:
        return await FileEventLog.open(directory, durability="fsync")


class TestUnsyncedFileEventLog(EventLogContract):
    persistent = True

    async def make_log(self, directory: Path) -> FileEventLog:
        return await FileEventLog.open(directory, durability="none")


def record_offsets(log_file: Path) -> list[int]:
    """Offsets of the records in a log file."""
    content = log_file.read_bytes()
    offsets, position = [], len(EVENTS_HEADER)
    while position < len(content):
        frame = parse_frame(content, position)
        assert isinstance(frame, Frame)
        offsets.append(position)
        position = frame.end
    return offsets


async def write_three_records(directory: Path) -> Path:
    async with await FileEventLog.open(directory) as log:
        for version in (1, 2, 3):
            await log.append(
                "arn:a", make_events("arn:a", version, 1), expected_version=version - 1
            )
    return directory / EVENTS_FILE


async def create_stream(log: FileEventLog, stream_id: str) -> None:
    await log.append(stream_id, make_events(stream_id, 1, 1), expected_version=0)


def flip_byte(path: Path, offset: int) -> None:
    content = bytearray(path.read_bytes())
    content[offset] ^= 0xFF
    path.write_bytes(bytes(content))


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(lambda whole: whole[: len(whole) // 2], id="half-a-record"),
        pytest.param(lambda whole: whole[:3], id="partial-header"),
        pytest.param(lambda whole: whole[:-1] + bytes([whole[-1] ^ 1]), id="bad-checksum"),
        pytest.param(lambda whole: b"\x00" * 4096, id="zeros"),
        pytest.param(lambda whole: b"garbage \xa1\xff\xff", id="garbage"),
    ],
)
async def test_torn_tail_is_truncated_with_a_warning(tmp_path: Path, tail: object) -> None:
    log_file = await write_three_records(tmp_path)
    intact_size = log_file.stat().st_size
    record = encode_frame(b"an append that was being written when the machine stopped")
    with log_file.open("ab") as handle:
        handle.write(tail(record))  # type: ignore[operator]

    with structlog.testing.capture_logs() as logs:
        log = await FileEventLog.open(tmp_path)
    async with log:
        assert await log.read("arn:a") == make_events("arn:a", 1, 3)
        assert log_file.stat().st_size == intact_size
        await log.append("arn:a", make_events("arn:a", 4, 1), expected_version=3)
    [warning] = logs
    assert warning["event"] == "event_log.torn_tail_truncated"
    assert (warning["log_level"], warning["offset"]) == ("warning", intact_size)

    with structlog.testing.capture_logs() as logs:
        async with await FileEventLog.open(tmp_path) as log:
            assert await log.read("arn:a") == make_events("arn:a", 1, 4)
    assert logs == []


async def test_bad_checksum_in_the_middle_raises_naming_file_and_offset(tmp_path: Path) -> None:
    log_file = await write_three_records(tmp_path)
    second = record_offsets(log_file)[1]
    flip_byte(log_file, second + 12)
    before = log_file.read_bytes()

    with pytest.raises(CorruptLogError) as caught:
        await FileEventLog.open(tmp_path)
    assert (caught.value.path, caught.value.offset) == (str(log_file), second)
    assert f"{log_file}: corrupt record at byte offset {second}" in str(caught.value)
    assert log_file.read_bytes() == before  # nothing truncated


async def test_corrupt_length_in_the_middle_is_not_taken_for_a_torn_tail(tmp_path: Path) -> None:
    # A huge length makes the record "run past the end", like a torn one; valid records follow.
    log_file = await write_three_records(tmp_path)
    second = record_offsets(log_file)[1]
    content = bytearray(log_file.read_bytes())
    content[second + 4] = 0x7F
    log_file.write_bytes(bytes(content))

    with pytest.raises(CorruptLogError) as caught:
        await FileEventLog.open(tmp_path)
    assert caught.value.offset == second
    assert log_file.read_bytes() == bytes(content)


async def test_versions_that_do_not_continue_a_stream_are_corruption(tmp_path: Path) -> None:
    await write_three_records(tmp_path)
    skipping = msgspec.msgpack.encode(("arn:a", 5, [("T", b"x")]))
    log_file = tmp_path / EVENTS_FILE
    end = log_file.stat().st_size
    with log_file.open("ab") as handle:
        handle.write(encode_frame(skipping))
    with pytest.raises(CorruptLogError, match="jumps from version 3 to 5") as caught:
        await FileEventLog.open(tmp_path)
    assert caught.value.offset == end


async def test_foreign_file_is_not_opened(tmp_path: Path) -> None:
    (tmp_path / EVENTS_FILE).write_bytes(b"some other program's data")
    with pytest.raises(CorruptLogError) as caught:
        await FileEventLog.open(tmp_path)
    assert caught.value.offset == 0


async def test_interrupted_creation_is_completed(tmp_path: Path) -> None:
    (tmp_path / EVENTS_FILE).write_bytes(EVENTS_HEADER[:3])
    async with await FileEventLog.open(tmp_path) as log:
        assert await log.streams() == []
    assert (tmp_path / EVENTS_FILE).read_bytes() == EVENTS_HEADER


async def test_second_open_of_the_same_log_is_refused(tmp_path: Path) -> None:
    async with await FileEventLog.open(tmp_path):
        with pytest.raises(BlockingIOError, match="already open"):
            await FileEventLog.open(tmp_path)
    async with await FileEventLog.open(tmp_path):
        pass


async def test_unknown_durability_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        await FileEventLog.open(tmp_path, durability="sometimes")  # type: ignore[arg-type]


async def test_group_commit_of_200_appenders_is_durable_and_ordered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_upto: list[int] = []
    real_sync = file_module.sync_file

    def recording_sync(fd: int) -> None:
        real_sync(fd)
        synced_upto.append(os.lseek(fd, 0, os.SEEK_CUR))

    monkeypatch.setattr(file_module, "sync_file", recording_sync)
    log_file = tmp_path / EVENTS_FILE

    async def appender(log: FileEventLog, writer: int) -> None:
        stream_id = f"arn:exec:{writer}"
        for version in (1, 2, 3):
            [event] = make_events(stream_id, version, 1)
            await log.append(stream_id, [event], expected_version=version - 1)
            # Returned only after a sync covering the record: it is in the synced prefix.
            assert event.data in log_file.read_bytes()[: synced_upto[-1]]

    async with await FileEventLog.open(tmp_path, durability="group") as log:
        async with anyio.create_task_group() as group:
            for writer in range(200):
                group.start_soon(appender, log, writer)
        assert log.fsync_count == len(synced_upto)
        assert log.fsync_count <= 600 // 10

    async with await FileEventLog.open(tmp_path) as log:
        assert await log.streams() == [f"arn:exec:{writer}" for writer in range(200)]
        for writer in range(200):
            stream_id = f"arn:exec:{writer}"
            assert await log.read(stream_id) == make_events(stream_id, 1, 3)


async def test_fsync_mode_syncs_every_append_and_none_mode_none(tmp_path: Path) -> None:
    async def append_concurrently(log: FileEventLog) -> None:
        async with anyio.create_task_group() as group:
            for writer in range(20):
                group.start_soon(create_stream, log, f"arn:{writer}")

    async with await FileEventLog.open(tmp_path / "fsync", durability="fsync") as log:
        await append_concurrently(log)
        assert log.fsync_count == 20
    async with await FileEventLog.open(tmp_path / "none", durability="none") as log:
        await append_concurrently(log)
        assert log.fsync_count == 0
    async with await FileEventLog.open(tmp_path / "none") as log:
        assert len(await log.streams()) == 20


async def test_failed_sync_makes_the_log_refuse_appends_until_reopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = await FileEventLog.open(tmp_path, durability="group")
    await log.append("arn:a", make_events("arn:a", 1, 1), expected_version=0)

    def failing_sync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_module, "sync_file", failing_sync)
    with pytest.raises(OSError, match=r"append to .* failed") as caught:
        await log.append("arn:a", make_events("arn:a", 2, 1), expected_version=1)
    assert caught.value.errno == errno.EIO
    assert await log.version("arn:a") == 1  # never acknowledged, so never readable
    with pytest.raises(OSError, match="reopen"):
        await log.append("arn:b", make_events("arn:b", 1, 1), expected_version=0)
    await log.close()
    monkeypatch.undo()

    async with await FileEventLog.open(tmp_path) as reopened:
        # The unacknowledged record reached the file whole, so it may be there (WAL contract).
        assert (await reopened.read("arn:a"))[:1] == make_events("arn:a", 1, 1)


async def test_appends_queued_before_close_complete(tmp_path: Path) -> None:
    log = await FileEventLog.open(tmp_path, durability="fsync")
    async with anyio.create_task_group() as group:
        for writer in range(10):
            group.start_soon(create_stream, log, f"arn:{writer}")
        await anyio.wait_all_tasks_blocked()
        await log.close()
    async with await FileEventLog.open(tmp_path) as reopened:
        assert len(await reopened.streams()) == 10


async def test_read_detects_bytes_damaged_after_open(tmp_path: Path) -> None:
    async with await FileEventLog.open(tmp_path) as log:
        await log.append("arn:a", make_events("arn:a", 1, 1), expected_version=0)
        [offset] = record_offsets(tmp_path / EVENTS_FILE)
        flip_byte(tmp_path / EVENTS_FILE, offset + 12)
        with pytest.raises(CorruptLogError) as caught:
            await log.read("arn:a")
        assert caught.value.offset == offset
