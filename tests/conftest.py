from __future__ import annotations

import pytest

from runtime.testing import stepline_runtime as stepline_runtime


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
