"""Checks of the console's JSON API that hold on either store (a Runtime, or a cluster's
PostgreSQL store), run against a server at `url`."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ITEMS = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "Label": "Items", "ItemsPath": "$.items", "End": True,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}}}}


def call(url: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{url}/console/api/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def quoted(arn: str) -> str:
    return urllib.parse.quote(arn)


def finished(url: str, arn: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        _, found = call(url, f"execution?arn={quoted(arn)}")
        if found["execution"]["status"] != "RUNNING" or time.monotonic() > deadline:
            return found  # type: ignore[no-any-return]
        time.sleep(0.05)


def check_map_run_children(url: str, name: str) -> None:
    """A Distributed Map's children are reached from the parent's Map Run, drawn with the
    Map's ItemProcessor, link back to their parent, and travel in time like any execution;
    they are not listed with the parent's state machine."""
    _, created = call(url, "state-machines", {"name": name, "definition": json.dumps(ITEMS)})
    machine = created["stateMachineArn"]
    _, started = call(url, "executions", {"stateMachineArn": machine,
                                          "input": json.dumps({"items": [1, 2, 3]})})
    parent = started["executionArn"]
    assert finished(url, parent)["execution"]["status"] == "SUCCEEDED"

    _, runs = call(url, f"map-runs?arn={quoted(parent)}")
    [run] = runs["mapRuns"]
    assert (run["state"], run["status"], run["total"], run["succeeded"], run["running"]) == (
        "Fan", "SUCCEEDED", 3, 3, 0)
    _, described = call(url, f"map-run?arn={quoted(run['mapRunArn'])}")
    assert described["executionArn"] == parent
    children = described["executions"]
    assert len(children) == 3
    assert {child["mapRunArn"] for child in children} == {run["mapRunArn"]}
    _, failed_only = call(url, f"map-run?arn={quoted(run['mapRunArn'])}&status=FAILED")
    assert failed_only["executions"] == []

    child = finished(url, children[0]["executionArn"])
    assert child["execution"]["parentExecutionArn"] == parent
    assert child["definitionSource"] == "mapRun"
    assert json.loads(child["definition"])["StartAt"] == "Work"
    _, at_entry = call(url, f"state-at?arn={quoted(children[0]['executionArn'])}&event=2")
    assert at_entry["view"]["frames"][""]["state"] == "Work"
    assert at_entry["states"]["Work"]["outcome"] == "running"

    _, listed = call(url, f"executions?stateMachineArn={quoted(machine)}")
    assert [e["executionArn"] for e in listed["executions"]] == [parent]


def browse_map_run(url: str, name: str, page: Any, screenshots: Path) -> None:
    """In the browser: from the parent's Map state to its Map Run, to a child, and back."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    _, created = call(url, "state-machines", {"name": name, "definition": json.dumps(ITEMS)})
    _, started = call(url, "executions", {"stateMachineArn": created["stateMachineArn"],
                                          "input": json.dumps({"items": [1, 2, 3]})})
    parent = started["executionArn"]
    finished(url, parent)
    page.goto(f"{url}/console/#/execution?arn={quoted(parent)}")
    graph = page.locator("#execution-graph")
    expect(graph.locator('[data-state="Fan"]')).to_have_attribute("data-outcome", "succeeded")
    graph.locator('[data-state="Fan"] > text.group-title').click()
    runs = page.locator("#state-map-runs")
    expect(runs).to_contain_text("3 succeeded, 0 failed, 0 running of 3 item(s)")
    page.screenshot(path=screenshots / "map-state.png", full_page=True)
    runs.locator("a.map-run-link").click()
    children = page.locator("#map-run-executions tbody tr")
    expect(children).to_have_count(3)
    expect(page.locator("#map-run-counts")).to_contain_text("3 succeeded")
    page.screenshot(path=screenshots / "map-run.png", full_page=True)
    children.first.locator("a").click()
    expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED")
    expect(page.locator('#execution-graph [data-state="Work"]')).to_have_attribute(
        "data-outcome", "succeeded")
    expect(page.locator("#definition-note")).to_contain_text("Map Run")
    page.locator("#execution-parent a").click()
    expect(page.locator('#execution-graph [data-state="Fan"]')).to_be_visible()
