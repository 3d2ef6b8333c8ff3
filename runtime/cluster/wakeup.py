"""Waking idle worker loops: LISTEN on the cluster's channels, with polling as the fallback.

A loop that found no work waits for its table's notification or its poll interval, whichever
comes first; the interval doubles while the loop stays idle (up to a bound) and starts again from
the bottom once it finds work. Polling also covers notifications lost with the listening
connection, and leases that expired without anything being inserted.
"""

from __future__ import annotations

from typing import Any, Final

import anyio

from runtime.cluster.schema import channel

TABLES: Final = ("inbox", "timers", "outbox")


class Backoff:
    """The poll interval of one loop."""

    def __init__(self, low: float, high: float) -> None:
        if not 0 < low <= high:
            raise ValueError(f"need 0 < low <= high, got {low}, {high}")
        self.low = low
        self.high = high
        self.current = low

    def idle(self) -> float:
        """The interval to wait now; the next one is twice as long, up to `high`."""
        interval = self.current
        self.current = min(self.high, self.current * 2)
        return interval

    def busy(self) -> None:
        self.current = self.low


class Wakeups:
    """One event per table, set by its NOTIFY channel."""

    def __init__(self, schema: str) -> None:
        self._schema = schema
        self._events = {table: anyio.Event() for table in TABLES}

    async def listen(self, connection: Any) -> None:
        """Subscribe `connection` (kept open by the caller) to every table's channel."""
        for table in TABLES:
            await connection.add_listener(channel(self._schema, table), self._notified)

    def _notified(self, connection: object, pid: int, name: str, payload: str) -> None:
        self._events[name.rpartition(".")[2]].set()

    def notify(self, table: str) -> None:
        """Wake this process's loop for `table` (work it made itself)."""
        self._events[table].set()

    async def wait(self, table: str, timeout: float) -> None:
        """Return on `table`'s next notification (or one that came since the last wait), or
        after `timeout` seconds."""
        event = self._events[table]
        with anyio.move_on_after(timeout):
            await event.wait()
        # Replaced before the caller looks for work again, so a notification arriving while
        # it looks sets the event its next wait sees.
        self._events[table] = anyio.Event()
