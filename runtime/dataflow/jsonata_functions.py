"""The functions Step Functions adds to JSONata, and the ones it changes or removes.

AWS developer guide, "Transforming data with JSONata in Step Functions", functions provided by
Step Functions (each replaces an intrinsic of JSONPath states):

- `$partition(array, chunkSize)` (States.ArrayPartition), `$range(start, end, step)`
  (States.ArrayRange, end included), `$hash(data, algorithm)` (States.Hash: MD5, SHA-1,
  SHA-256, SHA-384, SHA-512), `$random([seed])` (States.MathRandom: the same seed always gives
  the same number), `$uuid()` (States.UUID, version 4), `$parse(jsonString)` (replaces `$eval`,
  which Step Functions does not support).

Determinism: `$random()`/`$uuid()` draw from `scope.random()`, and `$now()`/`$millis()` return
the state's entered time (`$states.context.State.EnteredTime`), never the wall clock, so a
replay evaluates every expression to the same value.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from jsonata import Jsonata
from jsonata.functions import Functions
from jsonata.utils import Utils

from runtime.dataflow.scope import Scope

__all__ = ["AWS_FRAME", "SCOPED_FUNCTIONS", "FunctionError", "ScopedFunction"]


class FunctionError(Exception):
    """A failure inside one of AWS's added functions (they have no JSONata error code)."""


class ScopedFunction(Jsonata.JFunction):  # type: ignore[misc]  # no type hints upstream
    """One of AWS's functions that reads the scope ($random, $uuid, $now, $millis), bound to
    the scope of one evaluation."""

    def __init__(self, template: Jsonata.JFunction, scope: Scope) -> None:
        self.function = template.function
        self.signature = template.signature
        self.function_name = template.function_name
        self._implementation = template.function.function
        self._scope = scope

    def call(self, input: Any, args: Any) -> Any:
        return self._implementation(self._scope, *(args or ()))


def _define(signature: str, implementation: Callable[..., Any]) -> Jsonata.JFunction:
    return Jsonata.JFunction(Jsonata.JLambda(implementation), signature)


def _partition(array: list[Any], size: float) -> list[list[Any]]:
    # AWS: integer parameters of its functions are rounded down.
    chunk = math.floor(size)
    if chunk <= 0:
        raise FunctionError(f"The chunk size must be a positive integer, but was {size}")
    return [list(array[start:start + chunk]) for start in range(0, len(array), chunk)]


_RANGE_LIMIT: Final = 10_000_000  # JSONata's own limit for the `[a..b]` operator (D2014)


def _range(start: float, end: float, step: float) -> list[int]:
    first, last, delta = math.floor(start), math.floor(end), math.floor(step)
    if delta == 0:
        raise FunctionError("The step of $range must not be 0")
    values = range(first, last + (1 if delta > 0 else -1), delta)
    if len(values) > _RANGE_LIMIT:
        raise FunctionError(f"$range would generate more than {_RANGE_LIMIT} values")
    return list(values)


_HASH_ALGORITHMS: Final[Mapping[str, Callable[[bytes], Any]]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


def _hash(data: str, algorithm: str) -> str:
    digest = _HASH_ALGORITHMS.get(algorithm)
    if digest is None:
        supported = ", ".join(_HASH_ALGORITHMS)
        raise FunctionError(
            f"The hash algorithm '{algorithm}' is not supported; use one of {supported}"
        )
    return str(digest(data.encode()).hexdigest())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse(text: str) -> Any:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise FunctionError(f"Unable to parse '{text}' as JSON: {error}") from None
    return Utils.NULL_VALUE if value is None else value


def _random(scope: Scope, seed: float | None = None) -> float:
    if seed is None:
        return scope.random().random()
    return random.Random(math.floor(seed)).random()


def _uuid(scope: Scope) -> str:
    return str(uuid.UUID(int=scope.random().getrandbits(128), version=4))


def _entered_millis(scope: Scope) -> int:
    context = scope.context
    state = context.get("State") if isinstance(context, dict) else None
    entered = state.get("EnteredTime") if isinstance(state, dict) else None
    if not isinstance(entered, str):
        raise FunctionError("The state's entered time is not available")
    return int(datetime.fromisoformat(entered).timestamp() * 1000)


def _now(scope: Scope, picture: str | None = None, timezone: str | None = None) -> str | None:
    formatted: str | None = Functions.datetime_from_millis(_entered_millis(scope), picture,
                                                           timezone)
    return formatted


SCOPED_FUNCTIONS: Final[Mapping[str, Jsonata.JFunction]] = {
    "random": _define("<n?:n>", _random),
    "uuid": _define("<:s>", _uuid),
    "now": _define("<s?s?:s>", _now),
    "millis": _define("<:n>", _entered_millis),
}
"""Functions bound per evaluation (see `ScopedFunction`), by name without the `$`."""


def _build_aws_frame() -> Jsonata.Frame:
    frame = Jsonata.Frame(Jsonata.static_frame)
    frame.bind("partition", _define("<an:a>", _partition))
    frame.bind("range", _define("<nnn:a<n>>", _range))
    frame.bind("hash", _define("<ss:s>", _hash))
    frame.bind("parse", _define("<s:j>", _parse))
    # AWS supports every JSONata 2.0.6 function except $eval ($parse replaces it): calling it
    # fails as calling any undefined function does (T1006).
    frame.bind("eval", None)
    for name, function in SCOPED_FUNCTIONS.items():
        if function.signature is not None:
            function.signature.set_function_name(name)
    return frame


AWS_FRAME: Final = _build_aws_frame()
"""JSONata's built-in functions with AWS's additions and removals: the parent frame of every
evaluation."""
