"""The console's JSON API over HTTP, on the server the browser tests use."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tests.console._checks import call, check_map_run_children
from tests.console._server import ConsoleServer

HOLD_THEN_CHARGE = json.dumps({"StartAt": "Hold", "States": {
    "Hold": {"Type": "Wait", "Seconds": 5, "Next": "Charge"},
    "Charge": {"Type": "Task", "Resource": "charge", "End": True}}})


def _finished(server: ConsoleServer, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        _, found = call(server.url, f"execution?arn={urllib.parse.quote(arn)}")
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
    status, answer = call(console_server.url, "validate", {"definition": text})
    assert status == 200
    assert [(d["code"], d["line"]) for d in answer["diagnostics"]] == [
        ("MISSING_TRANSITION_TARGET", 4), ("MISSING_END_STATE", None)]
    _, drawn = call(console_server.url, "graph", {"definition": text})
    assert [node["id"] for node in drawn["graph"]["nodes"]] == ["A"]
    _, not_json = call(console_server.url, "graph", {"definition": "{"})
    assert not_json["graph"]["nodes"] == []


def test_time_travel_fork_and_redrive(console_server: ConsoleServer) -> None:
    _, created = call(console_server.url, "state-machines",
                       {"name": "ApiHold", "definition": HOLD_THEN_CHARGE})
    machine = created["stateMachineArn"]
    _, started = call(console_server.url, "executions", {
        "stateMachineArn": machine, "input": '{"amount": 500}', "name": "over"})
    failed = _finished(console_server, started["executionArn"])
    assert failed["execution"]["status"] == "FAILED"
    assert failed["definition"] == HOLD_THEN_CHARGE
    hold = next(e["id"] for e in failed["events"] if e["type"] == "WaitStateEntered")

    arn = urllib.parse.quote(started["executionArn"])
    _, at_hold = call(console_server.url, f"state-at?arn={arn}&event={hold}")
    assert at_hold["view"]["frames"][""]["state"] == "Hold"
    assert at_hold["states"]["Hold"]["outcome"] == "running"
    assert "Charge" not in at_hold["states"]

    _, forked = call(console_server.url, "fork", {
        "executionArn": started["executionArn"], "event": hold, "input": '{"amount": 3}'})
    fork = _finished(console_server, forked["executionArn"])
    assert fork["execution"]["status"] == "SUCCEEDED"
    assert fork["execution"]["output"] == {"charged": 3}

    status, redriven = call(console_server.url, "redrive",
                             {"executionArn": started["executionArn"]})
    assert (status, redriven["redriveCount"]) == (200, 1)

    _, listed = call(console_server.url,
                     f"executions?stateMachineArn={urllib.parse.quote(machine)}")
    assert {e["name"] for e in listed["executions"]} >= {"over"}


def test_a_fork_with_another_definition_shows_that_definition(
        console_server: ConsoleServer) -> None:
    _, created = call(console_server.url, "state-machines",
                       {"name": "ApiRewrite", "definition": HOLD_THEN_CHARGE})
    _, started = call(console_server.url, "executions", {
        "stateMachineArn": created["stateMachineArn"], "input": '{"amount": 500}'})
    _finished(console_server, started["executionArn"])
    without_task = json.loads(HOLD_THEN_CHARGE)
    without_task["States"]["Charge"] = {"Type": "Pass", "End": True}
    rewritten = json.dumps(without_task)
    _, forked = call(console_server.url, "fork", {
        "executionArn": started["executionArn"], "event": 2, "definition": rewritten})
    fork = _finished(console_server, forked["executionArn"])
    assert fork["execution"]["status"] == "SUCCEEDED"
    assert fork["definition"] == rewritten


def test_mistakes_are_answered_with_400(console_server: ConsoleServer) -> None:
    assert call(console_server.url, "execution?arn=nope") == (400, {
        "error": "ExecutionDoesNotExist", "message": "Execution Does Not Exist: 'nope'"})
    status, answer = call(console_server.url, "state-machines",
                           {"name": "Bad", "definition": '{"StartAt": "A", "States": {}}'})
    assert (status, answer["error"]) == (400, "InvalidDefinition")
    status, answer = call(console_server.url, "fork", {"executionArn": "x", "event": "seven"})
    assert (status, answer["message"]) == (400, "'event' must be an event id (an integer)")
    status, answer = call(console_server.url, "validate", {})
    assert (status, answer["message"]) == (400, "'definition' is required (a string)")


#: On the system clock, an execution of this runs until it is stopped.
BLOCKING = json.dumps({"StartAt": "Block", "States": {
    "Block": {"Type": "Wait", "Seconds": 3600, "End": True}}})


def _aws(server: ConsoleServer, operation: str, body: dict[str, Any]) -> Any:
    """A call to the AWS JSON 1.0 API served beside the console."""
    request = urllib.request.Request(
        f"{server.url}/", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.0",
                 "X-Amz-Target": f"AWSStepFunctions.{operation}"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def _described(server: ConsoleServer, arn: str) -> Any:
    return call(server.url, f"state-machine?arn={urllib.parse.quote(arn)}")[1]


def test_saving_publishes_versions_and_executions_run_on_them(
        console_server: ConsoleServer) -> None:
    _, created = call(console_server.url, "state-machines", {
        "name": "ApiVersions", "definition": HOLD_THEN_CHARGE, "publish": True,
        "versionDescription": "first cut"})
    machine = created["stateMachineArn"]
    assert (created["stateMachineVersionArn"], created["version"]) == (f"{machine}:1", 1)

    # Saving the same definition again publishes nothing new: the latest version is it.
    _, same = call(console_server.url, "state-machine", {
        "stateMachineArn": machine, "definition": HOLD_THEN_CHARGE, "publish": True})
    assert same["version"] == 1
    _, unpublished = call(console_server.url, "state-machine", {
        "stateMachineArn": machine, "definition": BLOCKING})
    assert "version" not in unpublished
    _, second = call(console_server.url, "state-machine", {
        "stateMachineArn": machine, "definition": BLOCKING, "publish": True})
    assert second["version"] == 2

    described = _described(console_server, machine)
    assert [(v["version"], v["description"]) for v in described["versions"]] == [
        (2, None), (1, "first cut")]
    assert described["definition"] == BLOCKING

    # An execution on version 1 runs (and shows) version 1's definition, not the machine's.
    _, started = call(console_server.url, "executions", {
        "stateMachineArn": f"{machine}:1", "input": '{"amount": 1}', "name": "on-v1"})
    run = _finished(console_server, started["executionArn"])
    assert run["execution"]["status"] == "SUCCEEDED"
    assert (run["execution"]["version"], run["definitionSource"]) == (1, "version")
    assert run["definition"] == HOLD_THEN_CHARGE
    _, listed = call(console_server.url,
                      f"executions?stateMachineArn={urllib.parse.quote(machine)}")
    assert [(e["name"], e["version"]) for e in listed["executions"]] == [("on-v1", 1)]


def test_a_version_description_needs_publish(console_server: ConsoleServer) -> None:
    # AWS: "Version description can only be set when publish is true".
    status, answer = call(console_server.url, "state-machines", {
        "name": "ApiNoPublish", "definition": HOLD_THEN_CHARGE, "versionDescription": "x"})
    assert (status, answer["error"]) == (400, "ValidationException")
    never_created = "arn:aws:states:us-east-1:123456789012:stateMachine:ApiNoPublish"
    status, _ = call(console_server.url, f"state-machine?arn={urllib.parse.quote(never_created)}")
    assert status == 400


def test_the_definition_of_an_execution_says_when_the_machine_changed_since(
        console_server: ConsoleServer) -> None:
    _, created = call(console_server.url, "state-machines",
                       {"name": "ApiChanged", "definition": HOLD_THEN_CHARGE})
    machine = created["stateMachineArn"]
    _, started = call(console_server.url, "executions",
                       {"stateMachineArn": machine, "input": '{"amount": 1}'})
    before = _finished(console_server, started["executionArn"])
    assert before["definitionSource"] == "stateMachine"
    call(console_server.url, "state-machine", {"stateMachineArn": machine, "definition": BLOCKING})
    _, after = call(console_server.url,
                     f"execution?arn={urllib.parse.quote(started['executionArn'])}")
    # The machine changed, but the execution is drawn with the definition it ran.
    assert (after["definitionSource"], after["definition"]) == ("updated", HOLD_THEN_CHARGE)


def test_stop_a_running_execution(realtime_console_server: ConsoleServer) -> None:
    console_server = realtime_console_server
    _, created = call(console_server.url, "state-machines",
                       {"name": "ApiBlocking", "definition": BLOCKING})
    _, started = call(console_server.url, "executions",
                       {"stateMachineArn": created["stateMachineArn"], "name": "stuck"})
    arn = started["executionArn"]
    assert call(console_server.url, f"execution?arn={urllib.parse.quote(arn)}")[1][
        "execution"]["status"] == "RUNNING"
    status, stopped = call(console_server.url, "stop", {
        "executionArn": arn, "error": "Operator", "cause": "taking too long"})
    assert (status, stopped["execution"]["status"]) == (200, "ABORTED")
    _, described = call(console_server.url, f"execution?arn={urllib.parse.quote(arn)}")
    assert (described["execution"]["error"], described["execution"]["cause"]) == (
        "Operator", "taking too long")
    assert described["events"][-1]["type"] == "ExecutionAborted"
    # Stopping an execution that has ended changes nothing.
    _, again = call(console_server.url, "stop", {"executionArn": arn})
    assert again["execution"]["status"] == "ABORTED"


def test_the_events_after_an_id(console_server: ConsoleServer) -> None:
    _, created = call(console_server.url, "state-machines",
                       {"name": "ApiAfter", "definition": HOLD_THEN_CHARGE})
    _, started = call(console_server.url, "executions", {
        "stateMachineArn": created["stateMachineArn"], "input": '{"amount": 1}'})
    everything = _finished(console_server, started["executionArn"])["events"]
    arn = urllib.parse.quote(started["executionArn"])
    _, tail = call(console_server.url, f"execution?arn={arn}&after=4")
    assert tail["events"] == everything[4:]
    assert call(console_server.url, f"execution?arn={arn}&after=x")[0] == 400


def test_delete_a_state_machine_while_an_execution_runs(
        realtime_console_server: ConsoleServer) -> None:
    console_server = realtime_console_server
    _, created = call(console_server.url, "state-machines", {
        "name": "ApiDeleted", "definition": BLOCKING, "publish": True})
    machine = created["stateMachineArn"]
    _, started = call(console_server.url, "executions",
                       {"stateMachineArn": f"{machine}:1", "name": "orphan"})
    assert call(console_server.url, "delete-state-machine", {"stateMachineArn": machine}) == (
        200, {})
    status, answer = call(console_server.url, f"state-machine?arn={urllib.parse.quote(machine)}")
    assert (status, answer["error"]) == (400, "StateMachineDoesNotExist")
    # The execution goes on, still drawn with the definition it runs; it can be stopped.
    arn = urllib.parse.quote(started["executionArn"])
    _, orphan = call(console_server.url, f"execution?arn={arn}")
    assert (orphan["execution"]["status"], orphan["definition"],
            orphan["definitionSource"]) == ("RUNNING", BLOCKING, "deleted")
    assert call(console_server.url, "stop", {"executionArn": started["executionArn"]})[1][
        "execution"]["status"] == "ABORTED"
    # AWS answers success for a state machine that does not exist (any more).
    assert call(console_server.url, "delete-state-machine", {"stateMachineArn": machine}) == (
        200, {})


def test_delete_a_version_unless_an_alias_routes_to_it(console_server: ConsoleServer) -> None:
    _, created = call(console_server.url, "state-machines", {
        "name": "ApiAliased", "definition": HOLD_THEN_CHARGE, "publish": True})
    machine = created["stateMachineArn"]
    call(console_server.url, "state-machine",
          {"stateMachineArn": machine, "definition": BLOCKING, "publish": True})
    _aws(console_server, "CreateStateMachineAlias", {
        "name": "live", "routingConfiguration": [
            {"stateMachineVersionArn": f"{machine}:1", "weight": 100}]})
    aliases = _described(console_server, machine)["aliases"]
    assert [(a["name"], a["routingConfiguration"]) for a in aliases] == [
        ("live", [{"stateMachineVersionArn": f"{machine}:1", "weight": 100}])]

    status, refused = call(console_server.url, "delete-state-machine",
                            {"stateMachineArn": f"{machine}:1"})
    assert (status, refused["error"]) == (400, "ConflictException")
    assert call(console_server.url, "delete-state-machine",
                 {"stateMachineArn": f"{machine}:2"})[0] == 200
    assert [v["version"] for v in _described(console_server, machine)["versions"]] == [1]


def test_map_run_children_are_reached_from_their_parent(console_server: ConsoleServer) -> None:
    check_map_run_children(console_server.url, "Items")
