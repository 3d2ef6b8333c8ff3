"""Metrics: what a turn counts, histogram buckets, and the text exposition parsed back."""

from __future__ import annotations

import math
import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from runtime import Runtime
from runtime import events as ev
from runtime.metrics import CONTENT_TYPE, Histogram, Metrics, metrics_route, render_metrics

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
OTHER = "arn:aws:states:eu-west-1:123456789012:stateMachine:refunds"

Sample = tuple[str, frozenset[tuple[str, str]]]

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = rf'{_NAME}="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(rf"({_NAME})(?:\{{({_LABEL}(?:,{_LABEL})*)\}})? (\S+)")
_LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> tuple[dict[str, str], dict[Sample, float]]:
    """The families' types and every sample of a text exposition (format 0.0.4), checking
    each line's grammar and that samples follow their family's TYPE line."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples: dict[Sample, float] = {}
    family = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, f"family {name} declared twice"
            assert kind in {"counter", "gauge", "histogram"}
            family = name
            types[name] = kind
            continue
        match = _SAMPLE.fullmatch(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        assert family is not None and name.startswith(family), f"{name} outside its family"
        pairs = frozenset(
            (key, raw.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\"))
            for key, raw in _LABEL_PAIR.findall(labels or ""))
        assert (name, pairs) not in samples, f"duplicate sample {line!r}"
        samples[(name, pairs)] = float(value)
    return types, samples


def sample(samples: dict[Sample, float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def event(type_: str, id_: int = 1, **fields: Any) -> ev.HistoryEvent:
    return ev.HistoryEvent(id=id_, previous_event_id=id_ - 1, timestamp=0.0, type=type_,
                           **fields)


def test_a_turn_counts_states_entered_as_transitions_and_the_execution_lifecycle() -> None:
    metrics = Metrics()
    metrics.record_turn(ARN, (
        event(ev.MESSAGE_RECEIVED, 0), event("ExecutionStarted", 1),
        event("PassStateEntered", 2), event("PassStateExited", 3),
        event("ChoiceStateEntered", 4), event("ChoiceStateExited", 5),
        event("TimerStarted", 0), event("FailStateEntered", 6), event("ExecutionFailed", 7),
    ), 0.0002)
    _, samples = parse(metrics.render())
    assert sample(samples, "stepline_state_transitions_total", state_machine=ARN) == 3
    assert sample(samples, "stepline_executions_started_total", state_machine=ARN) == 1
    assert sample(samples, "stepline_executions_finished_total", state_machine=ARN,
                  status="FAILED") == 1
    assert sample(samples, "stepline_log_append_duration_seconds_count") == 1
    assert sample(samples, "stepline_log_append_duration_seconds_sum") == 0.0002


@pytest.mark.parametrize(("event_type", "status"), [
    ("ExecutionSucceeded", "SUCCEEDED"), ("ExecutionFailed", "FAILED"),
    ("ExecutionTimedOut", "TIMED_OUT"), ("ExecutionAborted", "ABORTED"),
])
def test_every_ending_counts_under_its_execution_status(event_type: str, status: str) -> None:
    metrics = Metrics()
    metrics.record_turn(ARN, (event(event_type),), 0.0)
    metrics.record_turn(ARN, (event(event_type),), 0.0)
    _, samples = parse(metrics.render())
    finished = {labels: value for (name, labels), value in samples.items()
                if name == "stepline_executions_finished_total"}
    assert finished == {frozenset({("state_machine", ARN), ("status", status)}): 2}


def test_redrives_and_state_machines_are_counted_apart() -> None:
    metrics = Metrics()
    metrics.record_turn(ARN, (event("ExecutionRedriven"), event("TaskStateEntered")), 0.0)
    metrics.record_turn(OTHER, (event("MapStateEntered"), event("PassStateEntered"),
                                event("PassStateEntered")), 0.0)
    _, samples = parse(metrics.render())
    assert sample(samples, "stepline_executions_redriven_total", state_machine=ARN) == 1
    assert sample(samples, "stepline_state_transitions_total", state_machine=ARN) == 1
    assert sample(samples, "stepline_state_transitions_total", state_machine=OTHER) == 3


def test_a_turn_of_only_exits_and_internal_events_counts_no_transition() -> None:
    metrics = Metrics()
    metrics.record_turn(ARN, (event(ev.MESSAGE_RECEIVED, 0), event("TaskSucceeded"),
                              event("TaskStateExited")), 0.0)
    _, samples = parse(metrics.render())
    assert not any(name == "stepline_state_transitions_total" for name, _ in samples)


def test_histogram_buckets_are_cumulative_with_upper_bounds_inclusive() -> None:
    histogram = Histogram((0.1, 1.0, 10.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0, 99.0):
        histogram.observe(value)
    buckets = {dict(labels)["le"]: count for suffix, labels, count in histogram.samples(())
               if suffix == "_bucket"}
    assert buckets == {"0.1": 2, "1": 4, "10": 5, "+Inf": 6}
    assert histogram.count == 6
    assert math.isclose(histogram.sum, 107.65)


@pytest.mark.parametrize("bounds", [(1.0, 0.5), (0.5, 0.5), (0.5, math.inf)])
def test_histogram_bounds_must_be_finite_distinct_and_ascending(bounds: tuple[float, ...]
                                                                ) -> None:
    with pytest.raises(ValueError, match="ascending"):
        Histogram(bounds)


def test_task_latency_is_bucketed_by_resource_type_in_the_exposition() -> None:
    metrics = Metrics(task_buckets=(0.01, 1.0))
    metrics.observe_task("arn:aws:states:::lambda:invoke", 0.005)
    metrics.observe_task("arn:aws:lambda:us-east-1:123456789012:function:f", 0.5)
    metrics.observe_task("arn:aws:states:::dynamodb:putItem", 3.0)
    metrics.observe_task("charge_card", 0.01)
    types, samples = parse(metrics.render())
    assert types["stepline_task_duration_seconds"] == "histogram"
    name = "stepline_task_duration_seconds_bucket"
    assert sample(samples, name, resource_type="lambda", le="0.01") == 1
    assert sample(samples, name, resource_type="lambda", le="1") == 2
    assert sample(samples, name, resource_type="lambda", le="+Inf") == 2
    assert sample(samples, name, resource_type="dynamodb", le="1") == 0
    assert sample(samples, name, resource_type="dynamodb", le="+Inf") == 1
    assert sample(samples, name, resource_type="stepline", le="0.01") == 1
    assert sample(samples, "stepline_task_duration_seconds_count", resource_type="lambda") == 2
    assert sample(samples, "stepline_task_duration_seconds_sum", resource_type="dynamodb") == 3


def test_gauges_are_sampled_when_scraped() -> None:
    open_now = [ARN, ARN, OTHER]
    timers = [1, 2]
    metrics = Metrics(timers=timers, open_executions=lambda: open_now)
    types, samples = parse(metrics.render())
    assert types["stepline_open_executions"] == types["stepline_timers"] == "gauge"
    assert sample(samples, "stepline_open_executions", state_machine=ARN) == 2
    assert sample(samples, "stepline_open_executions", state_machine=OTHER) == 1
    assert sample(samples, "stepline_timers") == 2
    open_now.remove(OTHER)
    timers.clear()
    _, samples = parse(metrics.render())
    assert ("stepline_open_executions", frozenset({("state_machine", OTHER)})) not in samples
    assert sample(samples, "stepline_timers") == 0


def test_every_family_is_declared_once_with_its_type_even_before_any_sample() -> None:
    types, samples = parse(Metrics().render())
    assert types == {
        "stepline_executions_started_total": "counter",
        "stepline_executions_finished_total": "counter",
        "stepline_executions_redriven_total": "counter",
        "stepline_state_transitions_total": "counter",
        "stepline_open_executions": "gauge",
        "stepline_timers": "gauge",
        "stepline_task_duration_seconds": "histogram",
        "stepline_log_append_duration_seconds": "histogram",
    }
    assert sample(samples, "stepline_log_append_duration_seconds_bucket", le="+Inf") == 0


def test_several_runtimes_render_as_one_exposition_adding_equal_samples() -> None:
    first = Metrics(timers=[1])
    second = Metrics(timers=[1, 2, 3])
    first.record_turn(ARN, (event("PassStateEntered"),), 0.001)
    second.record_turn(OTHER, (event("PassStateEntered"),), 0.001)
    _, samples = parse(render_metrics([first, second]))
    assert sample(samples, "stepline_timers") == 4
    assert sample(samples, "stepline_state_transitions_total", state_machine=ARN) == 1
    assert sample(samples, "stepline_state_transitions_total", state_machine=OTHER) == 1
    assert sample(samples, "stepline_log_append_duration_seconds_count") == 2


def test_label_values_are_escaped_and_parse_back() -> None:
    odd = 'machine "quoted" \\ back\nslash'
    metrics = Metrics()
    metrics.record_turn(odd, (event("PassStateEntered"),), 0.0)
    _, samples = parse(metrics.render())
    assert sample(samples, "stepline_state_transitions_total", state_machine=odd) == 1


@pytest.mark.anyio
async def test_metrics_route_serves_the_exposition_to_a_scraper() -> None:
    sources = [Metrics(timers=[1])]
    transport = httpx.ASGITransport(app=Starlette(routes=[metrics_route(lambda: sources)]))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = await client.get("/metrics")
        sources.append(Metrics(timers=[1]))  # a Runtime opened later is scraped too
        second = await client.get("/metrics")
        refused = await client.post("/metrics")
    assert first.status_code == 200
    assert first.headers["content-type"] == CONTENT_TYPE
    assert sample(parse(first.text)[1], "stepline_timers") == 1
    assert sample(parse(second.text)[1], "stepline_timers") == 2
    assert refused.status_code == 405


@pytest.mark.anyio
async def test_a_recorded_execution_counts_one_transition_per_state_entered() -> None:
    definition = {"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Work"}],
            "Default": "Done"},
        "Work": {"Type": "Task", "Resource": "double", "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    async with Runtime(clock="virtual", tasks={"double": lambda v: v}) as runtime:
        done = await runtime.run(definition, {"n": 1})
        history = runtime.history(done.execution_arn)
    turn: list[ev.HistoryEvent] = []
    metrics = Metrics()
    for recorded in history:
        if recorded.type == ev.MESSAGE_RECEIVED and turn:
            metrics.record_turn(done.state_machine_arn, turn, 0.0)
            turn = []
        turn.append(recorded)
    metrics.record_turn(done.state_machine_arn, turn, 0.0)
    _, samples = parse(metrics.render())
    machine = done.state_machine_arn
    assert sample(samples, "stepline_state_transitions_total", state_machine=machine) == 4
    assert sample(samples, "stepline_executions_started_total", state_machine=machine) == 1
    assert sample(samples, "stepline_executions_finished_total", state_machine=machine,
                  status="SUCCEEDED") == 1
