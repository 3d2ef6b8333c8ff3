"""A pytest fixture for testing your own state machines against Stepline.

`stepline_runtime` yields a running `Runtime` on a virtual clock, so Wait states, retry
intervals and timeouts finish at once while histories keep the times AWS would record::

    @pytest.mark.anyio
    async def test_order_flow(stepline_runtime: Runtime) -> None:
        stepline_runtime.register_task("charge", charge_card)
        done = await stepline_runtime.run(definition, {"order": 1})
        assert done.status == "SUCCEEDED"

It needs the anyio pytest plugin (installed with anyio): mark the test `@pytest.mark.anyio`
and, if the project does not already, define an `anyio_backend` fixture returning "asyncio".
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from runtime.engine import Runtime


@pytest.fixture
async def stepline_runtime() -> AsyncIterator[Runtime]:
    """A `Runtime(clock="virtual")`, started for the test and shut down after it."""
    async with Runtime(clock="virtual") as runtime:
        yield runtime
