"""Activities: named queues of tasks that workers poll (GetActivityTask) and answer with the
task token (SendTaskSuccess/Failure/Heartbeat)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import msgspec

from runtime.errors import AslError

JSON = Any
_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


class Activity(msgspec.Struct, kw_only=True):
    arn: str
    name: str
    created: float


class ActivityTask(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    input: JSON
    #: Still wanted? (False once the task timed out, or its execution ended.)
    live: Callable[[], bool]


class Activities:
    def __init__(self, *, region: str, account: str) -> None:
        self.region = region
        self.account = account
        self._activities: dict[str, Activity] = {}
        self._queues: dict[str, deque[ActivityTask]] = {}
        self._arrived: dict[str, anyio.Event] = {}

    def create(self, name: str, *, now: float) -> Activity:
        if not _NAME.match(name):
            raise AslError("InvalidName", f"Invalid Name: '{name}'")
        arn = f"arn:aws:states:{self.region}:{self.account}:activity:{name}"
        found = self._activities.get(arn)
        if found is None:
            found = self._activities[arn] = Activity(arn=arn, name=name, created=now)
        return found

    def get(self, arn: str) -> Activity:
        found = self._activities.get(arn)
        if found is None:
            raise AslError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return found

    def exists(self, arn: str) -> bool:
        return arn in self._activities

    def list(self) -> list[Activity]:
        return sorted(self._activities.values(), key=lambda a: a.created)

    def delete(self, arn: str) -> None:
        self._activities.pop(arn, None)
        self._queues.pop(arn, None)

    def offer(self, arn: str, task: ActivityTask) -> None:
        """Queue a task for `arn` (a Task naming an activity that does not exist fails its
        execution before any offer: see `reducers.task`)."""
        self._queues.setdefault(arn, deque()).append(task)
        self._arrived.setdefault(arn, anyio.Event()).set()

    async def poll(self, arn: str, *, timeout: float) -> ActivityTask | None:
        """The next live task of `arn`, waiting up to `timeout` seconds (long poll)."""
        self.get(arn)
        with anyio.move_on_after(timeout):
            while True:
                queue = self._queues.get(arn)
                while queue:
                    task = queue.popleft()
                    if task.live():
                        return task
                arrived = self._arrived.get(arn)
                if arrived is None or arrived.is_set():
                    arrived = self._arrived[arn] = anyio.Event()
                await arrived.wait()
        return None
