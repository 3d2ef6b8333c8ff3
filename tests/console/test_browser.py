"""The console in a real browser: write a state machine in the editor, run it, watch it
finish, travel back through a failed execution and fork it with another input."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from tests.console._server import ConsoleServer

PAYMENTS = {
    "Comment": "Charge an order after a hold",
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Pass", "Next": "Hold"},
        "Hold": {"Type": "Wait", "Seconds": 30, "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "charge", "End": True},
    },
}
ORDERS = {
    "Comment": "Every kind of edge and group",
    "StartAt": "Validate",
    "States": {
        "Validate": {"Type": "Pass", "Next": "Route"},
        "Route": {"Type": "Choice", "Choices": [{"And": [
            {"Variable": "$.express", "IsPresent": True},
            {"Variable": "$.express", "BooleanEquals": True}], "Next": "Ship"}],
            "Default": "Prepare"},
        "Prepare": {"Type": "Parallel", "ResultPath": None, "Next": "Items", "Branches": [
            {"StartAt": "Pack", "States": {"Pack": {
                "Type": "Task", "Resource": "flaky", "End": True,
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}]}}},
            {"StartAt": "Label", "States": {"Label": {"Type": "Pass", "Next": "Stamp"},
                                            "Stamp": {"Type": "Pass", "End": True}}}]},
        "Items": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": None, "Next": "Ship",
                  "ItemProcessor": {"StartAt": "Pick",
                                    "States": {"Pick": {"Type": "Pass", "End": True}}}},
        "Ship": {"Type": "Task", "Resource": "charge", "Next": "Done",
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Refund"}]},
        "Refund": {"Type": "Fail", "Error": "Declined", "Cause": "payment declined"},
        "Done": {"Type": "Succeed"},
    },
}
WAIT_MS = 15_000


def _set_editor_text(page: Any, text: str) -> None:
    page.locator("#editor .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def _post(server: ConsoleServer, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(f"{server.url}/console/api/{path}",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def test_write_run_travel_back_and_fork(console_server: ConsoleServer, page: Any,
                                        screenshots: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    page.goto(f"{console_server.url}/console")
    expect(page.locator("h1")).to_contain_text("State machines")
    page.get_by_role("link", name="Create state machine").first.click()

    # The editor starts from a template, drawn as a graph.
    expect(page.locator('#editor-graph [data-state="Hello"]')).to_be_visible()
    page.fill("#machine-name", "Payments")

    # An edit naming a state that does not exist: the diagnostic, at its line.
    misspelt = json.loads(json.dumps(PAYMENTS))
    misspelt["States"]["Hold"]["Next"] = "Chrage"
    invalid = json.dumps(misspelt, indent=2)
    _set_editor_text(page, invalid)
    diagnostic = page.locator("#diagnostics li", has_text="Missing 'Next' target")
    line = _line_of(invalid, '"Next": "Chrage"')
    expect(diagnostic).to_contain_text(f"Line {line}")
    expect(diagnostic).to_contain_text("Missing 'Next' target: Chrage")
    expect(page.locator("#editor .cm-lintRange-error").first).to_be_visible()
    page.screenshot(path=screenshots / "editor-diagnostic.png")

    # A valid edit: no diagnostics, and the graph redrawn with the new states.
    _set_editor_text(page, json.dumps(PAYMENTS, indent=2))
    expect(page.locator("#diagnostics li.valid")).to_be_visible()
    for state in ("Check", "Hold", "Charge"):
        expect(page.locator(f'#editor-graph [data-state="{state}"]')).to_be_visible()
    expect(page.locator('#editor-graph [data-state="Hello"]')).to_have_count(0)
    page.screenshot(path=screenshots / "editor.png")

    page.click("#save")
    expect(page).to_have_url(re.compile(r"#/editor\?arn=.*stateMachine%3APayments$"))
    expect(page.locator("h1")).to_have_text("Edit Payments")

    # Run it: the execution page follows it while it runs, until it succeeds.
    page.click("#run")
    page.fill("dialog input[name=name]", "small-order")
    page.fill("dialog textarea[name=input]", '{"amount": 20}')
    page.click("dialog button[type=submit]")
    expect(page.locator("h1 .badge")).to_have_text("RUNNING")
    expect(page.locator('#execution-graph [data-state="Charge"]')).to_have_attribute(
        "data-outcome", "running")
    expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED")
    expect(page.locator('#execution-graph [data-state="Charge"]')).to_have_attribute(
        "data-outcome", "succeeded")

    # Another one fails: the amount is over the limit.
    page.get_by_role("link", name="Payments").click()
    page.click("#start-execution")
    page.fill("dialog input[name=name]", "large-order")
    page.fill("dialog textarea[name=input]", '{"amount": 500}')
    page.click("dialog button[type=submit]")
    expect(page.locator("h1 .badge")).to_have_text("FAILED")
    charge = page.locator('#execution-graph [data-state="Charge"]')
    expect(charge).to_have_attribute("data-outcome", "failed")
    charge.click()
    expect(page.locator("#state-error")).to_contain_text("PaymentDeclined")
    expect(page.locator("#events tbody tr")).to_have_count(10)
    page.screenshot(path=screenshots / "execution.png", full_page=True)

    # Its state machine lists both, filtered by status and searched by name.
    page.get_by_role("link", name="Payments").click()
    expect(page.locator("#executions tbody tr")).to_have_count(2)
    page.select_option("#status-filter", "FAILED")
    expect(page.locator("#executions tbody tr")).to_have_count(1)
    expect(page.locator("#executions tbody")).to_contain_text("large-order")
    page.select_option("#status-filter", "")
    page.fill("#name-search", "small")
    expect(page.locator("#executions tbody tr")).to_have_count(1)
    expect(page.locator("#executions tbody")).to_contain_text("small-order")
    page.fill("#name-search", "")
    expect(page.locator("#executions tbody tr")).to_have_count(2)
    page.screenshot(path=screenshots / "state-machine.png", full_page=True)

    # Back through the failed execution's events to the hold before the charge.
    page.get_by_role("link", name="large-order").click()
    expect(page.locator("#event-position")).to_contain_text("Event 10 of 10")
    for _ in range(6):
        page.click("#previous-event")
    expect(page.locator("#event-position")).to_have_text("Event 4 of 10: WaitStateEntered")
    graph = page.locator("#execution-graph")
    expect(graph.locator('[data-state="Hold"]')).to_have_attribute("data-outcome", "running")
    expect(graph.locator('[data-state="Charge"]')).to_have_attribute("data-outcome", "none")
    expect(graph.locator('[data-state="Check"]')).to_have_attribute("data-outcome", "succeeded")
    expect(page.locator('#events tr[data-event="4"]')).to_have_class("current")
    expect(page.locator('#events tr[data-event="5"]')).to_have_class("future")
    graph.locator('[data-state="Hold"]').click()
    expect(page.locator("#state-input")).to_contain_text('"amount": 500')
    page.screenshot(path=screenshots / "time-travel.png", full_page=True)

    # Fork from there with a smaller amount: the fork succeeds.
    page.click("#fork")
    input_box = page.locator("dialog textarea[name=input]")
    expect(input_box).to_have_value(re.compile(r'"amount": 500'))
    input_box.fill('{"amount": 5}')
    page.click("dialog button[type=submit]")
    expect(page.locator("h1")).to_contain_text("large-order-fork-")
    expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED")
    expect(page.locator('#execution-graph [data-state="Charge"]')).to_have_attribute(
        "data-outcome", "succeeded")
    expect(page.locator("#inspector")).to_contain_text('"charged": 5')
    # The fork's history begins with the original's, up to the hold.
    expect(page.locator('#events tr[data-event="4"]')).to_contain_text("WaitStateEntered")
    page.screenshot(path=screenshots / "fork.png", full_page=True)


def test_execution_graph_colours_groups_retries_and_catches(
        console_server: ConsoleServer, page: Any, screenshots: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    machine = _post(console_server, "state-machines",
                    {"name": "Orders", "definition": json.dumps(ORDERS)})["stateMachineArn"]
    execution = _post(console_server, "executions", {
        "stateMachineArn": machine, "name": "declined",
        "input": json.dumps({"items": [1, 2], "amount": 500})})["executionArn"]
    page.goto(f"{console_server.url}/console/#/execution?arn={execution}")
    expect(page.locator("h1 .badge")).to_have_text("FAILED")
    graph = page.locator("#execution-graph")
    outcomes = {"Validate": "succeeded", "Route": "succeeded", "Prepare": "succeeded",
                "Pack": "retried", "Stamp": "succeeded", "Items": "succeeded",
                "Pick": "succeeded", "Ship": "caught", "Refund": "failed", "Done": "none"}
    for state, outcome in outcomes.items():
        expect(graph.locator(f'[data-state="{state}"]')).to_have_attribute("data-outcome",
                                                                          outcome)
    # Branch and processor states are drawn inside their Parallel and Map.
    prepare = graph.locator('[data-state="Prepare"] > rect').bounding_box()
    pack = graph.locator('[data-state="Pack"] > rect').bounding_box()
    assert prepare["x"] < pack["x"] and pack["x"] + pack["width"] < prepare["x"] + prepare[
        "width"] and prepare["y"] < pack["y"] < prepare["y"] + prepare["height"]
    graph.locator('[data-state="Pack"]').click()
    expect(page.locator("#inspector")).to_contain_text("1 retry")
    page.screenshot(path=screenshots / "execution-groups.png", full_page=True)

    # Redrive: the failed execution runs its failed state again.
    page.click("#redrive")
    expect(page.locator(".facts")).to_contain_text("Redrives")


def test_state_machines_list(console_server: ConsoleServer, page: Any,
                             screenshots: Path) -> None:
    from playwright.sync_api import expect

    _post(console_server, "state-machines", {"name": "Listed", "definition": json.dumps(PAYMENTS)})
    page.goto(f"{console_server.url}/console/")
    expect(page.locator("#machines")).to_contain_text("Listed")
    page.get_by_role("link", name="Listed").click()
    expect(page.locator('#machine-graph [data-state="Charge"]')).to_be_visible()
    page.goto(f"{console_server.url}/console/")
    page.screenshot(path=screenshots / "state-machines.png", full_page=True)
