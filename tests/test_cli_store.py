"""The CLI over a durable file store: run --store, history, resume, replay, inspect, fork."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main

DEFINITION = {"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Result": {"x": 1}, "Next": "W"},
    "W": {"Type": "Wait", "Seconds": 5, "Next": "B"},
    "B": {"Type": "Pass", "Parameters": {"y.$": "States.MathAdd($.x, 1)"}, "End": True}}}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    definition = tmp_path / "flow.asl.json"
    definition.write_text(json.dumps(DEFINITION))
    return definition, tmp_path / "store"


def test_a_stored_run_can_be_listed_replayed_inspected_and_forked(
        files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    definition, store = files
    assert main(["run", str(definition), "--store", str(store), "--name", "one",
                 "--virtual-clock"]) == 0
    assert json.loads(capsys.readouterr().out) == {"y": 2}

    assert main(["history", str(store), "one"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["ID", "TYPE", "STATE", "DETAIL"]
    assert [line.split()[1] for line in table[1:]][-1] == "ExecutionSucceeded"

    assert main(["replay", str(store), "one"]) == 0
    assert "matches" in capsys.readouterr().out

    changed = definition.with_name("changed.asl.json")
    changed.write_text(json.dumps(DEFINITION).replace('"x": 1', '"x": 5'))
    assert main(["replay", str(store), "one", "--definition", str(changed)]) == 1
    assert "history diverges at event #3 (PassStateExited)" in capsys.readouterr().out

    assert main(["inspect", str(store), "one", "--at", "4"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["frames"][""]["state"] == "W" and view["frames"][""]["input"] == {"x": 1}

    assert main(["fork", str(store), "one", "--at", "4", "--input", '{"x": 41}',
                 "--name", "two"]) == 0
    assert json.loads(capsys.readouterr().out) == {"y": 42}

    assert main(["resume", str(store)]) == 0
    assert sorted(capsys.readouterr().out.split()) == ["SUCCEEDED", "SUCCEEDED", "one", "two"]


@pytest.mark.parametrize("argv", [
    ["history", "{store}", "nobody"],
    ["inspect", "{store}", "one", "--at", "99"],
    ["history", "{missing}", "one"],
])
def test_store_commands_report_bad_input_in_one_line(
        files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    definition, store = files
    assert main(["run", str(definition), "--store", str(store), "--name", "one",
                 "--virtual-clock"]) == 0
    capsys.readouterr()
    args = [a.format(store=store, missing=store.parent / "missing") for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("stepline: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
