"""The shared conformance harness over HTTP: every must-pass case must pass through the API
as it does in-process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.api.conftest import ROOT

HARNESS = ROOT.parent / "shared" / "conformance" / "harness.py"
MUST_PASS = ROOT / "tests" / "conformance" / "must_pass.txt"


@pytest.mark.skipif(not HARNESS.exists(), reason="../shared/conformance is not present")
def test_must_pass_cases_pass_over_http(endpoint: str) -> None:
    finished = subprocess.run(
        [sys.executable, str(HARNESS), "--endpoint", endpoint,
         "--cases", str(HARNESS.parent / "cases"), "--must-pass", str(MUST_PASS),
         "--workers", "4"],
        capture_output=True, text=True, timeout=600, check=False)
    summary = finished.stdout.strip().splitlines()[-1:]
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert summary and summary[0].startswith("conformance:"), finished.stdout[-500:]
