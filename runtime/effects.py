"""Outputs of a reducer: descriptions of work for the actor shell, never the work itself.

Every effect carries the key of the waiting that asked for it; a result arriving for a key the
execution no longer waits on (a cancelled branch, a timed-out task) is ignored, which makes
re-issuing effects after a crash safe.
"""

from __future__ import annotations

from typing import Any

import msgspec

JSON = Any


class InvokeTask(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    key: str
    resource: str
    parameters: JSON
    #: Context given to the task handler (execution ARN, state name, attempt, ...).
    context: JSON = None
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None


class StartTimer(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    key: str
    #: Epoch seconds.
    due: float


Effect = InvokeTask | StartTimer
