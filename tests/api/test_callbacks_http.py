"""Callbacks, activities, redrive, StartSyncExecution and Map runs through boto3."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import ROLE, pass_machine, task_machine, wait_until_done


def test_an_activity_worker_polls_and_answers_through_the_api(sfn: Any) -> None:
    activity = sfn.create_activity(name="approve-http")["activityArn"]
    assert sfn.describe_activity(activityArn=activity)["name"] == "approve-http"
    assert activity in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    machine = sfn.create_state_machine(name="activity-http", definition=task_machine(activity),
                                       roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine,
                                    input=json.dumps({"n": 1}))["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="worker-1")
    assert json.loads(task["input"]) == {"n": 1}
    sfn.send_task_heartbeat(taskToken=task["taskToken"])
    sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"ok": 1}))
    done = wait_until_done(sfn, execution)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"ok": 1})
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert events[3]["activityStartedEventDetails"] == {"workerName": "worker-1"}
    with pytest.raises(ClientError) as raised:
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    assert raised.value.response["Error"]["Code"] == "TaskTimedOut"
    with pytest.raises(ClientError) as raised:
        sfn.send_task_failure(taskToken="bogus")
    assert raised.value.response["Error"]["Code"] == "InvalidToken"
    sfn.delete_activity(activityArn=activity)


def test_activity_failure_through_the_api(sfn: Any) -> None:
    activity = sfn.create_activity(name="fails-http")["activityArn"]
    machine = sfn.create_state_machine(name="activity-fails", definition=task_machine(activity),
                                       roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(
        sfn.get_activity_task(activityArn=activity)))
    worker.start()
    worker.join(timeout=10)
    sfn.send_task_failure(taskToken=result["taskToken"], error="Nope", cause="declined")
    done = wait_until_done(sfn, execution)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Nope", "declined")


def test_redrive_through_the_api(sfn: Any) -> None:
    machine = sfn.create_state_machine(
        name="fails-once-http", roleArn=ROLE,
        definition=json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail",
                                                                 "Error": "E"}}}),
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert wait_until_done(sfn, execution)["redriveStatus"] == "REDRIVABLE"
    assert "redriveDate" in sfn.redrive_execution(executionArn=execution)
    done = wait_until_done(sfn, execution)
    assert (done["status"], done["redriveCount"]) == ("FAILED", 1)


def test_start_sync_execution_runs_an_express_machine_to_its_end(sfn: Any) -> None:
    machine = sfn.create_state_machine(name="express-http", definition=pass_machine({"a": 1}),
                                       roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    done = sfn.start_sync_execution(stateMachineArn=machine, input="{}")
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"a": 1})
    standard = sfn.create_state_machine(name="standard-http", definition=pass_machine(),
                                        roleArn=ROLE)["stateMachineArn"]
    with pytest.raises(ClientError) as raised:
        sfn.start_sync_execution(stateMachineArn=standard)
    assert raised.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"


def test_inline_maps_start_no_map_runs(sfn: Any) -> None:
    machine = sfn.create_state_machine(name="no-map-runs", definition=pass_machine(),
                                       roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert sfn.list_map_runs(executionArn=execution)["mapRuns"] == []


def test_map_runs_of_a_distributed_map_through_the_api(sfn: Any) -> None:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    machine = sfn.create_state_machine(name="distributed-http", definition=json.dumps(definition),
                                       roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="[1, 2]")["executionArn"]
    assert wait_until_done(sfn, execution)["status"] == "SUCCEEDED"
    (run,) = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    described = sfn.describe_map_run(mapRunArn=run["mapRunArn"])
    assert (described["status"], described["itemCounts"]["succeeded"],
            described["itemCounts"]["total"]) == ("SUCCEEDED", 2, 2)
    with pytest.raises(ClientError) as raised:
        sfn.describe_map_run(mapRunArn=run["mapRunArn"] + "x")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"
    # The items ran as child executions of the Map Run, listed by it (AWS ListExecutions
    # mapRunArn) and described with it and the labelled state machine.
    children = sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]
    assert len(children) == 2
    assert {child["mapRunArn"] for child in children} == {run["mapRunArn"]}
    child = sfn.describe_execution(executionArn=children[0]["executionArn"])
    assert child["status"] == "SUCCEEDED" and child["mapRunArn"] == run["mapRunArn"]
    assert child["stateMachineArn"] == run["stateMachineArn"]
    machine_of_child = sfn.describe_state_machine_for_execution(
        executionArn=children[0]["executionArn"])
    assert (machine_of_child["label"], machine_of_child["mapRunArn"]) == ("M", run["mapRunArn"])
    assert machine_of_child["name"] == "distributed-http/M"
    assert sfn.get_execution_history(executionArn=children[0]["executionArn"])["events"][-1][
        "type"] == "ExecutionSucceeded"


def test_an_unknown_log_level_is_a_validation_error(sfn: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sfn.create_state_machine(name="bad-logging", definition=pass_machine(), roleArn=ROLE,
                                 loggingConfiguration={"level": "LOUD"})
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_metrics_count_executions(endpoint: str, sfn: Any) -> None:
    import urllib.request

    machine = sfn.create_state_machine(name="metered", definition=pass_machine(),
                                       roleArn=ROLE)["stateMachineArn"]
    wait_until_done(sfn, sfn.start_execution(stateMachineArn=machine)["executionArn"])
    with urllib.request.urlopen(f"{endpoint}/metrics") as response:
        text = response.read().decode()
    line = next(x for x in text.splitlines()
                if x.startswith("stepline_executions_finished_total") and machine in x)
    assert 'status="SUCCEEDED"' in line and float(line.rsplit(" ", 1)[1]) >= 1
