"""The console's JSON API over HTTP, on the server the browser tests use."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tests.console._server import ConsoleServer

HOLD_THEN_CHARGE = json.dumps({"StartAt": "Hold", "States": {
    "Hold": {"Type": "Wait", "Seconds": 5, "Next": "Charge"},
    "Charge": {"Type": "Task", "Resource": "charge", "End": True}}})


def _call(server: ConsoleServer, path: str, body: dict[str, Any] | None = None
          ) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{server.url}/console/api/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _finished(server: ConsoleServer, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        _, found = _call(server, f"execution?arn={urllib.parse.quote(arn)}")
        if found["execution"]["status"] != "RUNNING" or time.monotonic() > deadline:
            return found  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_the_page_is_served_with_its_mount_point_as_base(console_server: ConsoleServer) -> None:
    with urllib.request.urlopen(f"{console_server.url}/console") as response:
        assert response.url == f"{console_server.url}/console/"
        assert '<base href="/console/">' in response.read().decode()
    with urllib.request.urlopen(f"{console_server.url}/console/static/vendor/vendor.js") as js:
        assert b"EditorView" in js.read()


def test_validate_places_diagnostics_on_lines(console_server: ConsoleServer) -> None:
    text = '{\n "StartAt": "A",\n "States": {\n  "A": {"Type": "Pass", "Next": "B"}\n }\n}'
    status, answer = _call(console_server, "validate", {"definition": text})
    assert status == 200
    assert [(d["code"], d["line"]) for d in answer["diagnostics"]] == [
        ("MISSING_TRANSITION_TARGET", 4), ("MISSING_END_STATE", None)]
    _, drawn = _call(console_server, "graph", {"definition": text})
    assert [node["id"] for node in drawn["graph"]["nodes"]] == ["A"]
    _, not_json = _call(console_server, "graph", {"definition": "{"})
    assert not_json["graph"]["nodes"] == []


def test_time_travel_fork_and_redrive(console_server: ConsoleServer) -> None:
    _, created = _call(console_server, "state-machines",
                       {"name": "ApiHold", "definition": HOLD_THEN_CHARGE})
    machine = created["stateMachineArn"]
    _, started = _call(console_server, "executions", {
        "stateMachineArn": machine, "input": '{"amount": 500}', "name": "over"})
    failed = _finished(console_server, started["executionArn"])
    assert failed["execution"]["status"] == "FAILED"
    assert failed["definition"] == HOLD_THEN_CHARGE
    hold = next(e["id"] for e in failed["events"] if e["type"] == "WaitStateEntered")

    arn = urllib.parse.quote(started["executionArn"])
    _, at_hold = _call(console_server, f"state-at?arn={arn}&event={hold}")
    assert at_hold["view"]["frames"][""]["state"] == "Hold"
    assert at_hold["states"]["Hold"]["outcome"] == "running"
    assert "Charge" not in at_hold["states"]

    _, forked = _call(console_server, "fork", {
        "executionArn": started["executionArn"], "event": hold, "input": '{"amount": 3}'})
    fork = _finished(console_server, forked["executionArn"])
    assert fork["execution"]["status"] == "SUCCEEDED"
    assert fork["execution"]["output"] == {"charged": 3}

    status, redriven = _call(console_server, "redrive",
                             {"executionArn": started["executionArn"]})
    assert (status, redriven["redriveCount"]) == (200, 1)

    _, listed = _call(console_server, f"executions?stateMachineArn={urllib.parse.quote(machine)}")
    assert {e["name"] for e in listed["executions"]} >= {"over"}


def test_a_fork_with_another_definition_shows_that_definition(
        console_server: ConsoleServer) -> None:
    _, created = _call(console_server, "state-machines",
                       {"name": "ApiRewrite", "definition": HOLD_THEN_CHARGE})
    _, started = _call(console_server, "executions", {
        "stateMachineArn": created["stateMachineArn"], "input": '{"amount": 500}'})
    _finished(console_server, started["executionArn"])
    without_task = json.loads(HOLD_THEN_CHARGE)
    without_task["States"]["Charge"] = {"Type": "Pass", "End": True}
    rewritten = json.dumps(without_task)
    _, forked = _call(console_server, "fork", {
        "executionArn": started["executionArn"], "event": 2, "definition": rewritten})
    fork = _finished(console_server, forked["executionArn"])
    assert fork["execution"]["status"] == "SUCCEEDED"
    assert fork["definition"] == rewritten


def test_mistakes_are_answered_with_400(console_server: ConsoleServer) -> None:
    assert _call(console_server, "execution?arn=nope") == (400, {
        "error": "ExecutionDoesNotExist", "message": "Execution Does Not Exist: 'nope'"})
    status, answer = _call(console_server, "state-machines",
                           {"name": "Bad", "definition": '{"StartAt": "A", "States": {}}'})
    assert (status, answer["error"]) == (400, "InvalidDefinition")
    status, answer = _call(console_server, "fork", {"executionArn": "x", "event": "seven"})
    assert (status, answer["message"]) == (400, "'event' must be an event id (an integer)")
    status, answer = _call(console_server, "validate", {})
    assert (status, answer["message"]) == (400, "'definition' is required (a string)")
