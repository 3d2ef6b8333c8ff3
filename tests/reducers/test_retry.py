"""Retry/Catch error matching and retry backoff (runtime/reducers/retry.py)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from runtime import errors
from runtime.model.errors import Retrier
from runtime.reducers.retry import backoff, find_retrier, matches


def retrier(*names: str, **fields: Any) -> Retrier:
    return Retrier(error_equals=names, **fields)


@pytest.mark.parametrize("error", ["Custom", errors.TASK_FAILED, errors.TIMEOUT,
                                   errors.BRANCH_FAILED, errors.NO_CHOICE_MATCHED,
                                   errors.HEARTBEAT_TIMEOUT])
def test_states_all_matches_any_catchable_error(error: str) -> None:
    assert matches([errors.ALL], error)


def test_states_all_does_not_match_states_runtime() -> None:
    assert not matches([errors.ALL], errors.RUNTIME)


def test_states_all_matches_data_limit_exceeded_as_aws_was_recorded_doing() -> None:
    # conformance: error_handling/test_states_errors::
    #   test_service_task_lambada_catch_state_all_data_limit_exceeded_on_large_utf8_response
    assert matches([errors.ALL], errors.DATA_LIMIT_EXCEEDED)


def test_states_task_failed_matches_task_errors_but_not_timeout() -> None:
    assert matches([errors.TASK_FAILED], "Lambda.ServiceException")
    assert matches([errors.TASK_FAILED], errors.TASK_FAILED)
    assert not matches([errors.TASK_FAILED], errors.TIMEOUT)
    assert not matches([errors.TASK_FAILED], errors.RUNTIME)


def test_exact_names_match_only_themselves_and_are_case_sensitive() -> None:
    assert matches(["A", "B"], "B")
    assert not matches(["A"], "a")
    assert not matches(["A"], "AB")
    assert not matches([], "A")
    assert matches([errors.TIMEOUT], errors.TIMEOUT)


def test_find_retrier_picks_the_first_matching_retrier() -> None:
    retriers = [retrier("A"), retrier(errors.ALL), retrier("B")]
    assert find_retrier(retriers, "A") == 0
    assert find_retrier(retriers, "B") == 1
    assert find_retrier([retrier("A")], "B") is None
    assert find_retrier([], "A") is None


def test_retrier_defaults_are_aws_defaults() -> None:
    plain = retrier(errors.ALL)
    assert (plain.interval_seconds, plain.max_attempts, plain.backoff_rate) == (1, 3, 2.0)
    assert plain.max_delay_seconds is None and plain.jitter_strategy == "NONE"


def test_backoff_multiplies_the_interval_by_the_rate_per_attempt() -> None:
    rng = random.Random(0)
    spec = retrier(errors.ALL, interval_seconds=2, backoff_rate=3.0)
    assert [backoff(spec, attempt, rng) for attempt in range(4)] == [2.0, 6.0, 18.0, 54.0]


def test_backoff_rate_one_keeps_the_interval() -> None:
    spec = retrier(errors.ALL, interval_seconds=5, backoff_rate=1.0)
    assert {backoff(spec, attempt, random.Random(0)) for attempt in range(5)} == {5.0}


def test_max_delay_seconds_caps_the_interval() -> None:
    spec = retrier(errors.ALL, interval_seconds=3, backoff_rate=2.5, max_delay_seconds=10)
    assert [backoff(spec, attempt, random.Random(0)) for attempt in range(4)] == [
        3.0, 7.5, 10.0, 10.0]


def test_full_jitter_draws_within_the_capped_interval_from_the_given_random() -> None:
    spec = retrier(errors.ALL, interval_seconds=4, backoff_rate=2.0, max_delay_seconds=10,
                   jitter_strategy="FULL")
    first = [backoff(spec, attempt, random.Random(42)) for attempt in range(5)]
    again = [backoff(spec, attempt, random.Random(42)) for attempt in range(5)]
    assert first == again  # the seed decides: replays wait exactly as long
    caps = [4.0, 8.0, 10.0, 10.0, 10.0]
    assert all(0.0 <= delay <= cap for delay, cap in zip(first, caps, strict=True))
    assert first == [random.Random(42).uniform(0, cap) for cap in caps]
    assert backoff(spec, 0, random.Random(7)) != backoff(spec, 0, random.Random(8))
