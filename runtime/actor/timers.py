"""One timer service for all executions: a heap of due times served by a single task, so ten
thousand waiting executions cost ten thousand heap entries, not ten thousand sleeping tasks.

Under a virtual clock the service fires the earliest timer only when every other task is
blocked and no task effect is in flight, then advances the clock to its due time.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

import anyio

from runtime.actor.clock import Clock

Deliver = Callable[[float], None]


class TimerService:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Deliver]] = []
        self._order = itertools.count()
        self._changed = anyio.Event()
        #: Task effects running now; virtual time stands still while any is.
        self.in_flight = 0

    def schedule(self, due: float, deliver: Deliver) -> None:
        """Call `deliver(fire_time)` once `due` has come."""
        heapq.heappush(self._heap, (due, next(self._order), deliver))
        self._changed.set()

    def __len__(self) -> int:
        return len(self._heap)

    async def run(self) -> None:
        while True:
            if not self._heap:
                await self._wait_for_change(math.inf)
                continue
            due = self._heap[0][0]
            if self.clock.virtual:
                await anyio.wait_all_tasks_blocked()
                if self.in_flight or not self._heap or self._heap[0][0] != due:
                    await self._wait_for_change(0.001 if self.in_flight else 0)
                    continue
                self.clock.advance_to(due)
            else:
                delay = due - self.clock.now()
                if delay > 0:
                    await self._wait_for_change(delay)
                    continue
            _, _, deliver = heapq.heappop(self._heap)
            deliver(max(due, self.clock.now()) if self.clock.virtual else self.clock.now())

    async def _wait_for_change(self, timeout: float) -> None:
        self._changed = anyio.Event()
        with anyio.move_on_after(timeout):
            await self._changed.wait()
