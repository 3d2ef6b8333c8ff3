"""Clocks. The actor stamps every message with `clock.now()`; reducers never read a clock.

`VirtualClock` makes Wait states, retry intervals and timeouts complete instantly: time jumps
to the next due timer whenever the runtime has nothing else to do (see `TimerService`), while
histories record the timestamps the run would have had.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    #: True when time only moves when the runtime is idle (`VirtualClock`).
    virtual: bool

    def now(self) -> float:
        """Epoch seconds."""
        ...

    def advance_to(self, when: float) -> None:
        """Move virtual time forward to `when` (never backwards). Real clocks ignore it."""
        ...


class SystemClock:
    virtual = False

    def now(self) -> float:
        return time.time()

    def advance_to(self, when: float) -> None:
        return None


class VirtualClock:
    virtual = True

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def now(self) -> float:
        return self._now

    def advance_to(self, when: float) -> None:
        self._now = max(self._now, when)
