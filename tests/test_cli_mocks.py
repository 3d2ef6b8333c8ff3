"""A recorded run becomes a local test: `stepline mocks from-history` writes a mock file, and
`stepline run --mocks FILE --test-case NAME` replays the run's tasks without their handlers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "order_workflow"


def test_a_recorded_run_replays_from_its_mock_file_without_task_handlers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    common = [str(EXAMPLE / "definition.asl.json"), "--input", f"@{EXAMPLE / 'input.json'}"]
    assert main(["run", *common, "--tasks", str(EXAMPLE / "tasks.py"), "--store", str(store),
                 "--name", "recorded", "--virtual-clock"]) == 0
    recorded = json.loads(capsys.readouterr().out)

    assert main(["mocks", "from-history", str(store), "recorded"]) == 0
    mock_file = tmp_path / "mocks.json"
    mock_file.write_text(capsys.readouterr().out)
    config = json.loads(mock_file.read_text())
    assert set(config) == {"StateMachines", "MockedResponses"}

    assert main(["run", *common, "--mocks", str(mock_file), "--test-case", "FromHistory",
                 "--virtual-clock"]) == 0
    assert json.loads(capsys.readouterr().out) == recorded


def test_an_unknown_test_case_is_one_error_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mock_file = tmp_path / "mocks.json"
    mock_file.write_text(json.dumps({"StateMachines": {}, "MockedResponses": {}}))
    assert main(["run", str(EXAMPLE / "definition.asl.json"), "--mocks", str(mock_file),
                 "--test-case", "Nope", "--virtual-clock"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stepline: ValidationException: ") and "Traceback" not in err
