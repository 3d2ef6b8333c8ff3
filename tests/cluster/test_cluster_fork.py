"""Forking on the cluster: the new execution's row, inherited events and pending work (timers,
task calls) commit together, and the workers carry it on as the single-process runtime's
actors carry on a fork."""

from __future__ import annotations

import anyio
import pytest

from runtime.cluster import ClusterClient, Worker
from runtime.errors import AslError

pytestmark = pytest.mark.anyio

WAIT_THEN_ADD = {"StartAt": "Wait", "States": {
    "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Add"},
    "Add": {"Type": "Task", "Resource": "add_one", "End": True}}}


async def test_a_fork_taken_while_waiting_resumes_its_timer_with_a_new_input(
        postgres_dsn: str, schema: str, client: ClusterClient) -> None:
    machine = await client.create_state_machine("Forked", WAIT_THEN_ADD)
    async with anyio.create_task_group() as group:
        await group.start(Worker(postgres_dsn, schema=schema,
                                 tasks={"add_one": lambda n: n + 1}).run)
        original = await client.start_execution(machine, 1, name="original")
        assert (await client.wait(original, timeout=30)).output == 2
        history = await client.get_execution_history(original)
        waiting = next(e["id"] for e in history if e["type"] == "WaitStateEntered")
        fork = await client.fork_execution(original, waiting, input=41, name="fork")
        done = await client.wait(fork, timeout=30)
        with pytest.raises(AslError) as taken:
            await client.fork_execution(original, waiting, name="fork")
        group.cancel_scope.cancel()
    assert (done.status, done.output) == ("SUCCEEDED", 42)
    assert taken.value.code == "ExecutionAlreadyExists"
    forked = [e["type"] for e in await client.get_execution_history(fork)]
    assert forked == [e["type"] for e in history]
