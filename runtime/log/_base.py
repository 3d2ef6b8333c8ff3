"""The event log port: stored events, the `EventLog` contract and its errors.

Rules every backend keeps (one shared contract test checks them):

1. A stream is the history of one execution. Its versions are 1-based and dense: the n-th event
   ever appended to a stream has version n.
2. `(stream_id, version)` is unique. An append names the version it expects the stream to be at;
   if the stream is anywhere else, nothing is written and `ConcurrencyError` is raised. This is the
   single concurrency rule (eventsourcing's recorders enforce it with a unique index).
3. One append call is atomic: after a crash either all of its events are there or none are.
4. The log stores opaque bytes plus a type tag; mapping history events to and from bytes is
   another module's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec


class StoredEvent(msgspec.Struct, frozen=True):
    """One event as the log keeps it."""

    #: The execution ARN the event belongs to.
    stream_id: str
    #: Position in the stream: 1-based and dense.
    version: int
    #: Tag of the history event (its AWS HistoryEventType name).
    type: str
    #: The encoded event payload; the log never looks inside.
    data: bytes


class ConcurrencyError(Exception):
    """An append expected a stream version that the stream is not at.

    Args:
        stream_id: the stream appended to.
        expected: the version the caller expected.
        actual: the version the stream is at (including appends still being made durable).
    """

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, not {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class CorruptLogError(Exception):
    """Stored bytes that cannot be trusted, found where more valid data follows.

    Args:
        path: the file holding the bad bytes.
        offset: byte offset of the first bad record in that file.
        reason: what is wrong with it.
    """

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"{path}: corrupt record at byte offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class EventLog(Protocol):
    """An append-only store of event streams (async eventsourcing `AggregateRecorder`)."""

    #: Whether appended events outlive the process (a memory log's do not).
    durable: bool

    async def append(
        self, stream_id: str, events: Sequence[StoredEvent], *, expected_version: int
    ) -> None:
        """Append `events` to a stream, all or nothing.

        The events must belong to `stream_id` and carry versions `expected_version + 1`,
        `expected_version + 2`, ... in order. Appending to an absent stream with
        `expected_version=0` creates it. An empty `events` writes nothing but still checks
        the version. When this returns, the events are readable (and as durable as the
        backend promises).

        Raises:
            ConcurrencyError: the stream is not at `expected_version` (nothing is written).
            ValueError: the events do not match `stream_id` and `expected_version`.
            anyio.ClosedResourceError: the log is closed.
        """
        ...

    async def read(
        self, stream_id: str, *, gt: int = 0, lte: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        """Return the events of a stream with `gt < version <= lte`, in version order.

        At most `limit` events are returned (the lowest versions). An absent stream reads as
        empty.

        Raises:
            ValueError: `gt` or `limit` is negative.
            anyio.ClosedResourceError: the log is closed.
        """
        ...

    async def streams(self) -> list[str]:
        """Return every stream id, in the order the streams were created.

        Raises:
            anyio.ClosedResourceError: the log is closed.
        """
        ...

    async def version(self, stream_id: str) -> int:
        """Return the version of the stream's last readable event, or 0 if it has none.

        Raises:
            anyio.ClosedResourceError: the log is closed.
        """
        ...

    async def close(self) -> None:
        """Finish pending appends and release resources. Closing twice is harmless."""
        ...


def check_batch(stream_id: str, events: Sequence[StoredEvent], expected_version: int) -> None:
    """Raise ValueError unless `events` may be appended to `stream_id` at `expected_version`."""
    if expected_version < 0:
        raise ValueError(f"expected_version must be >= 0, got {expected_version}")
    for offset, event in enumerate(events, start=1):
        if event.stream_id != stream_id:
            raise ValueError(f"event for stream {event.stream_id!r} appended to {stream_id!r}")
        if event.version != expected_version + offset:
            raise ValueError(
                f"event version {event.version} in {stream_id!r}, "
                f"expected {expected_version + offset} (versions are dense)"
            )
        # Checked here so a wrong type fails the append, not a later reopen that decodes it.
        if not isinstance(event.type, str) or not isinstance(event.data, bytes):
            raise ValueError(f"event {stream_id!r} v{event.version}: type must be str, data bytes")


def read_window(head: int, gt: int, lte: int | None, limit: int | None) -> tuple[int, int]:
    """Return `(low, high)`: a read returns versions `low < v <= high` of a stream at `head`."""
    if gt < 0:
        raise ValueError(f"gt must be >= 0, got {gt}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    high = head if lte is None else min(lte, head)
    if limit is not None:
        high = min(high, gt + limit)
    return gt, max(gt, high)
