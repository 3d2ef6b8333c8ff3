"""Runs a conformance case of ../shared/conformance in-process, judged as the shared harness
judges it over HTTP (its `Matcher` is reused, so both agree on what "equal" means)."""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

from runtime.engine import Runtime
from runtime.errors import AslError

SHARED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
CASES_DIR = os.path.join(SHARED, "conformance", "cases")
MUST_PASS = os.path.join(os.path.dirname(__file__), "must_pass.txt")
HISTORY_MUST_MATCH = os.path.join(os.path.dirname(__file__), "history_must_match.txt")
ROLE_ARN = "arn:aws:iam::000000000000:role/stepline"


def _load_harness() -> Any:
    spec = importlib.util.spec_from_file_location(
        "conformance_harness", os.path.join(SHARED, "conformance", "harness.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HARNESS = _load_harness()


def load_cases() -> Iterator[dict[str, Any]]:
    for path in sorted(glob.glob(os.path.join(CASES_DIR, "*.json"))):
        with open(path) as handle:
            data = json.load(handle)
        for case in data if isinstance(data, list) else [data]:
            case.setdefault("category", "other")
            yield case


def _definition_text(case: dict[str, Any]) -> str:
    definition = case.get("definition")
    if case.get("definition_raw") and isinstance(definition, str):
        return definition
    return json.dumps(definition)


def history_difference(case: dict[str, Any], got: list[str]) -> str:
    """The shared harness's history rule: the multiset of event types must equal AWS's, and
    so must the first and last types (branch events interleave, so order is not compared)."""
    want = [e.get("type") for e in case.get("history") or []]
    if not want:
        return ""
    if Counter(got) != Counter(want):
        missing = dict(Counter(want) - Counter(got))
        extra = dict(Counter(got) - Counter(want))
        return f"history types differ: missing {missing} unexpected {extra}"
    if got[:1] != want[:1] or got[-1:] != want[-1:]:
        return f"history starts/ends {got[:1]}..{got[-1:]} != {want[:1]}..{want[-1:]}"
    return ""


async def run_case(case: dict[str, Any], history_out: list[str] | None = None
                   ) -> tuple[str, str]:
    """("pass" | "fail", reason); with `history_out`, also appends the history difference
    ("" when the history matches AWS's)."""
    expected = case["expected"]
    matcher = HARNESS.Matcher(case.get("placeholder_strings", []))
    kind = case.get("kind", "execution")
    extra = case.get("create_args") or {}
    async with Runtime(clock="virtual", account="111111111111") as rt:
        if kind == "validate":
            try:
                found = rt.validate(_definition_text(case), type=extra.get("type", "STANDARD"))
            except AslError as error:
                return "fail", f"validate raised {error.code}"
            result = "FAIL" if any(d.severity == "ERROR" for d in found) else "OK"
            want = expected["validate"]
            if result != want.get("result"):
                return "fail", f"validate result {result} != {want.get('result')}"
            got_codes = sorted(d.code for d in found)
            want_codes = sorted(d.get("code", "") for d in want.get("diagnostics", []))
            if got_codes != want_codes:
                return "fail", f"diagnostic codes {got_codes} != {want_codes}"
            return "pass", ""
        name = "conf-" + hashlib.sha256(case["id"].encode()).hexdigest()[:16]
        if kind == "create_error":
            try:
                if extra.get("versionDescription") and not extra.get("publish"):
                    raise AslError("ValidationException",
                                   "Version description can only be set when publish is true")
                await rt.create_state_machine(name, _definition_text(case), role_arn=ROLE_ARN,
                                              type=extra.get("type", "STANDARD"))
            except AslError as error:
                want_code = expected["create_error"].get("code")
                if error.code != want_code:
                    return "fail", f"create error code {error.code} != {want_code}"
                return "pass", ""
            return "fail", "create_state_machine accepted the definition"
        try:
            arn = await rt.create_state_machine(name, _definition_text(case), role_arn=ROLE_ARN,
                                                type=extra.get("type", "STANDARD"))
        except AslError as error:
            return "fail", f"create rejected: {error.code}: {error.message[:150]}"
        raw = case.get("input")
        try:
            if case.get("input_raw"):
                execution_arn = await rt.start_execution(
                    arn, input_json=raw, name=case.get("execution_name"))
            else:
                execution_arn = await rt.start_execution(
                    arn, {} if raw is None else raw, name=case.get("execution_name"))
        except AslError as error:
            return "fail", f"start rejected: {error.code}: {error.message[:150]}"
        done = await rt.wait(execution_arn)
        if history_out is not None:
            history_out.append(history_difference(
                case, [e["type"] for e in rt.get_execution_history(execution_arn)]))
        if done.status != expected["status"]:
            return "fail", f"status {done.status} ({done.error}: {str(done.cause)[:200]}) " \
                           f"!= {expected['status']}"
        if done.status == "SUCCEEDED" and "output" in expected:
            if expected.get("output_raw"):
                actual = json.dumps(done.output)
                if not matcher.str_eq(expected["output"], actual):
                    return "fail", f"output {actual[:100]} != {str(expected['output'])[:100]}"
            else:
                difference = matcher.eq(expected["output"], done.output)
                if difference:
                    return "fail", "output " + difference
        if done.status == "FAILED":
            for key, actual in (("error", done.error), ("cause", done.cause)):
                if key not in expected:
                    continue
                want = expected[key]
                if isinstance(want, (dict, list)):
                    difference = matcher.eq(want, HARNESS._maybe_json(actual), key)
                elif matcher.str_eq(want, actual):
                    difference = None
                else:
                    difference = f"{key}: expected {json.dumps(want)[:150]} got " \
                                 f"{json.dumps(actual)[:150]}"
                if difference:
                    return "fail", difference
        return "pass", ""
