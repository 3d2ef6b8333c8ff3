"""Durable event log: one append-only file holding the streams of many executions.

File layout (`<directory>/events.log`)::

    file header  b"STPLEVT1" (format version in the last byte)
    record*      mark (1 byte, 0xA1) | payload length (u32 LE) | CRC32 (u32 LE) | payload

The CRC is zlib's CRC-32 over mark, length and payload (CRC-32C would need a new dependency; the
error-detection strength is the same for our purpose). A payload is the msgpack encoding of one
append call: (stream_id, first_version, [(type, data), ...]), so an append is atomic by
construction: a record is either whole and checksummed or it is not there.

Recovery rules on open:

1. A bad record (short, wrong mark, checksum mismatch) with no valid record anywhere after it is
   a torn tail from an interrupted write: it is truncated, with a warning.
2. A bad record followed by a valid one is corruption, not a torn write: `CorruptLogError`
   names the file and offset, and nothing is truncated or skipped.
3. A checksummed record that does not decode, or whose versions do not continue its stream
   densely, is corruption as well (rule 2).

An append whose caller saw an error or a crash may still be present after reopening if its
record reached the disk whole; this is the usual write-ahead-log contract.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import zlib
from array import array
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from typing import Final, Literal, NamedTuple, TypeAlias

import anyio
import anyio.lowlevel
import anyio.to_thread
import msgspec
import structlog

from runtime.log._base import (
    ConcurrencyError,
    CorruptLogError,
    StoredEvent,
    check_batch,
    read_window,
)

Durability = Literal["fsync", "group", "none"]
Buffer = bytes | mmap.mmap

EVENTS_FILE: Final = "events.log"
EVENTS_HEADER: Final = b"STPLEVT1"
RECORD_MARK: Final = 0xA1
FRAME_HEAD: Final = struct.Struct("<BII")
# A group commit stops taking records at this size, bounding one write and its latency.
_GROUP_BYTES: Final = 4 << 20

_logger = structlog.get_logger(__name__)


# --- framing (shared with the snapshot store) ---------------------------------------------------


class Frame(NamedTuple):
    """A valid record found in a buffer."""

    payload: bytes
    #: Offset just past the record.
    end: int


def encode_frame(payload: bytes) -> bytes:
    """Return `payload` framed with mark, length and checksum."""
    head = struct.pack("<BI", RECORD_MARK, len(payload))
    return head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))) + payload


def parse_frame(buf: Buffer, offset: int) -> Frame | str:
    """Return the record at `offset`, or the reason there is no valid record there."""
    if offset + FRAME_HEAD.size > len(buf):
        return "truncated record header"
    mark, length, crc = FRAME_HEAD.unpack_from(buf, offset)
    if mark != RECORD_MARK:
        return f"bad record mark 0x{mark:02x}"
    start = offset + FRAME_HEAD.size
    end = start + length
    if end > len(buf):
        return f"record of {length} bytes runs past the end of the file"
    payload = buf[start:end]
    if zlib.crc32(payload, zlib.crc32(buf[offset : offset + 5])) != crc:
        return "checksum mismatch"
    return Frame(payload, end)


def find_frame(buf: Buffer, start: int) -> int | None:
    """Return the offset of the first valid record at or after `start`, if any."""
    mark = bytes([RECORD_MARK])
    position = buf.find(mark, start)
    while position != -1:
        if isinstance(parse_frame(buf, position), Frame):
            return position
        position = buf.find(mark, position + 1)
    return None


def read_frame_at(fd: int, offset: int) -> Frame | str:
    """Read and check the record at `offset` of an open file (blocking)."""
    head = os.pread(fd, FRAME_HEAD.size, offset)
    if len(head) < FRAME_HEAD.size:
        return "truncated record header"
    _, length, _ = FRAME_HEAD.unpack(head)
    return parse_frame(head + os.pread(fd, length, offset + FRAME_HEAD.size), 0)


# --- blocking file operations (run in a worker thread) ------------------------------------------


def open_data_file(path: str, header: bytes) -> int:
    """Open or create an append-only data file, lock it, check its header; return the fd.

    Raises:
        BlockingIOError: the file is already open (in this process or another one).
        CorruptLogError: the file does not start with `header`.
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BlockingIOError(exc.errno, f"{path} is already open") from None
        existing = os.pread(fd, len(header), 0)
        if len(existing) < len(header) and (header.startswith(existing) or not any(existing)):
            # A new file, or one whose creation was interrupted before the header was synced.
            os.ftruncate(fd, 0)
            os.pwrite(fd, header, 0)
            os.fsync(fd)
            sync_directory(directory)
        elif existing != header:
            raise CorruptLogError(path, 0, f"file header {existing!r} is not {header!r}")
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def map_file(fd: int) -> Iterator[Buffer]:
    """Map a whole file read-only for scanning."""
    size = os.fstat(fd).st_size
    if size == 0:
        yield b""
        return
    with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mapped:
        yield mapped


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` at the file position (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def sync_file(fd: int) -> None:
    """Make written data durable; fdatasync also covers the file size an append changes."""
    os.fdatasync(fd)


def sync_directory(directory: str) -> None:
    """Make a file's creation in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def truncate_tail(fd: int, end: int) -> None:
    """Cut the file at `end` durably and position writes there."""
    os.ftruncate(fd, end)
    os.fsync(fd)
    os.lseek(fd, end, os.SEEK_SET)


# --- records and the index ----------------------------------------------------------------------


class _Record(msgspec.Struct, array_like=True, frozen=True):
    stream_id: str
    first_version: int
    events: list[tuple[str, bytes]]


_encode_record = msgspec.msgpack.Encoder().encode
_record_decoder = msgspec.msgpack.Decoder(_Record)

#: stream id -> record offset of each version (index v - 1); dict order is creation order.
Index: TypeAlias = "dict[str, array[int]]"


def _decode_record(payload: bytes, path: str, offset: int) -> _Record:
    try:
        return _record_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise CorruptLogError(path, offset, f"checksummed record does not decode: {exc}") from None


def _add_to_index(index: Index, stream_id: str, count: int, offset: int) -> None:
    offsets = index.get(stream_id)
    if offsets is None:
        offsets = index[stream_id] = array("q")
    offsets.extend(repeat(offset, count))


def _rebuild(buf: Buffer, path: str) -> tuple[Index, int, str | None]:
    """Scan a log file; return its index, the end of its valid records and why the tail is bad."""
    index: Index = {}
    position = len(EVENTS_HEADER)
    while position < len(buf):
        frame = parse_frame(buf, position)
        if isinstance(frame, str):
            if find_frame(buf, position + 1) is not None:
                raise CorruptLogError(path, position, f"{frame}, and valid records follow it")
            return index, position, frame
        record = _decode_record(frame.payload, path, position)
        head = len(index.get(record.stream_id, ()))
        if record.first_version != head + 1:
            raise CorruptLogError(
                path,
                position,
                f"stream {record.stream_id!r} jumps from version {head} to {record.first_version}",
            )
        _add_to_index(index, record.stream_id, len(record.events), position)
        position = frame.end
    return index, position, None


def _open_events_file(path: str) -> tuple[int, Index, int]:
    fd = open_data_file(path, EVENTS_HEADER)
    try:
        with map_file(fd) as buf:
            size = len(buf)
            index, end, torn = _rebuild(buf, path)
        if torn is not None:
            _logger.warning(
                "event_log.torn_tail_truncated",
                path=path,
                offset=end,
                dropped_bytes=size - end,
                reason=torn,
            )
            truncate_tail(fd, end)
        else:
            os.lseek(fd, end, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd, index, end


def _read_records(
    path: str, offsets: list[int], stream_id: str, low: int, high: int
) -> list[StoredEvent]:
    events: list[StoredEvent] = []
    # A private descriptor per read: the log's own may be closed while this thread runs.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for offset in offsets:
            frame = read_frame_at(fd, offset)
            if isinstance(frame, str):
                raise CorruptLogError(path, offset, frame)
            record = _decode_record(frame.payload, path, offset)
            for version, (type_, data) in enumerate(record.events, start=record.first_version):
                if low < version <= high:
                    events.append(StoredEvent(stream_id, version, type_, data))
    finally:
        os.close(fd)
    return events


# --- the log --------------------------------------------------------------------------------------


class _Batch:
    """Records written and synced together; the task that opened the batch writes it."""

    __slots__ = ("done", "entries", "error", "frames", "sealed", "size", "turn")

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.entries: list[tuple[str, int]] = []  # (stream_id, event count) per frame
        self.size = 0
        self.sealed = False  # being written: takes no more records
        self.turn = anyio.Event()  # the batch before this one is finished
        self.done = anyio.Event()
        self.error: OSError | None = None

    def add(self, frame: bytes, stream_id: str, count: int) -> None:
        self.frames.append(frame)
        self.entries.append((stream_id, count))
        self.size += len(frame)


class FileEventLog:
    """`EventLog` in one append-only file; see the module docstring for the format.

    Create it with `await FileEventLog.open(directory, durability=...)` and `close()` it, or use
    `async with await FileEventLog.open(...) as log:`. Durability:

    * ``"fsync"``: every append is written and fsynced on its own before it returns.
    * ``"group"``: appends arriving while a sync is in progress are written and synced together
      by one of them (leader/follower); each returns after the sync that covers its record.
    * ``"none"``: appends are written to the OS and not synced (`close()` syncs).

    Reads, `version()` and `streams()` see only appends that have returned. After a write or
    sync fails, appends raise OSError until the log is reopened (the OS may have dropped the
    unsynced pages, so the in-memory view can no longer be trusted to match the disk).
    """

    durable = True

    def __init__(self, path: str, fd: int, index: Index, end: int, durability: Durability) -> None:
        """Use `FileEventLog.open()`; this takes a file already opened and recovered."""
        self._path = path
        self._fd = fd
        self._index = index
        self._end = end
        self._durability = durability
        # Versions including appends still being written: what the concurrency check sees.
        self._heads = {stream_id: len(offsets) for stream_id, offsets in index.items()}
        self._batches: deque[_Batch] = deque()
        self._failure: OSError | None = None
        self._unsynced = False
        self._closed = False
        self._fsyncs = 0

    @classmethod
    async def open(
        cls, directory: str | os.PathLike[str], *, durability: Durability = "group"
    ) -> FileEventLog:
        """Open (creating if needed) the log in `directory`, recovering it as the module says.

        Raises:
            CorruptLogError: a bad record is followed by valid data.
            BlockingIOError: the log is already open.
            ValueError: unknown durability.
        """
        if durability not in ("fsync", "group", "none"):
            raise ValueError(f"durability must be 'fsync', 'group' or 'none', got {durability!r}")
        path = os.path.join(os.fspath(directory), EVENTS_FILE)
        fd, index, end = await anyio.to_thread.run_sync(_open_events_file, path)
        return cls(path, fd, index, end, durability)

    @property
    def path(self) -> str:
        return self._path

    @property
    def fsync_count(self) -> int:
        """Syncs made by appends since opening (for tests and benchmarks)."""
        return self._fsyncs

    async def append(
        self, stream_id: str, events: Sequence[StoredEvent], *, expected_version: int
    ) -> None:
        await anyio.lowlevel.checkpoint()
        self._check_writable()
        check_batch(stream_id, events, expected_version)
        actual = self._heads.get(stream_id, 0)
        if actual != expected_version:
            raise ConcurrencyError(stream_id, expected_version, actual)
        if not events:
            return
        record = _Record(stream_id, expected_version + 1, [(e.type, e.data) for e in events])
        frame = encode_frame(_encode_record(record))
        # From here to enqueueing there is no await: file order is reservation order.
        self._heads[stream_id] = expected_version + len(events)
        if self._durability == "none":
            self._write_unsynced(frame, stream_id, len(events))
        else:
            await self._write_synced(frame, stream_id, len(events))

    async def read(
        self, stream_id: str, *, gt: int = 0, lte: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        offsets = self._index.get(stream_id, ())
        low, high = read_window(len(offsets), gt, lte, limit)
        if low == high:
            return []
        # Offsets are ascending; one append's events share a record, read it once.
        records = list(dict.fromkeys(offsets[low:high]))
        return await anyio.to_thread.run_sync(
            _read_records, self._path, records, stream_id, low, high
        )

    async def streams(self) -> list[str]:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        return list(self._index)

    async def version(self, stream_id: str) -> int:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        return len(self._index.get(stream_id, ()))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            if self._batches:
                await self._batches[-1].done.wait()
            must_sync = self._unsynced and self._failure is None
            await anyio.to_thread.run_sync(self._release, must_sync)

    async def __aenter__(self) -> FileEventLog:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _release(self, must_sync: bool) -> None:
        try:
            if must_sync:
                sync_file(self._fd)
        finally:
            os.close(self._fd)

    def _write_unsynced(self, frame: bytes, stream_id: str, count: int) -> None:
        # Inline: a page-cache write costs less than a hop to a worker thread.
        try:
            write_all(self._fd, frame)
        except OSError as exc:
            self._failure = exc
            raise
        _add_to_index(self._index, stream_id, count, self._end)
        self._end += len(frame)
        self._unsynced = True

    async def _write_synced(self, frame: bytes, stream_id: str, count: int) -> None:
        tail = self._batches[-1] if self._batches else None
        if (
            tail is not None
            and self._durability == "group"
            and not tail.sealed
            and tail.size < _GROUP_BYTES
        ):
            batch, opens_batch = tail, False
        else:
            batch, opens_batch = _Batch(), True
            self._batches.append(batch)
        batch.add(frame, stream_id, count)
        # Once queued the record will be written; cancelling now would only hide the outcome.
        with anyio.CancelScope(shield=True):
            if opens_batch:
                await self._flush(batch)
            else:
                await batch.done.wait()
        if batch.error is not None:
            error = batch.error
            raise OSError(error.errno, f"append to {self._path} failed: {error}") from error

    async def _flush(self, batch: _Batch) -> None:
        if self._batches[0] is not batch:
            await batch.turn.wait()
        batch.sealed = True
        if self._failure is None:
            data = b"".join(batch.frames)
            try:
                await anyio.to_thread.run_sync(self._write_and_sync, data)
            except OSError as exc:
                self._failure = exc
            else:
                self._fsyncs += 1
                offset = self._end
                for frame, (stream_id, count) in zip(batch.frames, batch.entries, strict=True):
                    _add_to_index(self._index, stream_id, count, offset)
                    offset += len(frame)
                self._end = offset
        batch.error = self._failure
        self._batches.popleft()
        batch.done.set()
        if self._batches:
            self._batches[0].turn.set()

    def _write_and_sync(self, data: bytes) -> None:
        write_all(self._fd, data)
        sync_file(self._fd)

    def _check_open(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError

    def _check_writable(self) -> None:
        self._check_open()
        if self._failure is not None:
            raise OSError(
                self._failure.errno,
                f"{self._path} is unusable after a failed write ({self._failure}); reopen it",
            )
