from __future__ import annotations

from pathlib import Path

from runtime.log.memory import MemoryEventLog
from tests.log.contract import EventLogContract


class TestMemoryEventLog(EventLogContract):
    async def make_log(self, directory: Path) -> MemoryEventLog:
        return MemoryEventLog()
