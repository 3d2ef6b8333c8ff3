"""The AWS-recorded conformance corpus, run in-process.

Every case listed in must_pass.txt must pass, and every case in history_must_match.txt must
also record the event types AWS recorded (both lists only ever grow); the others run as
xfails when they fail, and pass when they pass, so a newly passing case can be added to the list.
"""

from __future__ import annotations

import os

import pytest

from tests.conformance.runner import HISTORY_MUST_MATCH, MUST_PASS, load_cases, run_case

CASES = list(load_cases())


def _read_list(path: str) -> set[str]:
    with open(path) as handle:
        return {line.strip() for line in handle if line.strip() and not line.startswith("#")}


REQUIRED = _read_list(MUST_PASS)
HISTORY_REQUIRED = _read_list(HISTORY_MUST_MATCH)

pytestmark = pytest.mark.skipif(not CASES, reason="../shared/conformance is not present")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_case(case: dict) -> None:  # type: ignore[type-arg]
    history: list[str] = []
    status, reason = await run_case(case, history)
    if case["id"] not in REQUIRED and status != "pass":
        pytest.xfail(f"not on the must-pass list yet: {reason}")
    assert status == "pass", reason
    if case["id"] in HISTORY_REQUIRED:
        assert history == [""], history


def test_must_pass_lists_name_existing_cases() -> None:
    known = {c["id"] for c in CASES}
    assert known >= REQUIRED, sorted(REQUIRED - known)[:5]
    assert HISTORY_REQUIRED <= REQUIRED, sorted(HISTORY_REQUIRED - REQUIRED)[:5]


def test_corpus_is_present() -> None:
    assert os.path.isdir(os.path.dirname(MUST_PASS))
