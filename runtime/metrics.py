"""Prometheus metrics of a Runtime, served as text (exposition format 0.0.4) at `/metrics`.

Rules:
1. The hot path pays for counting only. An actor turn costs one `record_turn` call: one dict
   lookup per event and one histogram observation per turn (about 60 ns per transition, see
   bench/metrics_overhead.py). Labels are formatted, histogram buckets cumulated and gauges
   sampled in `render`, at scrape time.
2. Gauges are sampled, not maintained: open executions and timers are read from the runtime
   when scraped, so resumed, forked and redriven executions can never make them drift.
3. A transition is a `*StateEntered` event, as AWS bills state transitions and as the
   benchmarks count them; `rate(stepline_state_transitions_total[1m])` is transitions/s.

No client library: the format is a few lines of text, and prometheus_client's registry is
process-global state, where a Runtime's metrics belong to that Runtime (several Runtimes, one
per account and region, share one endpoint through `render_metrics`).

A cluster server (PostgreSQL store) has no Runtime: `render_cluster_metrics` says what it
reports instead, and why.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence, Sized
from itertools import accumulate
from typing import Final, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime import events as ev
from runtime.reducers.task import resource_parts

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

#: Task (effect) latency: from a millisecond to five minutes.
TASK_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                       5.0, 10.0, 30.0, 60.0, 300.0)
#: Log append latency: an in-memory append takes microseconds, a group commit milliseconds.
APPEND_BUCKETS: Final = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                         0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

_ENTERED: Final = ""
_STARTED: Final = "started"
_REDRIVEN: Final = "redriven"
#: What each counted event type adds to: a transition, a start, a redrive, or an outcome
#: (the execution status it ends with). Any other event type counts nothing.
_TALLIES: Final[dict[str, str]] = {
    **{f"{kind}StateEntered": _ENTERED
       for kind in ("Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")},
    "ExecutionStarted": _STARTED,
    "ExecutionRedriven": _REDRIVEN,
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}

Labels = tuple[tuple[str, str], ...]


class Histogram:
    """Observations counted per bucket; `counts[i]` holds values in (bounds[i-1], bounds[i]],
    the last slot those above every bound (Prometheus' `le` buckets, not yet cumulated)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        if list(bounds) != sorted(set(bounds)) or not all(map(math.isfinite, bounds)):
            raise ValueError("histogram bounds must be finite, distinct and ascending")
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def samples(self, labels: Labels) -> Iterable[tuple[str, Labels, float]]:
        """The `_bucket` (cumulative, ending with le="+Inf"), `_sum` and `_count` samples."""
        for bound, below in zip((*self.bounds, math.inf), accumulate(self.counts), strict=True):
            yield "_bucket", (*labels, ("le", _number(bound))), below
        yield "_sum", labels, self.sum
        yield "_count", labels, self.count


class Metrics:
    """One Runtime's counters. Args:
        timers: the timer service (its length is the number of timers scheduled).
        open_executions: the state machine ARN of every running execution, read at scrape
            time.
    """

    def __init__(self, *, timers: Sized | None = None,
                 open_executions: Callable[[], Iterable[str]] | None = None,
                 task_buckets: Sequence[float] = TASK_BUCKETS,
                 append_buckets: Sequence[float] = APPEND_BUCKETS) -> None:
        self.timers = timers
        self.open_executions = open_executions
        self.task_buckets = tuple(task_buckets)
        #: (state machine ARN, tally) -> count, tally being _STARTED, _REDRIVEN or a status.
        self.executions: dict[tuple[str, str], int] = {}
        self.transitions: dict[str, int] = {}
        self.log_append = Histogram(append_buckets)
        #: Task latency by resource type (lambda, states, python callables as "stepline"...).
        self.tasks: dict[str, Histogram] = {}
        self._resource_types: dict[str, str] = {}

    def record_turn(self, state_machine_arn: str, events: Sequence[ev.HistoryEvent],
                    append_seconds: float) -> None:
        """Count one actor turn: its transitions and execution lifecycle events, and how long
        appending its events to the log took."""
        self.log_append.observe(append_seconds)
        transitions = 0
        for event in events:
            tally = _TALLIES.get(event.type)
            if tally is None:
                continue
            if tally is _ENTERED:
                transitions += 1
            else:
                key = (state_machine_arn, tally)
                self.executions[key] = self.executions.get(key, 0) + 1
        if transitions:
            self.transitions[state_machine_arn] = \
                self.transitions.get(state_machine_arn, 0) + transitions

    def observe_task(self, resource: str, seconds: float) -> None:
        """One task call to `resource` (a Task state's Resource) took `seconds`."""
        kind = self._resource_types.get(resource)
        if kind is None:
            kind = self._resource_types[resource] = resource_parts(resource)[0]
        histogram = self.tasks.get(kind)
        if histogram is None:
            histogram = self.tasks[kind] = Histogram(self.task_buckets)
        histogram.observe(seconds)

    def render(self) -> str:
        return render_metrics([self])

    def samples(self) -> dict[str, list[tuple[str, Labels, float]]]:
        """Every sample, by family name (see FAMILIES)."""
        out: dict[str, list[tuple[str, Labels, float]]] = {name: [] for name, _, _ in FAMILIES}
        for (machine, tally), count in self.executions.items():
            if tally == _STARTED:
                out["stepline_executions_started_total"].append(
                    ("", (("state_machine", machine),), count))
            elif tally == _REDRIVEN:
                out["stepline_executions_redriven_total"].append(
                    ("", (("state_machine", machine),), count))
            else:
                out["stepline_executions_finished_total"].append(
                    ("", (("state_machine", machine), ("status", tally)), count))
        for machine, count in self.transitions.items():
            out["stepline_state_transitions_total"].append(
                ("", (("state_machine", machine),), count))
        if self.open_executions is not None:
            for machine, count in Counter(self.open_executions()).items():
                out["stepline_open_executions"].append(
                    ("", (("state_machine", machine),), count))
        if self.timers is not None:
            out["stepline_timers"].append(("", (), len(self.timers)))
        for kind, histogram in self.tasks.items():
            out["stepline_task_duration_seconds"].extend(
                histogram.samples((("resource_type", kind),)))
        out["stepline_log_append_duration_seconds"].extend(self.log_append.samples(()))
        return out


#: (name, type, help) of every metric family, in exposition order.
FAMILIES: Final = (
    ("stepline_executions_started_total", "counter", "Executions started."),
    ("stepline_executions_finished_total", "counter",
     "Executions ended, by status (SUCCEEDED, FAILED, TIMED_OUT, ABORTED)."),
    ("stepline_executions_redriven_total", "counter", "Executions redriven."),
    ("stepline_state_transitions_total", "counter", "States entered."),
    ("stepline_open_executions", "gauge", "Executions running."),
    ("stepline_timers", "gauge", "Timers scheduled (Wait states, retries, timeouts)."),
    ("stepline_task_duration_seconds", "histogram",
     "Time a task call took, from invocation to its result."),
    ("stepline_log_append_duration_seconds", "histogram",
     "Time appending one turn's events to the event log took."),
)


def render_metrics(metrics: Iterable[Metrics]) -> str:
    """The text exposition of one or more Runtimes' metrics; samples with the same name and
    labels (timers of every Runtime, say) are added up."""
    return _exposition(FAMILIES, (source.samples() for source in metrics))


def _exposition(families: Sequence[tuple[str, str, str]],
                sources: Iterable[dict[str, list[tuple[str, Labels, float]]]]) -> str:
    merged: dict[str, dict[tuple[str, Labels], float]] = {name: {} for name, _, _ in families}
    for samples_by_name in sources:
        for name, samples in samples_by_name.items():
            family = merged[name]
            for suffix, labels, value in samples:
                family[(suffix, labels)] = family.get((suffix, labels), 0) + value
    lines: list[str] = []
    for name, kind, help_text in families:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for (suffix, labels), value in merged[name].items():
            lines.append(f"{name}{suffix}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"


def metrics_route(get_metrics: Callable[[], Iterable[Metrics]], *, path: str = "/metrics"
                  ) -> Route:
    """`GET /metrics` for a Prometheus scraper; `get_metrics` is called on every scrape, so
    Runtimes opened later (one per account and region) are included."""

    async def scrape(request: Request) -> Response:
        return Response(render_metrics(get_metrics()), media_type=CONTENT_TYPE)

    return Route(path, scrape, methods=["GET"])


# -- a cluster server -------------------------------------------------------------------------


class WorkerCounts(Protocol):
    """What a cluster worker counted since it started (runtime.cluster.worker.WorkerStats)."""

    steps: int
    events: int
    tasks: int
    timers_fired: int
    lost_leases: int


#: (name, type, help) of a cluster server's metric families, in exposition order.
CLUSTER_FAMILIES: Final = (
    ("stepline_open_executions", "gauge",
     "Executions running in the whole cluster, read from the database at scrape time "
     "(every server reports the same value: aggregate with max, not sum)."),
    ("stepline_workers", "gauge", "Cluster workers running in this process."),
    ("stepline_worker_steps_total", "counter",
     "Execution steps committed by this process's workers."),
    ("stepline_worker_events_total", "counter",
     "History events appended by this process's workers."),
    ("stepline_worker_tasks_total", "counter", "Task calls run by this process's workers."),
    ("stepline_worker_timers_fired_total", "counter",
     "Timers fired by this process's workers."),
    ("stepline_worker_lost_leases_total", "counter",
     "Commits this process's workers gave up because another worker took the lease over."),
)


def render_cluster_metrics(open_executions: Iterable[str],
                           workers: Sequence[WorkerCounts]) -> str:
    """The text exposition of a cluster server (`stepline serve --store postgresql://...`).

    On a cluster no server owns an execution: whichever worker claims it steps it, in this
    process or in any other. So a server reports two kinds of numbers, and says which:
    - what is true of the whole cluster, read from the database when scraped (the state
      machine ARN of every running execution, `open_executions`): a gauge every server
      reports alike;
    - what this process's own workers did since it started (`workers`): counters, which add
      up over every scraped process to the cluster's total (`stepline worker` processes
      serve no endpoint, so their share is not in any scrape).
    Executions started or ended per state machine are not counted: a server sees the
    executions started through its API but not their ends, which any worker may record.
    """
    samples: dict[str, list[tuple[str, Labels, float]]] = {
        name: [] for name, _, _ in CLUSTER_FAMILIES}
    for machine, count in Counter(open_executions).items():
        samples["stepline_open_executions"].append(("", (("state_machine", machine),), count))
    samples["stepline_workers"].append(("", (), len(workers)))
    for name, field in (("stepline_worker_steps_total", "steps"),
                        ("stepline_worker_events_total", "events"),
                        ("stepline_worker_tasks_total", "tasks"),
                        ("stepline_worker_timers_fired_total", "timers_fired"),
                        ("stepline_worker_lost_leases_total", "lost_leases")):
        samples[name].append(("", (), sum(getattr(worker, field) for worker in workers)))
    return _exposition(CLUSTER_FAMILIES, [samples])


def cluster_metrics_route(running_machines: Callable[[], Awaitable[Iterable[str]]],
                          workers: Sequence[WorkerCounts], *, path: str = "/metrics") -> Route:
    """`GET /metrics` of a cluster server: `running_machines` reads the state machine ARN of
    every running execution from the database at each scrape; `workers` are this process's
    workers' counts (see `render_cluster_metrics`)."""

    async def scrape(request: Request) -> Response:
        text = render_cluster_metrics(await running_machines(), workers)
        return Response(text, media_type=CONTENT_TYPE)

    return Route(path, scrape, methods=["GET"])


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)
