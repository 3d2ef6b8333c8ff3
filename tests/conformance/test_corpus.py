"""The AWS-recorded conformance corpus, run in-process.

Every case listed in must_pass.txt must pass (the list only ever grows); the others run as
xfails when they fail, and pass when they pass, so a newly passing case can be added to the list.
"""

from __future__ import annotations

import os

import pytest

from tests.conformance.runner import MUST_PASS, load_cases, run_case

CASES = list(load_cases())
with open(MUST_PASS) as handle:
    REQUIRED = {line.strip() for line in handle if line.strip() and not line.startswith("#")}

pytestmark = pytest.mark.skipif(not CASES, reason="../shared/conformance is not present")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_case(case: dict) -> None:  # type: ignore[type-arg]
    status, reason = await run_case(case)
    if case["id"] not in REQUIRED and status != "pass":
        pytest.xfail(f"not on the must-pass list yet: {reason}")
    assert status == "pass", reason


def test_must_pass_list_names_existing_cases() -> None:
    known = {c["id"] for c in CASES}
    assert REQUIRED <= known, sorted(REQUIRED - known)[:5]


def test_corpus_is_present() -> None:
    assert os.path.isdir(os.path.dirname(MUST_PASS))
