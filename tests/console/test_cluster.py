"""The console and /metrics of `stepline serve --store postgresql://...` (`serve_cluster`,
with one worker in the process), on a real PostgreSQL server; the browser test drives the
same server in Chromium."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.cluster.worker import WorkerStats
from runtime.metrics import render_cluster_metrics
from tests.console._checks import (
    browse_map_run,
    call,
    check_map_run_children,
    finished,
    quoted,
)
from tests.console._server import ClusterConsoleServer, free_port
from tests.postgres.fixtures import postgres_dsn as postgres_dsn
from tests.postgres.fixtures import schema_for

CAUGHT = {"StartAt": "Check", "States": {
    "Check": {"Type": "Pass", "Next": "Charge"},
    "Charge": {"Type": "Task", "Resource": "refuse", "Next": "Done",
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Refund"}]},
    "Refund": {"Type": "Fail", "Error": "Declined", "Cause": "payment declined"},
    "Done": {"Type": "Succeed"}}}
HOLD = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": True}}}
WAIT_MS = 10_000


@pytest.fixture(scope="module")
def cluster_console(postgres_dsn: str) -> Iterator[ClusterConsoleServer]:
    server = ClusterConsoleServer(postgres_dsn, schema_for(f"console-{os.getpid()}"),
                                  free_port())
    server.start()
    yield server
    server.stop()


def _failed_execution(url: str, name: str) -> tuple[str, str]:
    _, created = call(url, "state-machines", {"name": name, "definition": json.dumps(CAUGHT)})
    machine = created["stateMachineArn"]
    _, started = call(url, "executions", {"stateMachineArn": machine, "name": "declined"})
    return machine, started["executionArn"]


def test_machines_executions_history_and_time_travel_come_from_the_database(
        cluster_console: ClusterConsoleServer) -> None:
    url = cluster_console.url
    machine, arn = _failed_execution(url, "Caught")
    _, machines = call(url, "state-machines")
    assert machine in [m["stateMachineArn"] for m in machines["stateMachines"]]
    described = finished(url, arn)
    assert described["execution"]["status"] == "FAILED"
    assert described["definitionSource"] == "stateMachine"
    assert json.loads(described["definition"]) == CAUGHT
    types = [event["type"] for event in described["events"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionFailed"
    _, later = call(url, f"execution?arn={quoted(arn)}&after=3")
    assert later["events"][0]["id"] == 4

    last = described["events"][-1]["id"]
    _, at_end = call(url, f"state-at?arn={quoted(arn)}&event={last}")
    assert {name: state["outcome"] for name, state in at_end["states"].items()} == {
        "Check": "succeeded", "Charge": "caught", "Refund": "failed"}
    assert at_end["view"]["status"] == "FAILED"
    _, at_check = call(url, f"state-at?arn={quoted(arn)}&event=2")
    assert at_check["view"]["frames"][""]["state"] == "Check"
    assert call(url, f"state-at?arn={quoted(arn)}&event=999")[0] == 400

    _, listed = call(url, f"executions?stateMachineArn={quoted(machine)}&status=FAILED")
    assert [e["executionArn"] for e in listed["executions"]] == [arn]


def test_forks_redrives_and_catalog_changes_work_on_the_cluster(
        cluster_console: ClusterConsoleServer) -> None:
    url = cluster_console.url
    _, arn = _failed_execution(url, "Refused")
    original = finished(url, arn)
    status, forked = call(url, "fork", {"executionArn": arn, "event": 2, "name": "again"})
    assert status == 200 and forked["executionArn"].endswith(":again")
    fork = finished(url, forked["executionArn"])
    # The fork inherits the first turn's events and the workers carry it on from there.
    assert fork["execution"]["status"] == "FAILED"
    assert [e["type"] for e in fork["events"]] == [e["type"] for e in original["events"]]
    assert call(url, "fork", {"executionArn": arn, "event": 999})[0] == 400
    status, redriven = call(url, "redrive", {"executionArn": arn})
    assert (status, redriven["redriveCount"]) == (200, 1)
    assert finished(url, arn)["execution"]["status"] == "FAILED"

    _, created = call(url, "state-machines", {"name": "Held", "definition": json.dumps(HOLD),
                                              "publish": True})
    assert created["version"] == 1
    _, described = call(url, f"state-machine?arn={quoted(created['stateMachineArn'])}")
    assert [v["version"] for v in described["versions"]] == [1]
    _, started = call(url, "executions", {"stateMachineArn": created["stateMachineVersionArn"]})
    status, stopped = call(url, "stop", {"executionArn": started["executionArn"],
                                         "error": "Enough"})
    assert (status, stopped["execution"]["status"]) == (200, "ABORTED")
    assert stopped["execution"]["version"] == 1
    assert call(url, "delete-state-machine",
                {"stateMachineArn": created["stateMachineArn"]}) == (200, {})


def test_map_run_children_are_reached_from_their_parent_on_a_cluster(
        cluster_console: ClusterConsoleServer) -> None:
    check_map_run_children(cluster_console.url, "ClusterItems")


def test_metrics_tell_the_running_executions_and_this_process_workers(
        cluster_console: ClusterConsoleServer) -> None:
    url = cluster_console.url
    _, created = call(url, "state-machines", {"name": "Gauged", "definition": json.dumps(HOLD)})
    machine = created["stateMachineArn"]
    _, started = call(url, "executions", {"stateMachineArn": machine})
    with urllib.request.urlopen(f"{url}/metrics") as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    call(url, "stop", {"executionArn": started["executionArn"]})
    assert f'stepline_open_executions{{state_machine="{machine}"}} 1' in text
    assert "\nstepline_workers 1\n" in text
    steps = re.search(r"^stepline_worker_steps_total (\d+)$", text, re.MULTILINE)
    assert steps is not None and int(steps.group(1)) > 0


def test_cluster_metrics_add_up_the_workers_of_the_process() -> None:
    first = WorkerStats(steps=3, events=10, tasks=2, timers_fired=1, lost_leases=0)
    second = WorkerStats(steps=4, events=5, tasks=0, timers_fired=0, lost_leases=1)
    text = render_cluster_metrics(["m1", "m2", "m1"], [first, second])
    for line in ('stepline_open_executions{state_machine="m1"} 2',
                 'stepline_open_executions{state_machine="m2"} 1', "stepline_workers 2",
                 "stepline_worker_steps_total 7", "stepline_worker_events_total 15",
                 "stepline_worker_tasks_total 2", "stepline_worker_timers_fired_total 1",
                 "stepline_worker_lost_leases_total 1", "# TYPE stepline_workers gauge"):
        assert line in text.splitlines()


def test_the_execution_page_on_a_cluster(cluster_console: ClusterConsoleServer, page: Any,
                                         screenshots: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    url = cluster_console.url
    _, arn = _failed_execution(url, "Browsed")
    finished(url, arn)
    page.goto(f"{url}/console/#/execution?arn={quoted(arn)}")
    expect(page.locator("h1 .badge")).to_have_text("FAILED")
    graph = page.locator("#execution-graph")
    for state, outcome in {"Check": "succeeded", "Charge": "caught", "Refund": "failed",
                           "Done": "none"}.items():
        expect(graph.locator(f'[data-state="{state}"]')).to_have_attribute("data-outcome",
                                                                          outcome)
    page.click("#first-event")
    page.click("#next-event")
    expect(page.locator("#event-position")).to_have_text(
        re.compile(r"Event 2 of \d+: PassStateEntered"))
    expect(graph.locator('[data-state="Check"]')).to_have_attribute("data-outcome", "running")
    expect(graph.locator('[data-state="Charge"]')).to_have_attribute("data-outcome", "none")
    page.screenshot(path=screenshots / "cluster-time-travel.png", full_page=True)
    expect(page.locator("#fork")).to_be_enabled()


def test_map_run_children_in_the_browser_on_a_cluster(
        cluster_console: ClusterConsoleServer, page: Any,
        screenshots: Path) -> None:
    browse_map_run(cluster_console.url, "BrowsedItems", page, screenshots)
