"""Snapshots of stream state, so a resume reads the latest snapshot and only the events after it.

Snapshots are an optimisation: the event log is the truth. So a snapshot that cannot be read is
skipped with a warning (the next older one, or none, is used instead), and `load()` never uses a
snapshot newer than the log's last event.

The file store keeps every snapshot in `<directory>/snapshots.log`, framed and checksummed like
the event log (`runtime.log.file`), with its own header so neither file can be taken for the other.
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from typing import Final, Protocol

import anyio
import anyio.lowlevel
import anyio.to_thread
import msgspec
import structlog

from runtime.log._base import EventLog, StoredEvent
from runtime.log.file import (
    encode_frame,
    find_frame,
    map_file,
    open_data_file,
    parse_frame,
    read_frame_at,
    sync_file,
    truncate_tail,
    write_all,
)

SNAPSHOTS_FILE: Final = "snapshots.log"
SNAPSHOTS_HEADER: Final = b"STPLSNP1"

_logger = structlog.get_logger(__name__)


class Snapshot(msgspec.Struct, frozen=True):
    """The encoded state of a stream after its event `version`."""

    #: The execution ARN.
    stream_id: str
    #: The last event folded into `state`.
    version: int
    #: The encoded state; the store never looks inside.
    state: bytes


class SnapshotStore(Protocol):
    """Where stream snapshots are kept."""

    async def save(self, stream_id: str, version: int, state: bytes) -> None:
        """Keep `state` as the stream's state after event `version`, replacing any at `version`.

        Raises:
            ValueError: `version` is below 1 or `state` is not bytes.
            anyio.ClosedResourceError: the store is closed.
        """
        ...

    async def latest(self, stream_id: str, *, lte: int | None = None) -> Snapshot | None:
        """Return the readable snapshot with the highest version `<= lte`, or None.

        Raises:
            anyio.ClosedResourceError: the store is closed.
        """
        ...

    async def close(self) -> None:
        """Finish pending saves and release resources. Closing twice is harmless."""
        ...


async def load(
    log: EventLog, snapshots: SnapshotStore, stream_id: str, *, lte: int | None = None
) -> tuple[Snapshot | None, list[StoredEvent]]:
    """Return the latest usable snapshot of a stream and the events after it, up to `lte`.

    A snapshot newer than the log's last event (the log lost an unsynced tail that the snapshot
    had seen) is not usable: the log is the truth.
    """
    head = await log.version(stream_id)
    upto = head if lte is None else min(lte, head)
    snapshot = await snapshots.latest(stream_id, lte=upto)
    after = 0 if snapshot is None else snapshot.version
    return snapshot, await log.read(stream_id, gt=after, lte=upto)


def _check_snapshot(version: int, state: bytes) -> None:
    if version < 1:
        raise ValueError(f"snapshot version must be >= 1, got {version}")
    if not isinstance(state, bytes):
        raise ValueError("snapshot state must be bytes")


class MemorySnapshotStore:
    """`SnapshotStore` in memory: per stream, snapshots sorted by version."""

    def __init__(self) -> None:
        self._snapshots: dict[str, list[Snapshot]] = {}
        self._closed = False

    async def save(self, stream_id: str, version: int, state: bytes) -> None:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        _check_snapshot(version, state)
        kept = self._snapshots.setdefault(stream_id, [])
        snapshot = Snapshot(stream_id, version, state)
        at = bisect_left(kept, version, key=_version_of)
        if at < len(kept) and kept[at].version == version:
            kept[at] = snapshot
        else:
            kept.insert(at, snapshot)

    async def latest(self, stream_id: str, *, lte: int | None = None) -> Snapshot | None:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        kept = self._snapshots.get(stream_id, [])
        below = len(kept) if lte is None else bisect_right(kept, lte, key=_version_of)
        return kept[below - 1] if below else None

    async def close(self) -> None:
        self._closed = True

    async def __aenter__(self) -> MemorySnapshotStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError


def _version_of(snapshot: Snapshot) -> int:
    return snapshot.version


# --- file store -----------------------------------------------------------------------------------

_decode_snapshot = msgspec.msgpack.Decoder(Snapshot).decode
_encode_snapshot = msgspec.msgpack.Encoder().encode

#: stream id -> [(version, record offset)] sorted by version.
_Index = dict[str, list[tuple[int, int]]]


def _index_snapshot(index: _Index, stream_id: str, version: int, offset: int) -> None:
    kept = index.setdefault(stream_id, [])
    at = bisect_left(kept, version, key=_first)
    if at < len(kept) and kept[at][0] == version:
        kept[at] = (version, offset)
    else:
        kept.insert(at, (version, offset))


def _first(entry: tuple[int, int]) -> int:
    return entry[0]


def _open_snapshots_file(path: str) -> tuple[int, _Index]:
    fd = open_data_file(path, SNAPSHOTS_HEADER)
    index: _Index = {}
    try:
        with map_file(fd) as buf:
            position = len(SNAPSHOTS_HEADER)
            while position < len(buf):
                frame = parse_frame(buf, position)
                if isinstance(frame, str):
                    following = find_frame(buf, position + 1)
                    _logger.warning(
                        "snapshot_store.corrupt_snapshot_skipped",
                        path=path,
                        offset=position,
                        reason=frame,
                        torn_tail=following is None,
                    )
                    if following is None:
                        break
                    position = following
                    continue
                try:
                    snapshot = _decode_snapshot(frame.payload)
                except msgspec.DecodeError as exc:
                    _logger.warning(
                        "snapshot_store.corrupt_snapshot_skipped",
                        path=path,
                        offset=position,
                        reason=f"does not decode: {exc}",
                    )
                else:
                    _index_snapshot(index, snapshot.stream_id, snapshot.version, position)
                position = frame.end
            size = len(buf)
        if position < size:
            truncate_tail(fd, position)
        else:
            os.lseek(fd, position, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd, index


def _read_first_readable(path: str, offsets: list[int]) -> Snapshot | None:
    # A private descriptor per read: the store's own may be closed while this thread runs.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for offset in offsets:
            frame = read_frame_at(fd, offset)
            if isinstance(frame, str):
                reason = frame
            else:
                try:
                    return _decode_snapshot(frame.payload)
                except msgspec.DecodeError as exc:
                    reason = f"does not decode: {exc}"
            _logger.warning(
                "snapshot_store.corrupt_snapshot_skipped", path=path, offset=offset, reason=reason
            )
    finally:
        os.close(fd)
    return None


class FileSnapshotStore:
    """`SnapshotStore` in one append-only file; see the module docstring.

    Create it with `await FileSnapshotStore.open(directory)`; it is also an async context
    manager. Each save is written and fsynced before it returns.
    """

    def __init__(self, path: str, fd: int, index: _Index) -> None:
        """Use `FileSnapshotStore.open()`; this takes a file already opened and scanned."""
        self._path = path
        self._fd = fd
        self._index = index
        self._write_lock = anyio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, directory: str | os.PathLike[str]) -> FileSnapshotStore:
        """Open (creating if needed) the snapshot file in `directory`.

        Raises:
            BlockingIOError: the store is already open.
            CorruptLogError: the file is not a snapshot file.
        """
        path = os.path.join(os.fspath(directory), SNAPSHOTS_FILE)
        fd, index = await anyio.to_thread.run_sync(_open_snapshots_file, path)
        return cls(path, fd, index)

    async def save(self, stream_id: str, version: int, state: bytes) -> None:
        self._check_open()
        _check_snapshot(version, state)
        frame = encode_frame(_encode_snapshot(Snapshot(stream_id, version, state)))
        async with self._write_lock:
            self._check_open()
            with anyio.CancelScope(shield=True):
                offset = await anyio.to_thread.run_sync(self._write_and_sync, frame)
            _index_snapshot(self._index, stream_id, version, offset)

    async def latest(self, stream_id: str, *, lte: int | None = None) -> Snapshot | None:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        kept = self._index.get(stream_id, [])
        below = len(kept) if lte is None else bisect_right(kept, lte, key=_first)
        if not below:
            return None
        newest_first = [offset for _, offset in reversed(kept[:below])]
        return await anyio.to_thread.run_sync(_read_first_readable, self._path, newest_first)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            async with self._write_lock:
                os.close(self._fd)

    async def __aenter__(self) -> FileSnapshotStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _write_and_sync(self, frame: bytes) -> int:
        # Asked of the file, not tracked: after a failed partial write the next save starts
        # behind the partial bytes, which a reopen skips with a warning.
        offset = os.lseek(self._fd, 0, os.SEEK_CUR)
        write_all(self._fd, frame)
        sync_file(self._fd)
        return offset

    def _check_open(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
