"""Replay equals live, over generated definitions.

A hypothesis strategy builds valid definitions: chains of Pass/Task/Choice/Wait/Map/Parallel
ending in Succeed, Fail or `End`, with random Parameters, Result, ResultPath, Assign and
MaxConcurrency. Every state keeps its output an object with `items` (a list of ints) and `n`
(an int), so Map, Choice and intrinsics always have something to work on. Each one runs to its
end with the pure reducers, then:

* folding all its events into a fresh state gives the live final state,
* feeding the same messages again gives the same events (determinism),
* every event survives the log codec unchanged.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import events as ev
from runtime.effects import InvokeTask
from runtime.messages import TaskCompleted
from runtime.reducers import decide
from runtime.state import project
from tests.reducers import compile_definition, drive, encoded, fresh_state

KEYS = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
SCALARS = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS, inner, max_size=3), max_leaves=6)
INPUTS = st.fixed_dictionaries({"items": st.lists(st.integers(0, 9), max_size=4),
                                "n": st.integers(-5, 5)})
KEEP_SHAPE: dict[str, Any] = {"items.$": "$.items", "n.$": "$.n"}


@st.composite
def pass_states(draw: st.DrawFn, scope: str) -> dict[str, Any]:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return {"Type": "Pass"}
    if choice == 1:
        return {"Type": "Pass", "Result": draw(VALUES), "ResultPath": "$.r" + draw(KEYS)}
    if choice == 2:
        return {"Type": "Pass", "Result": draw(VALUES), "ResultPath": None}
    if choice == 3:
        step = draw(st.integers(-3, 3))
        return {"Type": "Pass", "Parameters": {
            "items.$": "$.items", "n.$": f"States.MathAdd($.n, {step})", "tag": draw(VALUES)}}
    # A variable name belongs to one scope: an inner scope may not assign an outer one's.
    return {"Type": "Pass", "Assign": {f"{scope}_{draw(KEYS)}": draw(VALUES),
                                       f"{scope}_seen.$": "$.n"}}


@st.composite
def task_states(draw: st.DrawFn) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": "echo", "Parameters": KEEP_SHAPE,
                             "ResultPath": draw(st.sampled_from(["$", "$.out", None]))}
    if draw(st.booleans()):
        state["Retry"] = [{"ErrorEquals": ["Odd"], "MaxAttempts": draw(st.integers(0, 2)),
                           "IntervalSeconds": draw(st.integers(1, 30)),
                           "BackoffRate": draw(st.sampled_from([1.0, 1.5, 2.0]))}]
    if draw(st.booleans()):
        state["TimeoutSeconds"] = draw(st.integers(1, 100))
    return state


def wait_states() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda seconds: {"Type": "Wait", "Seconds": seconds}, st.integers(0, 500))


@st.composite
def map_states(draw: st.DrawFn, depth: int, prefix: str) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map", "ItemsPath": "$.items",
        "ItemSelector": {"items.$": "$.items", "n.$": "$$.Map.Item.Value"},
        "ItemProcessor": draw(machines(depth + 1, prefix + "m")),
        "ResultPath": draw(st.sampled_from(["$.mapped", None])),
    }
    concurrency = draw(st.integers(0, 3))
    if concurrency:
        state["MaxConcurrency"] = concurrency
    if draw(st.booleans()):
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                           "Next": "__NEXT__"}]
    return state


@st.composite
def parallel_states(draw: st.DrawFn, depth: int, prefix: str) -> dict[str, Any]:
    branches = [draw(machines(depth + 1, f"{prefix}b{index}"))
                for index in range(draw(st.integers(1, 3)))]
    state: dict[str, Any] = {"Type": "Parallel", "Branches": branches,
                             "ResultPath": draw(st.sampled_from(["$.par", None]))}
    if draw(st.booleans()):
        state["Retry"] = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}]
    return state


def middle_states(depth: int, prefix: str) -> st.SearchStrategy[dict[str, Any]]:
    simple = pass_states(_scope_name(prefix)) | task_states() | wait_states()
    if depth >= 2:
        return simple
    return simple | map_states(depth, prefix) | parallel_states(depth, prefix)


def _scope_name(prefix: str) -> str:
    """The machine's own prefix (state names add `<index>_`): unique per nested machine."""
    return "v" + prefix.rsplit("_", 1)[0].replace("_", "")


@st.composite
def machines(draw: st.DrawFn, depth: int = 0, prefix: str = "S") -> dict[str, Any]:
    """A chain S0 -> S1 -> ...; Choice states may jump forward, never back. Nested machines
    name their states after their parent's position (state names are unique definition-wide)."""
    length = draw(st.integers(1, 5 if depth == 0 else 3))
    body = [draw(middle_states(depth, f"{prefix}{index}_")) for index in range(length)]
    names = [f"{prefix}{index}" for index in range(length + 1)]
    # Some states get a Choice in front of them that skips them when `n` is large.
    guarded = [draw(st.integers(0, 4)) == 0 for _ in body] + [False]
    entries = [name + "c" if guard else name
               for name, guard in zip(names, guarded, strict=True)]
    states: dict[str, Any] = {}
    for index, state in enumerate(body):
        following = entries[index + 1]
        if guarded[index]:
            states[entries[index]] = {
                "Type": "Choice", "Default": names[index],
                "Choices": [{"Variable": "$.n", "NumericGreaterThan": draw(st.integers(-5, 5)),
                             "Next": following}]}
        for catcher in state.get("Catch", []):
            catcher["Next"] = following
        states[names[index]] = {**state, "Next": following}
    states[names[-1]] = draw(st.sampled_from([
        {"Type": "Succeed"}, {"Type": "Fail", "Error": "Stop", "Cause": "end of chain"},
        {"Type": "Pass", "End": True}]))
    return {"StartAt": entries[0], "States": states}


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    definition = draw(machines())
    if draw(st.integers(0, 3)) == 0:
        definition["TimeoutSeconds"] = draw(st.integers(1, 2000))
    return definition


def odd_fails_first(effect: InvokeTask, at: float) -> TaskCompleted | None:
    """Odd `n` fails its first attempt; `n == 4` never answers a task that has a timeout."""
    n = effect.parameters["n"]
    if n == 4 and effect.timeout_seconds:
        return None
    if n % 2 and effect.context["RetryCount"] == 0:
        return TaskCompleted(at=at, key=effect.key, failed=True, error="Odd", cause=str(n))
    return TaskCompleted(at=at, key=effect.key, output=effect.parameters)


PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(definitions(), INPUTS)
def test_generated_runs_replay_to_the_live_state_and_repeat_exactly(
        definition: dict[str, Any], value: dict[str, Any]) -> None:
    program = compile_definition(definition)
    run = drive(program, value, task=odd_fails_first)
    assert run.state.status != "RUNNING"  # every wait ends: tasks answer or time out

    replayed = project(run.events, fresh_state())
    assert encoded(replayed) == encoded(run.state)

    state = fresh_state()
    for decision in run.decisions:
        assert encoded(project(decision.events, state)) == encoded(decision.state)
        state = decision.state

    recompiled = compile_definition(definition)
    state = fresh_state()
    for message, decision in zip(run.messages, run.decisions, strict=True):
        again = decide(recompiled, state, message)
        assert encoded(again.events) == encoded(decision.events)
        assert encoded(again.effects) == encoded(decision.effects)
        state = again.state

    for event in run.events:
        assert ev.EVENT_DECODER.decode(ev.EVENT_CODEC.encode(event)) == event

