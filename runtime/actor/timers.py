"""One timer service for all executions: a heap of due times served by a single task, so ten
thousand waiting executions cost ten thousand heap entries, not ten thousand sleeping tasks.

Under a virtual clock the service fires the earliest timer only when the runtime is idle: no
message waits in any execution's mailbox and no task effect is in flight. It then advances the
clock to the timer's due time. (Idleness is counted, not sampled: anyio's
`wait_all_tasks_blocked` polls, which would cost a tenth of a second per timer.)
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

import anyio
import anyio.lowlevel

from runtime.actor.clock import Clock

Deliver = Callable[[float], None]


class TimerService:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Deliver]] = []
        self._order = itertools.count()
        self._changed = anyio.Event()
        #: Messages queued or being handled, plus task effects running: virtual time stands
        #: still while any is.
        self.busy = 0

    def schedule(self, due: float, deliver: Deliver) -> None:
        """Call `deliver(fire_time)` once `due` has come."""
        heapq.heappush(self._heap, (due, next(self._order), deliver))
        self._changed.set()

    def __len__(self) -> int:
        return len(self._heap)

    def work_started(self) -> None:
        self.busy += 1

    def work_finished(self) -> None:
        self.busy -= 1
        if self.busy == 0:
            self._changed.set()

    async def run(self) -> None:
        while True:
            if not self._heap:
                await self._wait_for_change(math.inf)
                continue
            due = self._heap[0][0]
            if self.clock.virtual:
                if self.busy:
                    await self._wait_for_change(math.inf)
                    continue
                # Let tasks that just became ready (a caller about to start an execution) run
                # before time moves.
                for _ in range(3):
                    await anyio.lowlevel.checkpoint()
                if self.busy or self._heap[0][0] != due:
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
