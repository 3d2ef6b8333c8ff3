"""Behaviour every `EventLog` backend must show; each backend's test module subclasses it."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import anyio
import pytest

from runtime.log._base import ConcurrencyError, EventLog, StoredEvent


def make_events(stream_id: str, first: int, count: int, tag: str = "") -> list[StoredEvent]:
    """Events `first .. first + count - 1` of a stream, with recognisable payloads."""
    return [
        StoredEvent(stream_id, version, "PassStateEntered", f"{stream_id}/{version}{tag}".encode())
        for version in range(first, first + count)
    ]


class EventLogContract(abc.ABC):
    """The full behaviour suite; subclasses say how to make (and for files, reopen) a log."""

    pytestmark = pytest.mark.anyio
    #: Whether a log made again on the same directory sees what an earlier one wrote.
    persistent: ClassVar[bool] = False

    @abc.abstractmethod
    async def make_log(self, directory: Path) -> EventLog:
        """Return an open log kept in `directory` (which backends without files ignore)."""

    @pytest.fixture
    async def log(self, tmp_path: Path) -> AsyncIterator[EventLog]:
        log = await self.make_log(tmp_path)
        yield log
        await log.close()

    async def test_absent_stream_is_empty(self, log: EventLog) -> None:
        assert await log.version("arn:x") == 0
        assert await log.read("arn:x") == []
        assert await log.streams() == []

    async def test_append_then_read_in_version_order(self, log: EventLog) -> None:
        await log.append("arn:a", make_events("arn:a", 1, 3), expected_version=0)
        await log.append("arn:a", make_events("arn:a", 4, 2), expected_version=3)
        assert await log.read("arn:a") == make_events("arn:a", 1, 5)
        assert await log.version("arn:a") == 5

    async def test_read_ranges_and_limit(self, log: EventLog) -> None:
        # Five appends of two events each, so ranges cross append boundaries.
        for first in range(1, 10, 2):
            await log.append("arn:a", make_events("arn:a", first, 2), expected_version=first - 1)
        every = make_events("arn:a", 1, 10)
        assert await log.read("arn:a", gt=3) == every[3:]
        assert await log.read("arn:a", lte=4) == every[:4]
        assert await log.read("arn:a", gt=2, lte=7) == every[2:7]
        assert await log.read("arn:a", gt=2, limit=3) == every[2:5]
        assert await log.read("arn:a", gt=2, lte=4, limit=10) == every[2:4]
        assert await log.read("arn:a", lte=99) == every
        assert await log.read("arn:a", gt=10) == []
        assert await log.read("arn:a", gt=5, lte=5) == []
        assert await log.read("arn:a", gt=7, lte=3) == []
        assert await log.read("arn:a", limit=0) == []

    async def test_read_rejects_negative_bounds(self, log: EventLog) -> None:
        with pytest.raises(ValueError):
            await log.read("arn:a", gt=-1)
        with pytest.raises(ValueError):
            await log.read("arn:a", limit=-1)

    async def test_wrong_expected_version_raises_and_writes_nothing(self, log: EventLog) -> None:
        await log.append("arn:a", make_events("arn:a", 1, 2), expected_version=0)
        for expected in (0, 1, 3):
            with pytest.raises(ConcurrencyError) as caught:
                await log.append(
                    "arn:a", make_events("arn:a", expected + 1, 1), expected_version=expected
                )
            assert (caught.value.stream_id, caught.value.expected) == ("arn:a", expected)
            assert caught.value.actual == 2
        assert await log.read("arn:a") == make_events("arn:a", 1, 2)

    async def test_absent_stream_must_be_expected_at_zero(self, log: EventLog) -> None:
        with pytest.raises(ConcurrencyError):
            await log.append("arn:a", make_events("arn:a", 2, 1), expected_version=1)
        assert await log.streams() == []

    async def test_events_must_continue_the_stream_densely(self, log: EventLog) -> None:
        bad_batches = [
            make_events("arn:a", 2, 1),  # should start at 1
            [*make_events("arn:a", 1, 1), *make_events("arn:a", 3, 1)],  # gap
            make_events("arn:b", 1, 1),  # other stream
            [StoredEvent("arn:a", 1, "T", "text, not bytes")],  # type: ignore[arg-type]
        ]
        for batch in bad_batches:
            with pytest.raises(ValueError):
                await log.append("arn:a", batch, expected_version=0)
        with pytest.raises(ValueError):
            await log.append("arn:a", [], expected_version=-1)
        assert await log.version("arn:a") == 0

    async def test_empty_append_only_checks_the_version(self, log: EventLog) -> None:
        await log.append("arn:a", [], expected_version=0)
        assert await log.streams() == []
        with pytest.raises(ConcurrencyError):
            await log.append("arn:a", [], expected_version=1)

    async def test_racing_appenders_one_wins(self, log: EventLog) -> None:
        outcomes: dict[str, str] = {}

        async def append(tag: str) -> None:
            try:
                await log.append("arn:a", make_events("arn:a", 1, 2, tag), expected_version=0)
                outcomes[tag] = "appended"
            except ConcurrencyError:
                outcomes[tag] = "conflict"

        async with anyio.create_task_group() as group:
            group.start_soon(append, "-first")
            group.start_soon(append, "-second")
        assert sorted(outcomes.values()) == ["appended", "conflict"]
        winner = next(tag for tag, outcome in outcomes.items() if outcome == "appended")
        assert await log.read("arn:a") == make_events("arn:a", 1, 2, winner)

    async def test_contending_appenders_that_retry_each_land_exactly_once(
        self, log: EventLog
    ) -> None:
        async def append_with_retry(writer: int) -> None:
            while True:
                at = await log.version("arn:shared")
                event = StoredEvent("arn:shared", at + 1, "T", b"writer-%d" % writer)
                try:
                    await log.append("arn:shared", [event], expected_version=at)
                    return
                except ConcurrencyError:
                    # Back off so the winner's append can finish (a busy retry starves it).
                    await anyio.sleep(0.001)

        async with anyio.create_task_group() as group:
            for writer in range(20):
                group.start_soon(append_with_retry, writer)
        stored = await log.read("arn:shared")
        assert [event.version for event in stored] == list(range(1, 21))
        assert sorted(event.data for event in stored) == sorted(b"writer-%d" % w for w in range(20))

    async def test_many_streams_stay_separate(self, log: EventLog) -> None:
        stream_ids = [f"arn:exec:{n}" for n in range(30)]
        for round_ in range(3):
            for stream_id in stream_ids:
                await log.append(
                    stream_id, make_events(stream_id, round_ + 1, 1), expected_version=round_
                )
        for stream_id in stream_ids:
            assert await log.read(stream_id) == make_events(stream_id, 1, 3)

    async def test_streams_in_creation_order(self, log: EventLog) -> None:
        for stream_id in ("arn:c", "arn:a", "arn:b"):
            await log.append(stream_id, make_events(stream_id, 1, 1), expected_version=0)
        await log.append("arn:a", make_events("arn:a", 2, 1), expected_version=1)
        assert await log.streams() == ["arn:c", "arn:a", "arn:b"]

    async def test_opaque_bytes_round_trip(self, log: EventLog) -> None:
        stored = [
            StoredEvent("arn:a", 1, "ExecutionStarted", bytes(range(256))),
            StoredEvent("arn:a", 2, "TaskSucceeded", b""),
            StoredEvent("arn:a", 3, "Ünïcode", b"\x00" * 5000),
        ]
        await log.append("arn:a", stored, expected_version=0)
        assert await log.read("arn:a") == stored

    async def test_closed_log_refuses_use(self, log: EventLog) -> None:
        await log.append("arn:a", make_events("arn:a", 1, 1), expected_version=0)
        await log.close()
        with pytest.raises(anyio.ClosedResourceError):
            await log.append("arn:a", make_events("arn:a", 2, 1), expected_version=1)
        with pytest.raises(anyio.ClosedResourceError):
            await log.read("arn:a")
        with pytest.raises(anyio.ClosedResourceError):
            await log.version("arn:a")
        with pytest.raises(anyio.ClosedResourceError):
            await log.streams()
        await log.close()

    async def test_reopened_log_sees_everything(self, tmp_path: Path) -> None:
        if not self.persistent:
            pytest.skip("backend keeps nothing across instances")
        log = await self.make_log(tmp_path)
        for stream_id in ("arn:b", "arn:a"):
            await log.append(stream_id, make_events(stream_id, 1, 3), expected_version=0)
        await log.append("arn:b", make_events("arn:b", 4, 1), expected_version=3)
        await log.close()

        reopened = await self.make_log(tmp_path)
        try:
            assert await reopened.streams() == ["arn:b", "arn:a"]
            assert await reopened.read("arn:b") == make_events("arn:b", 1, 4)
            assert await reopened.read("arn:a", gt=1) == make_events("arn:a", 2, 2)
            with pytest.raises(ConcurrencyError):
                await reopened.append("arn:a", make_events("arn:a", 3, 1), expected_version=2)
            await reopened.append("arn:a", make_events("arn:a", 4, 1), expected_version=3)
            assert await reopened.version("arn:a") == 4
        finally:
            await reopened.close()
