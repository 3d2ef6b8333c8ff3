"""In-process event log: a list per stream (eventsourcing `popo.py`) for tests and short runs."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import anyio.lowlevel

from runtime.log._base import ConcurrencyError, StoredEvent, check_batch, read_window


class MemoryEventLog:
    """`EventLog` kept in memory; an append is atomic because it never awaits mid-way."""

    durable = False

    def __init__(self) -> None:
        # Dict insertion order is stream creation order.
        self._streams: dict[str, list[StoredEvent]] = {}
        self._closed = False

    async def append(
        self, stream_id: str, events: Sequence[StoredEvent], *, expected_version: int
    ) -> None:
        # A scheduling point, as with any real backend, so concurrent appenders interleave.
        await anyio.lowlevel.checkpoint()
        self._check_open()
        check_batch(stream_id, events, expected_version)
        stored = self._streams.get(stream_id)
        actual = 0 if stored is None else len(stored)
        if actual != expected_version:
            raise ConcurrencyError(stream_id, expected_version, actual)
        if not events:
            return
        if stored is None:
            self._streams[stream_id] = list(events)
        else:
            stored.extend(events)

    async def read(
        self, stream_id: str, *, gt: int = 0, lte: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        stored = self._streams.get(stream_id, [])
        low, high = read_window(len(stored), gt, lte, limit)
        # Versions are dense from 1, so version v sits at index v - 1.
        return stored[low:high]

    async def streams(self) -> list[str]:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        return list(self._streams)

    async def version(self, stream_id: str) -> int:
        await anyio.lowlevel.checkpoint()
        self._check_open()
        return len(self._streams.get(stream_id, ()))

    async def close(self) -> None:
        self._closed = True

    async def __aenter__(self) -> MemoryEventLog:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
