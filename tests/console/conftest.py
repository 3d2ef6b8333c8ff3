"""Fixtures: a console server on a free loopback port, and a page in Debian's Chromium
driven by Playwright (skipped when either is missing: browser downloads are unavailable, so
the system Chromium is used)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console._server import ConsoleServer, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def console_server() -> Iterator[ConsoleServer]:
    server = ConsoleServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def realtime_console_server() -> Iterator[ConsoleServer]:
    """A server on the system clock, where a long Wait keeps an execution running."""
    server = ConsoleServer(free_port(), clock="system")
    server.start()
    yield server
    server.stop()


# Module scope: while Playwright's sync API is open, the thread counts as running an event
# loop, so no later test could call anyio.run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="playwright is not installed (pip install playwright; no browser download "
               "needed: the tests drive the system Chromium)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where views are photographed: $STEPLINE_SCREENSHOTS (e.g. docs/screenshots, to update
    the committed ones), else a temporary directory."""
    target = os.environ.get("STEPLINE_SCREENSHOTS")
    if not target:
        return tmp_path
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path


