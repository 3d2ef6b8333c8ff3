"""Retry and Catch clauses of Task, Parallel and Map states."""

from __future__ import annotations

from typing import Any, Literal

from runtime.model._base import AslStruct


class Retrier(AslStruct, frozen=True):
    #: Error names this retrier handles (`States.ALL` matches any but States.Runtime).
    error_equals: tuple[str, ...]
    #: Seconds before the first retry.
    interval_seconds: int = 1
    #: Retries at most; 0 means never retry.
    max_attempts: int = 3
    #: Multiplier of the interval after each attempt.
    backoff_rate: float = 2.0
    #: Upper bound of the interval.
    max_delay_seconds: int | None = None
    #: FULL draws a random delay in [0, interval]; NONE keeps the computed interval.
    jitter_strategy: Literal["FULL", "NONE"] = "NONE"
    comment: str | None = None


class Catcher(AslStruct, frozen=True):
    #: Error names this catcher handles.
    error_equals: tuple[str, ...]
    #: State to transition to.
    next: str
    #: Where the error output goes in the state input (JSONPath states); default `$`.
    result_path: str | None = "$"
    #: JSONata: the state output after the catch.
    output: Any = None
    #: Variables to assign when this catcher matches.
    assign: dict[str, Any] | None = None
    comment: str | None = None
