"""The AWS CLI end to end against `stepline serve --auth`: its SigV4 signatures verify, and
its output is what AWS's would be.

awscli pins botocore exactly (awscli 1.x.y requires botocore == 1.(x-2).y), so it cannot
share an environment with the botocore that aiobotocore pins; it is installed from PyPI into
a virtual environment of its own under the test's temporary directory.
"""

from __future__ import annotations

import json
import subprocess
import time
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_auth import running_server

ACCOUNT = "333333333333"
KEY_ID, SECRET = "AKIDCLI", "cli-secret"
DEFINITION = json.dumps({"StartAt": "Greet", "States": {
    "Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hi {}', $.who)"},
              "End": True}}})


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `aws` executable of a fresh virtual environment."""
    home = tmp_path_factory.mktemp("awscli")
    venv.EnvBuilder(with_pip=True).create(home / "venv")
    python = home / "venv" / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "awscli"], capture_output=True, text=True, timeout=600, check=False)
    if installed.returncode != 0:
        pytest.skip("awscli could not be installed from PyPI here: "
                    + (installed.stderr.strip().splitlines() or ["no output"])[-1])
    return home / "venv" / "bin" / "aws"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = tmp_path_factory.mktemp("cli-auth") / "keys.json"
    keys.write_text(json.dumps({KEY_ID: {"secret": SECRET, "account": ACCOUNT}}))
    with running_server("--auth", str(keys)) as url:
        yield url


def _aws(aws: Path, endpoint: str, *arguments: str, secret: str = SECRET
         ) -> subprocess.CompletedProcess[str]:
    nowhere = str(aws.parent / "no-such-file")
    environment = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": secret,
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": nowhere,
                   "AWS_SHARED_CREDENTIALS_FILE": nowhere, "AWS_EC2_METADATA_DISABLED": "true",
                   "PATH": f"{aws.parent}:/usr/bin:/bin", "HOME": str(aws.parent)}
    return subprocess.run(
        [str(aws), "stepfunctions", *arguments, "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True, text=True, timeout=60, env=environment, check=False)


def _json(finished: subprocess.CompletedProcess[str]) -> Any:
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def test_create_start_and_describe_with_the_aws_cli(aws: Path, endpoint: str) -> None:
    created = _json(_aws(aws, endpoint, "create-state-machine", "--name", "cli-hello",
                         "--definition", DEFINITION, "--role-arn",
                         f"arn:aws:iam::{ACCOUNT}:role/cli"))
    machine = created["stateMachineArn"]
    assert machine == f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:cli-hello"
    # AWS CLI v1 prints timestamps as they came over the wire: epoch seconds.
    assert isinstance(created["creationDate"], float)

    started = _json(_aws(aws, endpoint, "start-execution", "--state-machine-arn", machine,
                         "--name", "first", "--input", '{"who": "cli"}'))
    assert started["executionArn"] == (
        f"arn:aws:states:us-east-1:{ACCOUNT}:execution:cli-hello:first")

    deadline = time.monotonic() + 10
    while True:
        described = _json(_aws(aws, endpoint, "describe-execution", "--execution-arn",
                               started["executionArn"]))
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED"
    assert described["stateMachineArn"] == machine
    assert described["name"] == "first"
    assert json.loads(described["input"]) == {"who": "cli"}
    assert json.loads(described["output"]) == {"greeting": "hi cli"}
    assert described["inputDetails"] == described["outputDetails"] == {"included": True}


def test_the_aws_cli_reports_a_wrong_secret_as_aws_does(aws: Path, endpoint: str) -> None:
    refused = _aws(aws, endpoint, "list-state-machines", secret="not-the-secret")
    assert refused.returncode != 0
    assert "An error occurred (InvalidSignatureException) when calling the ListStateMachines " \
        "operation: The request signature we calculated does not match" in refused.stderr

