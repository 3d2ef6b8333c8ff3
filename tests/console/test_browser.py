"""The console in a real browser: write a state machine in the editor, run it, watch it
finish, travel back through a failed execution and fork it with another input."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from tests.console._checks import browse_map_run
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


INVENTORY = {
    "Comment": "Reserve stock, then wait for the warehouse",
    "StartAt": "Reserve",
    "States": {
        "Reserve": {"Type": "Pass", "Next": "AwaitWarehouse"},
        "AwaitWarehouse": {"Type": "Wait", "Seconds": 3600, "End": True},
    },
}


def test_publish_versions_run_one_stop_it_and_delete_the_machine(
        realtime_console_server: ConsoleServer, page: Any, screenshots: Path) -> None:
    """On the system clock: the execution waits an hour, until it is stopped."""
    from playwright.sync_api import expect

    console_server = realtime_console_server
    expect.set_options(timeout=WAIT_MS)
    page.goto(f"{console_server.url}/console/#/editor")
    expect(page.locator('#editor-graph [data-state="Hello"]')).to_be_visible()
    page.fill("#machine-name", "Inventory")
    _set_editor_text(page, json.dumps(INVENTORY, indent=2))
    expect(page.locator("#diagnostics li.valid")).to_be_visible()

    # Saving with "publish" creates the machine and its version 1, described.
    expect(page.locator("#version-description")).to_be_disabled()
    page.check("#publish")
    page.fill("#version-description", "first cut")
    page.click("#save")
    expect(page.locator("h1")).to_have_text("Edit Inventory")
    expect(page.locator("#latest-version")).to_have_text("Latest version: 1")

    # A change saved with "publish" again: version 2.
    _set_editor_text(page, json.dumps({**INVENTORY, "Comment": "Second thoughts"}, indent=2))
    expect(page.locator("#diagnostics li.valid")).to_be_visible()
    page.check("#publish")
    page.click("#save")
    expect(page.locator("#toast")).to_contain_text("Published version 2.")
    expect(page.locator("#latest-version")).to_have_text("Latest version: 2")

    # The machine lists its versions, newest first; version 1 is started from there.
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Inventory"
    page.goto(f"{console_server.url}/console/#/machine?arn={machine}")
    versions = page.locator("#versions tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.first).to_have_attribute("data-version", "2")
    expect(page.locator('#versions tr[data-version="1"]')).to_contain_text("first cut")
    page.screenshot(path=screenshots / "versions.png", full_page=True)
    page.click('#versions tr[data-version="1"] .start-version')
    expect(page.locator("dialog h2")).to_have_text("Start execution of version 1")
    page.fill("dialog input[name=name]", "on-v1")
    page.click("dialog button[type=submit]")

    # It runs version 1 and waits (an hour, on the system clock) until stopped.
    expect(page.locator("h1")).to_contain_text("on-v1")
    expect(page.locator("#execution-version")).to_have_text("1")
    expect(page.locator("#definition-note")).to_contain_text("version 1")
    waiting = page.locator('#execution-graph [data-state="AwaitWarehouse"]')
    expect(waiting).to_have_attribute("data-outcome", "running")
    expect(page.locator("h1 .badge")).to_have_text("RUNNING")
    page.click("#stop-execution")
    expect(page.locator("dialog h2")).to_have_text("Stop on-v1?")
    page.fill("dialog input[name=cause]", "the warehouse is closed")
    page.screenshot(path=screenshots / "stop-execution.png")
    page.click("dialog button[type=submit]")
    expect(page.locator("h1 .badge")).to_have_text("ABORTED")
    expect(page.locator(".facts")).to_contain_text("the warehouse is closed")
    expect(waiting).to_have_attribute("data-outcome", "failed")
    expect(page.locator("#stop-execution")).to_have_count(0)
    expect(page.locator("#redrive")).to_be_visible()
    expect(page.locator('#events tbody tr').last).to_contain_text("ExecutionAborted")

    # The machine's executions show the version each ran.
    page.locator(".facts a").click()
    row = page.locator("#executions tbody tr", has_text="on-v1")
    expect(row).to_contain_text("ABORTED")
    expect(row.locator("td").nth(2)).to_have_text("1")

    # Delete it, once its name is typed to confirm.
    page.click("#delete-machine")
    submit = page.locator("dialog button[type=submit]")
    expect(submit).to_be_disabled()
    page.fill("dialog input[name=confirm]", "Inventor")
    expect(submit).to_be_disabled()
    page.fill("dialog input[name=confirm]", "Inventory")
    submit.click()
    expect(page.locator("h1")).to_contain_text("State machines")
    expect(page.get_by_role("link", name="Inventory", exact=True)).to_have_count(0)

    # Its execution is still there, drawn with the definition it ran.
    execution = "arn:aws:states:us-east-1:123456789012:execution:Inventory:on-v1"
    page.goto(f"{console_server.url}/console/#/execution?arn={execution}")
    expect(page.locator("h1 .badge")).to_have_text("ABORTED")
    expect(page.locator("#definition-note")).to_contain_text("has been deleted")
    expect(page.locator("#execution-graph")).to_contain_text("AwaitWarehouse")


def _chain_and_fan_out(length: int, branches: int, depth: int) -> dict[str, Any]:
    """A machine too large to show whole at a readable size: a long chain of states, then a
    Parallel of several branches."""
    states: dict[str, Any] = {
        f"Step{i:02d}": {"Type": "Pass", "Next": f"Step{i + 1:02d}" if i + 1 < length
                         else "FanOut"} for i in range(length)}
    states["FanOut"] = {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": f"B{b}S0", "States": {
            f"B{b}S{s}": {"Type": "Pass", **({"Next": f"B{b}S{s + 1}"} if s + 1 < depth
                                              else {"End": True})}
            for s in range(depth)}} for b in range(branches)]}
    return {"StartAt": "Step00", "States": states}


def test_zoom_and_pan_a_large_graph_without_losing_clicks(
        console_server: ConsoleServer, page: Any, screenshots: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    machine = _post(console_server, "state-machines", {
        "name": "Large", "definition": json.dumps(_chain_and_fan_out(30, 6, 4))}
                    )["stateMachineArn"]
    execution = _post(console_server, "executions",
                      {"stateMachineArn": machine, "name": "whole"})["executionArn"]
    page.goto(f"{console_server.url}/console/#/execution?arn={execution}")
    expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED")
    graph = page.locator("#execution-graph")
    drawing = graph.locator("svg.graph")
    viewport = graph.locator("g.viewport")
    # Too tall to fit: drawn at the smallest readable scale, from the top.
    expect(drawing).to_have_attribute("data-zoom", "0.750")
    # (Measured once the outcomes are drawn: that redraw replaces the nodes.)
    expect(graph.locator('[data-state="Step00"]')).to_have_attribute("data-outcome",
                                                                     "succeeded")
    fitted = viewport.get_attribute("transform")
    first = graph.locator('[data-state="Step00"] > rect')
    before = first.bounding_box()

    # The wheel zooms around the pointer: Step00 grows where it is.
    centre = (before["x"] + before["width"] / 2, before["y"] + before["height"] / 2)
    page.mouse.move(*centre)
    page.mouse.wheel(0, -300)
    expect(drawing).not_to_have_attribute("data-zoom", "0.750")
    zoomed = first.bounding_box()
    assert zoomed["width"] > before["width"] * 1.5
    assert abs(zoomed["x"] + zoomed["width"] / 2 - centre[0]) < 2
    assert abs(zoomed["y"] + zoomed["height"] / 2 - centre[1]) < 2

    # A drag pans, even one that starts on a state, which it does not select.
    page.mouse.move(*centre)
    page.mouse.down()
    page.mouse.move(centre[0] + 60, centre[1] + 40, steps=5)
    page.mouse.up()
    panned = first.bounding_box()
    assert abs(panned["x"] - zoomed["x"] - 60) < 1 and abs(panned["y"] - zoomed["y"] - 40) < 1
    expect(graph.locator(".state.selected")).to_have_count(0)
    moved = viewport.get_attribute("transform")

    # A click still selects a state, and the redraw keeps the zoom and pan.
    graph.locator('[data-state="Step00"]').click()
    expect(page.locator("#inspector h2")).to_have_text("Step00")
    expect(graph.locator('[data-state="Step00"]')).to_have_class(re.compile("selected"))
    assert viewport.get_attribute("transform") == moved
    page.screenshot(path=screenshots / "large-machine.png", full_page=True)

    # Reset fits the graph again.
    graph.locator(".graph-reset").click()
    expect(drawing).to_have_attribute("data-zoom", "0.750")
    assert viewport.get_attribute("transform") == fitted
    graph.locator(".graph-zoom-in").click()
    expect(drawing).to_have_attribute("data-zoom", "0.938")


def test_a_long_history_is_paged_and_time_travel_turns_the_pages(
        console_server: ConsoleServer, page: Any, screenshots: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    each = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "Touch",
                          "States": {"Touch": {"Type": "Pass", "End": True}}}}}}
    machine = _post(console_server, "state-machines", {
        "name": "LongHistory", "definition": json.dumps(each)})["stateMachineArn"]
    execution = _post(console_server, "executions", {
        "stateMachineArn": machine, "name": "seven-hundred",
        "input": json.dumps({"items": list(range(700))})})["executionArn"]
    page.goto(f"{console_server.url}/console/#/execution?arn={execution}")
    expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED")
    position = re.search(r"of (\d+)", page.locator("#event-position").inner_text())
    assert position is not None
    total = int(position[1])
    assert total > 2800

    # One page of the table at a time: the one holding the latest event.
    rows = page.locator("#events tbody tr")
    last_page = (total - 1) // 100 * 100 + 1
    expect(page.locator("#events-page")).to_have_text(f"{last_page}\u2013{total} of {total}")
    expect(rows).to_have_count(total - last_page + 1)
    expect(page.locator(f'#events tr[data-event="{total}"]')).to_have_class("current")

    # Time travel to an event far back turns the table to its page.
    page.locator("#event-slider").evaluate(
        "(slider) => { slider.value = 1500; slider.dispatchEvent(new Event('input')); }")
    expect(page.locator("#event-position")).to_contain_text(f"Event 1500 of {total}")
    expect(page.locator("#events-page")).to_have_text(f"1401\u20131500 of {total}")
    expect(rows).to_have_count(100)
    expect(page.locator('#events tr[data-event="1500"]')).to_have_class("current")
    expect(page.locator('#events tr[data-event="1499"]')).to_have_class("")
    expect(page.locator('#execution-graph [data-state="Each"]')).to_have_attribute(
        "data-outcome", "running")
    page.screenshot(path=screenshots / "long-history.png")

    # The pager turns pages without moving the cursor; a row click moves it.
    page.click("#events-first-page")
    expect(page.locator("#events-page")).to_have_text(f"1\u2013100 of {total}")
    expect(page.locator("#events-previous-page")).to_be_disabled()
    expect(page.locator("#event-position")).to_contain_text("Event 1500")
    page.click('#events tr[data-event="42"]')
    expect(page.locator("#event-position")).to_contain_text(f"Event 42 of {total}")
    expect(page.locator('#events tr[data-event="43"]')).to_have_class("future")
    page.click("#next-event")
    expect(page.locator('#events tr[data-event="43"]')).to_have_class("current")


def test_map_run_children_in_the_browser(console_server: ConsoleServer, page: Any,
        screenshots: Path) -> None:
    browse_map_run(console_server.url, "BrowsedItems", page, screenshots)
