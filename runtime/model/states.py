"""The eight ASL state types as frozen structs, tagged on `Type`.

Field comments quote what the Amazon States Language specification says each field means.
Fields a query language forbids are rejected by `validate.py`, so here every field is optional.
"""

from __future__ import annotations

from typing import Any, Literal

from runtime.model._base import AslStruct
from runtime.model.errors import Catcher, Retrier

QueryLanguage = Literal["JSONPath", "JSONata"]

# A path field absent from the definition means `$`; an explicit null is kept as None.
_ROOT = "$"


class _Common(AslStruct, frozen=True, tag_field="Type"):
    comment: str | None = None
    #: Overrides the machine's query language for this state.
    query_language: QueryLanguage | None = None
    #: Name of the next state; absent on terminal states.
    next: str | None = None
    #: True when this state ends its (sub)machine.
    end: bool = False
    #: JSONata: the state output (replaces InputPath/ResultPath/OutputPath).
    output: Any = None
    #: Variables assigned when the state completes.
    assign: dict[str, Any] | None = None


class _Filtered(_Common, frozen=True):
    #: JSONPath selecting the state's effective input; null means `{}`.
    input_path: str | None = _ROOT
    #: JSONPath selecting the state's output from the combined value; null means `{}`.
    output_path: str | None = _ROOT


class Pass(_Filtered, frozen=True, tag="Pass"):
    #: Fixed output, replacing the (filtered) input.
    result: Any = None
    has_result: bool = False
    #: Where the result goes in the input; null discards it.
    result_path: str | None = _ROOT
    #: Payload template applied to the effective input.
    parameters: Any = None


class Task(_Filtered, frozen=True, tag="Task"):
    #: ARN of the work to perform (a service integration, activity or registered callable).
    resource: str = ""
    parameters: Any = None
    #: JSONata: the request arguments.
    arguments: Any = None
    credentials: Any = None
    result_path: str | None = _ROOT
    #: Payload template applied to the raw task result.
    result_selector: Any = None
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()
    #: Maximum seconds the task may run (int, or a JSONata string).
    timeout_seconds: int | str | None = None
    timeout_seconds_path: str | None = None
    #: Maximum seconds between heartbeats.
    heartbeat_seconds: int | str | None = None
    heartbeat_seconds_path: str | None = None


class Choice(_Filtered, frozen=True, tag="Choice"):
    #: Choice rules, evaluated in order; the first match selects `Next`.
    choices: tuple[dict[str, Any], ...] = ()
    #: State to transition to when no rule matches.
    default: str | None = None


class Wait(_Filtered, frozen=True, tag="Wait"):
    seconds: int | str | None = None
    timestamp: str | None = None
    seconds_path: str | None = None
    timestamp_path: str | None = None


class Succeed(_Filtered, frozen=True, tag="Succeed"):
    pass


class Fail(_Common, frozen=True, tag="Fail"):
    error: str | None = None
    error_path: str | None = None
    cause: str | None = None
    cause_path: str | None = None


class Machine(AslStruct, frozen=True):
    """A (sub)machine: the top level, a Parallel branch or a Map item processor."""

    start_at: str
    states: dict[str, State]
    comment: str | None = None
    query_language: QueryLanguage | None = None
    #: Execution-level timeout (top level only).
    timeout_seconds: int | None = None
    version: str | None = None
    #: Map only: {"Mode": "INLINE" | "DISTRIBUTED", "ExecutionType": ...}.
    processor_config: dict[str, Any] | None = None


class Parallel(_Filtered, frozen=True, tag="Parallel"):
    #: Sub-machines run concurrently on the same effective input.
    branches: tuple[Machine, ...] = ()
    parameters: Any = None
    arguments: Any = None
    result_path: str | None = _ROOT
    result_selector: Any = None
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


class Map(_Filtered, frozen=True, tag="Map"):
    #: The sub-machine run for each item (`Iterator` is its legacy name).
    item_processor: Machine | None = None
    iterator: Machine | None = None
    #: JSONPath to the array of items in the effective input.
    items_path: str | None = _ROOT
    #: JSONata: the items array, or an expression yielding it.
    items: Any = None
    #: Payload template building each item's input (`Parameters` is its legacy name).
    item_selector: Any = None
    parameters: Any = None
    max_concurrency: int | str | None = None
    max_concurrency_path: str | None = None
    tolerated_failure_count: int | str | None = None
    tolerated_failure_count_path: str | None = None
    tolerated_failure_percentage: float | str | None = None
    tolerated_failure_percentage_path: str | None = None
    item_reader: dict[str, Any] | None = None
    item_batcher: dict[str, Any] | None = None
    result_writer: dict[str, Any] | None = None
    label: str | None = None
    result_path: str | None = _ROOT
    result_selector: Any = None
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


State = Pass | Task | Choice | Wait | Succeed | Fail | Parallel | Map
