"""The examples in examples/ run as their README says, through the CLI (real clock) and through
the `Runtime` API (virtual clock, no real sleeping)."""

from __future__ import annotations

import json
import runpy
import time
from pathlib import Path
from typing import Any

import pytest

from runtime.cli import main
from runtime.engine import Execution, Runtime

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED_OUTPUT: dict[str, Any] = {
    "order_workflow": {
        "orderId": "A-1001",
        "status": "CONFIRMED",
        "total": 124.0,
        "reservationId": "R-A-1001",
        "chargeId": "CH-A-1001",
        "message": "Order A-1001 confirmed: 2 item(s) charged",
    },
    "map_fanout": {
        "batchId": "B-7",
        "currency": "EUR",
        "converted": [
            {"line": 1, "id": "o-1", "amount": 90.0, "currency": "EUR"},
            {"line": 2, "id": "o-2", "amount": 225.0, "currency": "EUR"},
            {"line": 3, "id": "o-3", "amount": 36.0, "currency": "EUR"},
            {"line": 4, "id": "o-4", "amount": 11.25, "currency": "EUR"},
        ],
        "summary": "4 orders converted to EUR",
        "lines": [1, 2, 3, 4],
    },
    "parallel_aggregation": {
        "reportId": "R-2024-06",
        "title": "Sales report R-2024-06 (EMEA)",
        "figures": {
            "headline": "4 sales in EMEA",
            "salesCount": 4,
            "revenue": 520,
            "revenueWithShipping": 545,
            "topProduct": {"sku": "MS-7", "units": 8},
        },
    },
}

DECLINED_CAUSE = ("Payment for order A-1002 declined; stock released: card 0000-declined was "
                  "declined")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def cli_args(example: str, input_file: str = "input.json") -> list[str]:
    directory = EXAMPLES / example
    return ["run", str(directory / "definition.asl.json"),
            "--input", f"@{directory / input_file}", "--tasks", str(directory / "tasks.py")]


def readme_command(example: str, input_file: str = "input.json") -> str:
    directory = f"examples/{example}"
    return (f"stepline run {directory}/definition.asl.json --input @{directory}/{input_file} "
            f"--tasks {directory}/tasks.py")


def history_rows(table: str) -> list[tuple[str, str]]:
    """(type, state) of each row of the `--history` table."""
    rows = []
    for line in table.splitlines()[1:]:
        columns = line.split(maxsplit=3)
        state = columns[2] if len(columns) > 2 and not columns[1].startswith("Execution") else ""
        rows.append((columns[1], state))
    return rows


# --------------------------------------------------------------------------- through the CLI

@pytest.mark.parametrize("example", sorted(EXPECTED_OUTPUT))
def test_readme_documents_the_command_of_each_example(example: str) -> None:
    assert readme_command(example) in (EXAMPLES / "README.md").read_text()


@pytest.mark.parametrize("example", sorted(EXPECTED_OUTPUT))
def test_example_prints_its_output_from_the_cli(example: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(cli_args(example)) == 0
    out, err = capsys.readouterr()
    assert out == json.dumps(EXPECTED_OUTPUT[example], indent=2) + "\n"
    assert err == ""


def test_order_workflow_history_shows_the_payment_retry(
        capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert main([*cli_args("order_workflow"), "--history"]) == 0
    elapsed = time.monotonic() - started
    out, _ = capsys.readouterr()
    table, output = out.split("\n\n", 1)
    rows = history_rows(table)
    assert json.loads(output) == EXPECTED_OUTPUT["order_workflow"]
    assert rows.count(("TaskScheduled", "ChargePayment")) == 2
    assert rows.count(("TaskFailed", "ChargePayment")) == 1
    assert ("ChoiceStateEntered", "IsOrderValid") in rows
    assert rows[-1] == ("ExecutionSucceeded", "")
    # The real clock waits the retry's IntervalSeconds (1 s) before the second attempt.
    assert 1.0 <= elapsed < 5.0


def test_declined_order_compensates_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(cli_args("order_workflow", "input_declined.json")) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"FAILED: PaymentFailed: {DECLINED_CAUSE}\n"
    assert readme_command("order_workflow", "input_declined.json") in (
        EXAMPLES / "README.md").read_text()


def test_map_fanout_history_shows_every_iteration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*cli_args("map_fanout"), "--history"]) == 0
    rows = history_rows(capsys.readouterr().out.split("\n\n", 1)[0])
    assert rows.count(("MapIterationStarted", "ConvertOrders")) == 4
    assert rows.count(("MapIterationSucceeded", "ConvertOrders")) == 4
    assert rows.count(("LambdaFunctionSucceeded", "ConvertOrder")) == 4


def test_parallel_aggregation_history_shows_the_branches(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*cli_args("parallel_aggregation"), "--history"]) == 0
    rows = history_rows(capsys.readouterr().out.split("\n\n", 1)[0])
    states = {state for _, state in rows}
    assert {"CountSales", "SumRevenue", "AddShipping", "FindTopProduct"} <= states
    assert ("ParallelStateStarted", "BuildReport") in rows
    assert rows.count(("ParallelStateExited", "BuildReport")) == 1


# --------------------------------------------------------------------------- through the API

async def run_example(example: str, input_value: Any = None
                      ) -> tuple[Execution, list[dict[str, Any]]]:
    directory = EXAMPLES / example
    tasks = runpy.run_path(str(directory / "tasks.py"))["TASKS"]
    if input_value is None:
        input_value = json.loads((directory / "input.json").read_text())
    async with Runtime(clock="virtual") as runtime:
        for name, handler in tasks.items():
            runtime.register_task(name, handler)
        arn = await runtime.create_state_machine(
            example, (directory / "definition.asl.json").read_text())
        execution = await runtime.wait(await runtime.start_execution(arn, input_value))
        return execution, runtime.get_execution_history(execution.execution_arn)


#: Bare function ARNs record LambdaFunction* events, `lambda:invoke` records Task* events.
SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled")
FAILED = ("TaskFailed", "LambdaFunctionFailed")


def events_of(history: list[dict[str, Any]], event_types: str | tuple[str, ...]
              ) -> list[dict[str, Any]]:
    wanted = (event_types,) if isinstance(event_types, str) else event_types
    return [event for event in history if event["type"] in wanted]


def scheduled_function(event: dict[str, Any]) -> str:
    if event["type"] == "LambdaFunctionScheduled":
        return str(event["lambdaFunctionScheduledEventDetails"]["resource"]).rsplit(":", 1)[-1]
    details = event["taskScheduledEventDetails"]
    parameters = json.loads(details["parameters"])
    if details["resource"] == "invoke":
        return str(parameters["FunctionName"])
    return str(details["resource"]).rsplit(":", 1)[-1]


@pytest.mark.anyio
@pytest.mark.parametrize("example", sorted(EXPECTED_OUTPUT))
async def test_example_succeeds_on_the_virtual_clock(example: str) -> None:
    execution, _ = await run_example(example)
    assert execution.status == "SUCCEEDED"
    assert execution.output == EXPECTED_OUTPUT[example]


@pytest.mark.anyio
async def test_order_workflow_retries_the_charge_after_one_virtual_second() -> None:
    started = time.monotonic()
    execution, history = await run_example("order_workflow")
    assert time.monotonic() - started < 0.5
    charges = [e for e in events_of(history, SCHEDULED)
               if scheduled_function(e) == "charge_payment"]
    failures = events_of(history, FAILED)
    assert len(charges) == 2
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == ["PaymentGatewayTimeout"]
    # IntervalSeconds 1 on the first retry; BackoffRate only applies to later ones.
    gap = charges[1]["timestamp"] - failures[0]["timestamp"]
    assert gap.total_seconds() == pytest.approx(1.0)
    assert execution.stop_date is not None
    assert execution.stop_date - execution.start_date == pytest.approx(1.0)


@pytest.mark.anyio
async def test_order_workflow_declined_card_is_caught_not_retried() -> None:
    directory = EXAMPLES / "order_workflow"
    execution, history = await run_example(
        "order_workflow", json.loads((directory / "input_declined.json").read_text()))
    assert (execution.status, execution.error, execution.cause) == (
        "FAILED", "PaymentFailed", DECLINED_CAUSE)
    functions = [scheduled_function(e) for e in events_of(history, SCHEDULED)]
    assert functions == ["validate_order", "reserve_stock", "charge_payment", "release_stock"]
    release = next(e for e in events_of(history, "TaskStateEntered")
                   if e["stateEnteredEventDetails"]["name"] == "ReleaseStock")
    state_input = json.loads(release["stateEnteredEventDetails"]["input"])
    assert state_input["failure"] == {"Error": "PaymentDeclined",
                                      "Cause": "card 0000-declined was declined"}


@pytest.mark.anyio
async def test_order_workflow_rejects_an_order_without_items() -> None:
    execution, history = await run_example(
        "order_workflow", {"orderId": "A-0", "items": [], "payment": {"card": "4242-ok"}})
    assert (execution.status, execution.error) == ("FAILED", "OrderRejected")
    assert [scheduled_function(e) for e in events_of(history, SCHEDULED)] == [
        "validate_order"]


@pytest.mark.anyio
async def test_map_fanout_never_runs_more_than_max_concurrency_iterations() -> None:
    _, history = await run_example("map_fanout")
    in_flight = peak = 0
    for event in history:
        if event["type"] == "MapIterationStarted":
            in_flight += 1
            peak = max(peak, in_flight)
        elif event["type"] in ("MapIterationSucceeded", "MapIterationFailed"):
            in_flight -= 1
    assert peak == 2
    assert [e["mapIterationStartedEventDetails"]["index"]
            for e in events_of(history, "MapIterationStarted")] == [0, 1, 2, 3]


@pytest.mark.anyio
async def test_parallel_aggregation_calls_each_python_task_once() -> None:
    _, history = await run_example("parallel_aggregation")
    functions = sorted(scheduled_function(e) for e in events_of(history, SCHEDULED))
    assert functions == ["sum_revenue", "top_product"]
    assert len(events_of(history, "ParallelStateStarted")) == 1
