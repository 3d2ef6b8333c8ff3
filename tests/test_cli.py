"""The `stepline` command: run, validate, bad input, history table, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runtime.cli import main

REPO = Path(__file__).resolve().parent.parent

PASS_MACHINE = {
    "StartAt": "Greet",
    "States": {
        "Greet": {
            "Type": "Pass",
            "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"},
            "End": True,
        },
    },
}

BROKEN_GRAPH = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}


def write_json(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value))
    return str(path)


def write_text(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.fixture
def pass_machine(tmp_path: Path) -> str:
    return write_json(tmp_path / "greet.asl.json", PASS_MACHINE)


# --------------------------------------------------------------------------- validate

def test_validate_prints_ok_for_a_valid_definition(
        pass_machine: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", pass_machine]) == 0
    assert capsys.readouterr().out == "OK\n"


def test_validate_prints_one_line_per_error_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", write_json(tmp_path / "bad.json", BROKEN_GRAPH)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "ERROR MISSING_TRANSITION_TARGET /States/A/Next: Missing 'Next' target: B",
        "ERROR MISSING_END_STATE -: Workflow has no terminal state",
    ]


def test_validate_reports_json_syntax_on_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", write_text(tmp_path / "bad.json", '{\n"StartAt": x}')]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line == ('ERROR INVALID_JSON_DESCRIPTION [Source: (String)"{\\n"StartAt": x}"; '
                    "line: 2, column: 13]: Unrecognized token 'x': was expecting (JSON String, "
                    "Number, Array, Object or token 'null', 'true' or 'false')")


def test_validate_warnings_alone_exit_0(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"who": "$.name"}, "End": True}}}
    assert main(["validate", write_json(tmp_path / "warn.json", definition)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("WARNING NO_DOLLAR /States/P/Parameters: ")


# --------------------------------------------------------------------------- run

def test_run_prints_the_output_json(pass_machine: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", pass_machine, "--input", '{"who": "world"}']) == 0
    out, err = capsys.readouterr()
    assert out == '{\n  "greeting": "hello world"\n}\n'
    assert err == ""


def test_run_reads_input_from_a_file(tmp_path: Path, pass_machine: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    input_file = write_json(tmp_path / "input.json", {"who": "file"})
    assert main(["run", pass_machine, "--input", f"@{input_file}"]) == 0
    assert json.loads(capsys.readouterr().out) == {"greeting": "hello file"}


def test_run_without_input_starts_with_an_empty_object(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    echo = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    assert main(["run", write_json(tmp_path / "echo.json", echo)]) == 0
    assert capsys.readouterr().out == "{}\n"


def test_run_history_prints_the_event_table_before_the_output(
        pass_machine: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", pass_machine, "--input", '{"who": "x"}', "--history"]) == 0
    table, output = capsys.readouterr().out.split("\n\n")
    assert table.splitlines() == [
        "ID  TYPE                STATE  DETAIL",
        ' 1  ExecutionStarted           input={"who":"x"}',
        ' 2  PassStateEntered    Greet  input={"who":"x"}',
        ' 3  PassStateExited     Greet  output={"greeting":"hello x"}',
        ' 4  ExecutionSucceeded         output={"greeting":"hello x"}',
    ]
    assert output == '{\n  "greeting": "hello x"\n}\n'


def test_run_history_names_the_state_of_task_events_and_shortens_details(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:shout"
    definition = {"StartAt": "Shout", "States": {
        "Shout": {"Type": "Task", "Resource": function_arn, "End": True}}}
    tasks = write_text(tmp_path / "tasks.py",
                       "def shout(text):\n    return text.upper()\n\nTASKS = {'shout': shout}\n")
    long_text = "a" * 200
    assert main(["run", write_json(tmp_path / "shout.json", definition), "--tasks", tasks,
                 "--input", json.dumps(long_text), "--history"]) == 0
    table, output = capsys.readouterr().out.split("\n\n")
    rows = [line.split(maxsplit=3) for line in table.splitlines()[1:]]
    # A bare function ARN: AWS records LambdaFunction* events.
    assert [row[1:3] for row in rows[1:-1]] == [
        ["TaskStateEntered", "Shout"], ["LambdaFunctionScheduled", "Shout"],
        ["LambdaFunctionStarted", "Shout"], ["LambdaFunctionSucceeded", "Shout"],
        ["TaskStateExited", "Shout"]]
    assert rows[2][3].startswith("lambda:shout input=")
    assert all(len(row[-1]) <= 72 and "\n" not in row[-1] for row in rows)
    assert rows[4][3].endswith("...")
    assert json.loads(output) == long_text.upper()


def test_run_virtual_clock_skips_waits(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600,
                                                     "End": True}}}
    started = time.monotonic()
    assert main(["run", write_json(tmp_path / "wait.json", definition), "--virtual-clock",
                 "--input", '{"done": true}']) == 0
    assert time.monotonic() - started < 2
    assert json.loads(capsys.readouterr().out) == {"done": True}


def test_run_tasks_file_serves_task_states_with_the_call_context(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "where", "Payload.$": "$"},
              "OutputPath": "$.Payload", "End": True}}}
    tasks = write_text(tmp_path / "tasks.py", (
        "async def where(value, call):\n"
        "    return {'state': call.state_name, 'value': value}\n\n"
        "TASKS = {'where': where}\n"))
    assert main(["run", write_json(tmp_path / "t.json", definition), "--tasks", tasks,
                 "--input", "7"]) == 0
    assert json.loads(capsys.readouterr().out) == {"state": "T", "value": 7}


# --------------------------------------------------------------------------- failed executions

def test_failed_execution_prints_status_error_and_cause_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    definition = {"StartAt": "F", "States": {
        "F": {"Type": "Fail", "Error": "Broken", "Cause": "it broke\non two lines"}}}
    assert main(["run", write_json(tmp_path / "fail.json", definition)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "FAILED: Broken: it broke\\non two lines\n"


def test_failing_python_task_names_the_exception(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "boom",
                                                     "End": True}}}
    tasks = write_text(tmp_path / "tasks.py", (
        "def boom(value):\n    raise ValueError('no good')\n\nTASKS = {'boom': boom}\n"))
    assert main(["run", write_json(tmp_path / "t.json", definition), "--tasks", tasks]) == 1
    assert capsys.readouterr().err == "FAILED: ValueError: no good\n"


def test_timed_out_execution_exits_1(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    definition = {"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    assert main(["run", write_json(tmp_path / "slow.json", definition),
                 "--virtual-clock"]) == 1
    assert capsys.readouterr().err.startswith("TIMED_OUT: States.Timeout")


def test_failed_execution_with_history_still_prints_the_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}
    assert main(["run", write_json(tmp_path / "fail.json", definition), "--history"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[-2].split()[1] == "ExecutionFailed"
    assert err == "FAILED: E\n"


# --------------------------------------------------------------------------- bad input

def bad_input_cases(tmp_path: Path, pass_machine: str) -> dict[str, tuple[list[str], str]]:
    """name -> (argv, the error line's prefix)."""
    no_tasks_table = write_text(tmp_path / "no_table.py", "def f(x):\n    return x\n")
    raising = write_text(tmp_path / "raising.py", "raise RuntimeError('import-time bug')\n")
    not_callable = write_text(tmp_path / "not_callable.py", "TASKS = {'f': 42}\n")
    syntax = write_text(tmp_path / "syntax.py", "def f(:\n")
    not_json = write_text(tmp_path / "not_json.json", "{oops")
    not_asl = write_json(tmp_path / "not_asl.json", BROKEN_GRAPH)
    bad_input = write_text(tmp_path / "bad_input.json", "[1,")
    run = ["run", pass_machine]
    return {
        "missing definition": (["run", str(tmp_path / "nope.json")],
                               "stepline: InvalidDefinition: Cannot read definition file"),
        "missing definition to validate": (["validate", str(tmp_path / "nope.json")],
                                           "stepline: InvalidDefinition: Cannot read"),
        "definition not JSON": (["run", not_json], "stepline: InvalidDefinition: Invalid State "
                                "Machine Definition: 'INVALID_JSON_DESCRIPTION: "),
        "definition not valid ASL": (["run", not_asl], "stepline: InvalidDefinition: Invalid "
                                     "State Machine Definition: 'MISSING_TRANSITION_TARGET: "),
        "input not JSON": ([*run, "--input", "{bad"],
                           "stepline: InvalidExecutionInput: "),
        "input file not JSON": ([*run, "--input", f"@{bad_input}"],
                                "stepline: InvalidExecutionInput: "),
        "missing input file": ([*run, "--input", f"@{tmp_path / 'nope.json'}"],
                               "stepline: InvalidExecutionInput: Cannot read input file"),
        "missing tasks file": ([*run, "--tasks", str(tmp_path / "nope.py")],
                               "stepline: ValidationException: Tasks file"),
        "tasks file without TASKS": ([*run, "--tasks", no_tasks_table],
                                     "stepline: ValidationException: Tasks file"),
        "tasks file raising": ([*run, "--tasks", raising],
                               "stepline: ValidationException: Tasks file"),
        "tasks file with syntax error": ([*run, "--tasks", syntax],
                                         "stepline: ValidationException: Tasks file"),
        "TASKS value not callable": ([*run, "--tasks", not_callable],
                                     "stepline: ValidationException: Tasks file"),
        "invalid execution name": ([*run, "--name", "a/b"],
                                   "stepline: InvalidName: Invalid Name: 'a/b'"),
    }


CASE_NAMES = ["missing definition", "missing definition to validate", "definition not JSON",
              "definition not valid ASL", "input not JSON", "input file not JSON",
              "missing input file", "missing tasks file", "tasks file without TASKS",
              "tasks file raising", "tasks file with syntax error", "TASKS value not callable",
              "invalid execution name"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_prints_one_error_line_and_exits_2(
        case: str, tmp_path: Path, pass_machine: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv, prefix = bad_input_cases(tmp_path, pass_machine)[case]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(prefix)
    assert err.endswith("\n") and err.count("\n") == 1
    assert "Traceback" not in err


def test_every_bad_input_case_is_tested(tmp_path: Path, pass_machine: str) -> None:
    assert sorted(bad_input_cases(tmp_path, pass_machine)) == sorted(CASE_NAMES)


def test_invalid_definition_message_is_the_aws_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # CreateStateMachine's wording: "Invalid State Machine Definition: 'CODE: message at
    # location, ...'", a fault without a location reading "at null".
    assert main(["run", write_json(tmp_path / "bad.json", BROKEN_GRAPH)]) == 2
    assert capsys.readouterr().err == (
        "stepline: InvalidDefinition: Invalid State Machine Definition: "
        "'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next, "
        "MISSING_END_STATE: Workflow has no terminal state at null'\n")


def test_usage_errors_return_2_instead_of_exiting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    assert "the following arguments are required: definition" in capsys.readouterr().err


def test_help_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    assert "--virtual-clock" in capsys.readouterr().out


# --------------------------------------------------------------------------- entry point

def test_python_dash_m_runtime_runs_a_definition(pass_machine: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "runtime", "run", pass_machine, "--input", '{"who": "shell"}'],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert (completed.returncode, completed.stderr) == (0, "")
    assert json.loads(completed.stdout) == {"greeting": "hello shell"}


def test_test_state_runs_one_state_with_a_mock(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "f", "Payload.$": "$"},
             "ResultSelector": {"v.$": "$.Payload.v"}, "End": True}
    mock = json.dumps({"result": json.dumps({"Payload": {"v": 7}, "StatusCode": 200})})
    assert main(["test-state", write_json(tmp_path / "state.json", state), "--input", '{"a": 1}',
                 "--mock", mock, "--inspection-level", "DEBUG"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["status"], json.loads(result["output"])) == ("SUCCEEDED", {"v": 7})
    assert json.loads(result["inspectionData"]["afterParameters"]) == {
        "FunctionName": "f", "Payload": {"a": 1}}
