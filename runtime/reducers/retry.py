"""Matching errors against Retry/Catch clauses, and retry backoff. Pure."""

from __future__ import annotations

import random
from collections.abc import Sequence

from runtime import errors
from runtime.model.errors import Retrier


def matches(error_equals: Sequence[str], error: str) -> bool:
    """AWS: States.ALL matches every error but States.Runtime, which is never retried or
    caught; States.TaskFailed matches every error but States.Timeout.

    The error-handling guide also calls States.DataLimitExceeded terminal, but AWS was
    recorded catching a task result's DataLimitExceeded with States.ALL (conformance:
    error_handling/test_states_errors::...data_limit_exceeded_on_large_utf8_response)."""
    for name in error_equals:
        if name == error:
            return True
        if name == errors.ALL and error != errors.RUNTIME:
            return True
        if (name == errors.TASK_FAILED and error not in (errors.TIMEOUT, errors.RUNTIME)
                and not error.startswith("States.")):
            return True
    return False


def find_retrier(retriers: Sequence[Retrier], error: str) -> int | None:
    for index, retrier in enumerate(retriers):
        if matches(retrier.error_equals, error):
            return index
    return None


def backoff(retrier: Retrier, attempt: int, rng: random.Random) -> float:
    """Seconds before retry number `attempt + 1` (`attempt` retries already made)."""
    delay = retrier.interval_seconds * retrier.backoff_rate**attempt
    if retrier.max_delay_seconds is not None:
        delay = min(delay, retrier.max_delay_seconds)
    if retrier.jitter_strategy == "FULL":
        delay = rng.uniform(0, delay)
    return float(delay)
