"""A definition compiled once into closures: every path, template, intrinsic, JSONata
expression and Choice rule of every state becomes a Python callable here, so running a state
parses nothing.

The data flow of a state is split into two callables the reducers call:
`effective_input(scope)` (InputPath + Parameters, or JSONata Arguments) and
`output(scope, result)` (ResultSelector + ResultPath + OutputPath, or JSONata Output), plus
`assign(scope, result)` for variables. `scope.input` is always the state's raw input.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from runtime.dataflow.conditions import compile_choice_rule
from runtime.dataflow.items import reader_call
from runtime.dataflow.jsonata import compile_jsonata_value
from runtime.dataflow.paths import (
    compile_input_path,
    compile_items_path,
    compile_output_path,
    compile_path,
    compile_result_path,
)
from runtime.dataflow.payload import compile_payload
from runtime.dataflow.scope import JSON, MISSING, Evaluator, Scope
from runtime.errors import RUNTIME, StatesError
from runtime.model import states as asl
from runtime.model.errors import Catcher, Retrier
from runtime.state import branch_key, processor_key

Output = Callable[[Scope, JSON], JSON]
Assign = Callable[[Scope, JSON], "dict[str, JSON] | None"]


def _const(value: JSON) -> Evaluator:
    return lambda scope: value


def _is_jsonata(text: Any) -> bool:
    return isinstance(text, str) and text.startswith("{%") and text.endswith("%}")


class Node:
    """A compiled state. `kind` is the AWS event prefix (Pass, Task, Choice, ...)."""

    __slots__ = ("assign", "effective_input", "end", "jsonata", "kind", "name", "next",
                 "output", "spec")

    def __init__(self, name: str, spec: asl.State, jsonata: bool) -> None:
        self.name = name
        self.spec = spec
        self.kind: str = type(spec).__name__
        self.next = spec.next
        self.end = spec.end
        self.jsonata = jsonata
        self.effective_input: Evaluator = _effective_input(spec, jsonata)
        self.output: Output = _output(spec, jsonata)
        self.assign: Assign = _assign(spec.assign, jsonata, "Assign")


class RecoverableNode(Node):
    """Task, Parallel and Map: they have results, Retry and Catch."""

    __slots__ = ("catchers", "retriers")

    def __init__(self, name: str, spec: asl.Task | asl.Parallel | asl.Map, jsonata: bool) -> None:
        super().__init__(name, spec, jsonata)
        self.retriers: tuple[Retrier, ...] = spec.retry
        self.catchers: tuple[CompiledCatcher, ...] = tuple(
            CompiledCatcher(c, jsonata) for c in spec.catch
        )


class CompiledCatcher:
    __slots__ = ("assign", "error_equals", "next", "output")

    def __init__(self, spec: Catcher, jsonata: bool) -> None:
        self.error_equals = spec.error_equals
        self.next = spec.next
        self.assign: Assign = _assign(spec.assign, jsonata, "Assign", error_output=True)
        if jsonata:
            out = compile_jsonata_value(spec.output, field="Output") if spec.output is not None \
                else None
            self.output: Callable[[Scope, JSON], JSON] = (
                (lambda scope, err: out(_with_error(scope, err))) if out is not None
                else (lambda scope, err: err)
            )
        else:
            set_result = compile_result_path(spec.result_path)
            self.output = lambda scope, err: set_result(scope.input, err)


class TaskNode(RecoverableNode):
    __slots__ = ("heartbeat_seconds", "resource", "timeout_seconds")

    def __init__(self, name: str, spec: asl.Task, jsonata: bool) -> None:
        super().__init__(name, spec, jsonata)
        self.resource = spec.resource
        self.timeout_seconds = _optional_number(
            spec.timeout_seconds, spec.timeout_seconds_path, jsonata, "TimeoutSeconds"
        )
        self.heartbeat_seconds = _optional_number(
            spec.heartbeat_seconds, spec.heartbeat_seconds_path, jsonata, "HeartbeatSeconds"
        )


class ChoiceRule:
    __slots__ = ("assign", "matches", "next", "output")

    def __init__(self, rule: dict[str, Any], jsonata: bool) -> None:
        self.next: str = rule["Next"]
        self.assign: Assign = _assign(rule.get("Assign"), jsonata, "Assign")
        self.output: Output | None = None
        if jsonata:
            condition = compile_jsonata_value(rule["Condition"], field="Condition")
            self.matches: Callable[[Scope], bool] = lambda scope: _truthy_condition(
                condition(scope)
            )
            if "Output" in rule:
                out = compile_jsonata_value(rule["Output"], field="Output")
                self.output = lambda scope, result: out(scope)
        else:
            self.matches = compile_choice_rule(rule)


class ChoiceNode(Node):
    __slots__ = ("default", "rules")

    def __init__(self, name: str, spec: asl.Choice, jsonata: bool) -> None:
        super().__init__(name, spec, jsonata)
        self.rules = tuple(ChoiceRule(r, jsonata) for r in spec.choices)
        self.default = spec.default


class WaitNode(Node):
    __slots__ = ("seconds", "timestamp")

    def __init__(self, name: str, spec: asl.Wait, jsonata: bool) -> None:
        super().__init__(name, spec, jsonata)
        self.seconds: Evaluator | None = None
        self.timestamp: Evaluator | None = None
        if spec.seconds is not None:
            self.seconds = _number_field(spec.seconds, jsonata, "Seconds")
        elif spec.seconds_path is not None:
            self.seconds = _seconds_path(spec.seconds_path)
        elif spec.timestamp is not None:
            self.timestamp = (
                compile_jsonata_value(spec.timestamp, field="Timestamp")
                if jsonata else _const(spec.timestamp)
            )
        elif spec.timestamp_path is not None:
            self.timestamp = _timestamp_path(spec.timestamp_path)


class FailNode(Node):
    __slots__ = ("cause", "error")

    def __init__(self, name: str, spec: asl.Fail, jsonata: bool) -> None:
        super().__init__(name, spec, jsonata)
        self.error = _fail_field(spec.error, spec.error_path, jsonata, "Error")
        self.cause = _fail_field(spec.cause, spec.cause_path, jsonata, "Cause")


class ParallelNode(RecoverableNode):
    __slots__ = ("branches",)

    def __init__(self, name: str, spec: asl.Parallel, jsonata: bool, branches: list[str]) -> None:
        super().__init__(name, spec, jsonata)
        self.branches = tuple(branches)


class MapNode(RecoverableNode):
    __slots__ = ("batch_input", "batch_max_bytes", "batch_max_items", "distributed",
                 "item_selector", "items", "label", "max_concurrency", "processor",
                 "reader", "tolerated_count", "tolerated_percentage", "writer")

    def __init__(self, name: str, spec: asl.Map, jsonata: bool, processor: str,
                 distributed: bool = False) -> None:
        super().__init__(name, spec, jsonata)
        self.processor = processor
        self.distributed = distributed
        self.label = spec.label or name
        self.reader = ItemReader(spec.item_reader, jsonata) if spec.item_reader else None
        batcher = spec.item_batcher or {}
        self.batch_max_items = _optional_number(
            batcher.get("MaxItemsPerBatch"), batcher.get("MaxItemsPerBatchPath"), jsonata,
            "MaxItemsPerBatch") if batcher else None
        self.batch_max_bytes = _optional_number(
            batcher.get("MaxInputBytesPerBatch"), batcher.get("MaxInputBytesPerBatchPath"),
            jsonata, "MaxInputBytesPerBatch") if batcher else None
        self.batch_input: Evaluator | None = (
            _template(batcher["BatchInput"], jsonata, "BatchInput")
            if "BatchInput" in batcher else None)
        self.writer: Evaluator | None = None
        if spec.result_writer:
            arguments = spec.result_writer.get("Arguments" if jsonata else "Parameters") or {}
            self.writer = _template(arguments, jsonata, "ResultWriter")
        self.items: Evaluator = _items(spec, jsonata)
        selector = spec.item_selector if spec.item_selector is not None else spec.parameters
        self.item_selector: Evaluator | None = None
        if selector is not None:
            self.item_selector = (
                compile_jsonata_value(selector, field="ItemSelector") if jsonata
                else compile_payload(selector)
            )
        self.max_concurrency = _optional_number(
            spec.max_concurrency, spec.max_concurrency_path, jsonata, "MaxConcurrency"
        )
        self.tolerated_count = _optional_number(
            spec.tolerated_failure_count, spec.tolerated_failure_count_path, jsonata,
            "ToleratedFailureCount",
        )
        self.tolerated_percentage = _optional_number(
            spec.tolerated_failure_percentage, spec.tolerated_failure_percentage_path, jsonata,
            "ToleratedFailurePercentage",
        )


class ItemReader:
    """A Distributed Map's ItemReader: the call that reads the items, and how to read them."""

    __slots__ = ("action", "config", "max_items", "parameters", "resource")

    def __init__(self, spec: dict[str, Any], jsonata: bool) -> None:
        arguments = spec.get("Arguments" if jsonata else "Parameters") or {}
        self.parameters = _template(arguments, jsonata, "ItemReader")
        config = dict(spec.get("ReaderConfig") or {})
        self.max_items = _optional_number(config.pop("MaxItems", None),
                                          config.pop("MaxItemsPath", None), jsonata, "MaxItems")
        self.config = config
        #: `action` names the response `reader_items` reads; `resource` is the task resource
        #: the Map Run calls for its items.
        self.action, self.resource = reader_call(str(spec.get("Resource", "")), config)


def _template(value: JSON, jsonata: bool, field: str) -> Evaluator:
    return compile_jsonata_value(value, field=field) if jsonata else compile_payload(value)


class CompiledMachine:
    __slots__ = ("start_at", "states")

    def __init__(self, start_at: str, states: dict[str, Node]) -> None:
        self.start_at = start_at
        self.states = states


class Program:
    """Every (sub)machine of a definition, keyed by its path: "" is the top level,
    "Outer/2" the third branch of Parallel state Outer, "Outer/Inner" Map Inner's processor."""

    __slots__ = ("activities", "machines", "timeout_seconds")

    def __init__(self, machines: dict[str, CompiledMachine], timeout_seconds: int | None) -> None:
        self.machines = machines
        self.timeout_seconds = timeout_seconds
        #: The activity ARNs its Task states name (see `program_activities`).
        self.activities: frozenset[str] | None = None


ROOT: Final = ""


def compile_program(machine: asl.Machine) -> Program:
    """Compile a decoded, validated definition."""
    machines: dict[str, CompiledMachine] = {}
    _compile_machine(machine, ROOT, machine.query_language or "JSONPath", machines)
    return Program(machines, machine.timeout_seconds)


def _compile_machine(
    machine: asl.Machine, key: str, language: str, out: dict[str, CompiledMachine]
) -> None:
    language = machine.query_language or language
    nodes: dict[str, Node] = {}
    for name, spec in machine.states.items():
        jsonata = (spec.query_language or language) == "JSONata"
        prefix = processor_key(key, name)
        node: Node
        match spec:
            case asl.Task():
                node = TaskNode(name, spec, jsonata)
            case asl.Choice():
                node = ChoiceNode(name, spec, jsonata)
            case asl.Wait():
                node = WaitNode(name, spec, jsonata)
            case asl.Fail():
                node = FailNode(name, spec, jsonata)
            case asl.Parallel():
                keys = []
                for index, branch_spec in enumerate(spec.branches):
                    branch = branch_key(key, name, index)
                    _compile_machine(branch_spec, branch, language, out)
                    keys.append(branch)
                node = ParallelNode(name, spec, jsonata, keys)
            case asl.Map():
                processor = spec.item_processor or spec.iterator
                assert processor is not None, "validated: Map has ItemProcessor or Iterator"
                _compile_machine(processor, prefix, language, out)
                mode = (processor.processor_config or {}).get("Mode")
                node = MapNode(name, spec, jsonata, prefix, distributed=mode == "DISTRIBUTED")
            case asl.Pass() | asl.Succeed():
                node = Node(name, spec, jsonata)
        nodes[name] = node
    out[key] = CompiledMachine(machine.start_at, nodes)


# -- data flow --------------------------------------------------------------------------------


def _effective_input(spec: asl.State, jsonata: bool) -> Evaluator:
    if jsonata:
        arguments = getattr(spec, "arguments", None)
        if arguments is None:
            return lambda scope: scope.input
        return compile_jsonata_value(arguments, field="Arguments")
    if isinstance(spec, asl.Fail):
        return lambda scope: scope.input
    select = compile_input_path(spec.input_path)
    template = getattr(spec, "parameters", None)
    if template is None or isinstance(spec, asl.Map):
        return select
    params = compile_payload(template)
    return lambda scope: params(scope.with_input(select(scope)))


def _output(spec: asl.State, jsonata: bool) -> Output:
    """`output(scope, result)`: `result` is the task/branch/Map result or, for states without
    one, the effective input (Pass: its Result or effective input)."""
    if jsonata:
        if spec.output is None:
            if isinstance(spec, (asl.Task, asl.Parallel, asl.Map)):
                return lambda scope, result: result
            return lambda scope, result: scope.input
        out = compile_jsonata_value(spec.output, field="Output")
        return lambda scope, result: out(_with_result(scope, result))
    if isinstance(spec, asl.Fail):
        return lambda scope, result: result
    select_output = compile_output_path(spec.output_path)
    if isinstance(spec, (asl.Task, asl.Parallel, asl.Map, asl.Pass)):
        set_result = compile_result_path(spec.result_path)
        selector_template = getattr(spec, "result_selector", None)
        if selector_template is not None:
            selector = compile_payload(selector_template)
            return lambda scope, result: select_output(
                scope.with_input(set_result(scope.input, selector(scope.with_input(result))))
            )
        return lambda scope, result: select_output(
            scope.with_input(set_result(scope.input, result))
        )
    return lambda scope, result: select_output(scope.with_input(result))


def _assign(template: dict[str, Any] | None, jsonata: bool, field: str, *,
            error_output: bool = False) -> Assign:
    """`assign(scope, value)`: `value` is the state's result, or (for a catcher,
    `error_output=True`) the error output, which JSONata reads as `$states.errorOutput`."""
    if not template:
        return lambda scope, result: None
    if jsonata:
        values = compile_jsonata_value(template, field=field)
        bind = _with_error if error_output else _with_result
        return lambda scope, result: values(bind(scope, result))
    values = compile_payload(template)
    return lambda scope, result: values(scope.with_input(result))


def _with_result(scope: Scope, result: JSON) -> Scope:
    clone = scope.with_input(scope.input)
    clone.result = result
    return clone


def _with_error(scope: Scope, error_output: JSON) -> Scope:
    clone = scope.with_input(scope.input)
    clone.error_output = error_output
    clone.result = MISSING
    return clone


def _truthy_condition(value: JSON) -> bool:
    if not isinstance(value, bool):
        raise StatesError(
            "States.QueryEvaluationError",
            "The JSONata expression specified for the field 'Condition' returned an unexpected "
            f"result type. Expected 'boolean', but was '{_json_type(value)}'",
        )
    return value


def _json_type(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _items(spec: asl.Map, jsonata: bool) -> Evaluator:
    if jsonata:
        if spec.items is None:
            return _require_array(lambda scope: scope.input, "Items", None)
        return _require_array(
            compile_jsonata_value(spec.items, field="Items"), "Items",
            spec.items if _is_jsonata(spec.items) else None,
        )
    select = compile_input_path(spec.input_path)
    items_of = compile_items_path(spec.items_path if spec.items_path is not None else "$")
    return lambda scope: items_of(scope.with_input(select(scope)))


def _require_array(evaluate: Evaluator, field: str, expression: str | None) -> Evaluator:
    import msgspec

    def items(scope: Scope) -> JSON:
        value = evaluate(scope)
        if not isinstance(value, list):
            shown = msgspec.json.encode(value).decode()
            expr = expression[2:-2].strip() if expression else "$states.input"
            raise StatesError(
                "States.QueryEvaluationError",
                f"The JSONata expression '{expr}' specified for the field '{field}' returned an "
                f"unexpected result type. Expected 'array', but was '{_json_type(value)}' for "
                f"value: {shown}",
            )
        return value

    return items


def _optional_number(
    value: int | float | str | None, path: str | None, jsonata: bool, field: str
) -> Evaluator | None:
    if value is not None:
        return _number_field(value, jsonata, field)
    if path is not None:
        get = compile_path(path)
        return lambda scope: _positive_number(_numeric(get(scope)), field, path)
    return None


def _numeric(value: JSON) -> JSON:
    """A *Path field may reference a number written as a string ("1"), as AWS accepts."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def _number_field(value: int | float | str, jsonata: bool, field: str) -> Evaluator:
    if jsonata and isinstance(value, str):
        evaluate = compile_jsonata_value(value, field=field)
        return lambda scope: _positive_number(evaluate(scope), field, value)
    return _const(value)


def _positive_number(value: JSON, field: str, source: str) -> JSON:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise StatesError(RUNTIME, f"The value of the field '{field}' from '{source}' must be a "
                                   f"non-negative number, but was: {value!r}")
    return value


def _seconds_path(path: str) -> Evaluator:
    get = compile_path(path)

    def seconds(scope: Scope) -> JSON:
        value = get(scope)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise StatesError(
                RUNTIME,
                f"The SecondsPath parameter does not reference a valid integer value: "
                f"{path} == {value}",
            )
        return value

    return seconds


def _timestamp_path(path: str) -> Evaluator:
    get = compile_path(path)

    def timestamp(scope: Scope) -> JSON:
        value = get(scope)
        if not isinstance(value, str) or parse_timestamp(value) is None:
            raise StatesError(
                RUNTIME,
                "The TimestampPath parameter does not reference a valid ISO-8601 extended "
                f"offset date-time format string: {path} == {value}",
            )
        return value

    return timestamp


def parse_timestamp(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp with an offset (`Z` or `+hh:mm`), else None."""
    if len(text) < 20 or text[10] != "T":
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _fail_field(
    value: str | None, path: str | None, jsonata: bool, field: str
) -> Evaluator | None:
    if value is not None:
        return compile_jsonata_value(value, field=field) if jsonata else _const(value)
    if path is None:
        return None
    if path.startswith("States."):
        from runtime.dataflow.intrinsics import compile_intrinsic

        return compile_intrinsic(path)
    get = compile_path(path)
    from runtime.dataflow.paths import PathNotFound

    def evaluate(scope: Scope) -> JSON:
        try:
            return get(scope)
        except PathNotFound:
            raise StatesError(
                RUNTIME,
                f"The JSONPath '{path}' specified for the field '{field}Path' could not be "
                f"found in the input '{_compact(scope.input)}'",
            ) from None

    return evaluate


def _compact(value: JSON) -> str:
    import msgspec

    return msgspec.json.encode(value).decode()


def program_activities(program: Program) -> frozenset[str]:
    """The activity ARNs the definition's Task states name."""
    found = program.activities
    if found is None:
        found = program.activities = frozenset(
            node.resource for machine in program.machines.values()
            for node in machine.states.values()
            if isinstance(node, TaskNode) and is_activity_arn(node.resource))
    return found


def is_activity_arn(resource: str) -> bool:
    parts = resource.split(":")
    return len(parts) == 7 and parts[2] == "states" and parts[5] == "activity"
