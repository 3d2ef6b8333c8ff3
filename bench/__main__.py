"""`python -m bench [--quick] [--only NAME,...] [--json PATH]`: Stepline beside moto and the
floor, per workload, plus scale, durability, API round trips and a profile of the hot path.

`--only` takes workload names and section names (http, core, scale, durable, profile); the
floor is always measured. A full run (neither --quick nor --only) also rewrites the results
section of bench/README.md. The JSON goes to PATH, or to bench/results/<date>[-quick].json.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec

from bench import floor, report
from bench.system import describe_machine, machine, run_child, source_revision
from bench.workloads import MOTO_SCALE, WORKLOAD_NAMES, Workload, load_workload, smaller_input
from runtime.log.file import Durability

SECTIONS = ("http", "core", "scale", "durable", "profile")
RESULTS_DIR = Path(__file__).resolve().parent / "results"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    stepline_seconds: float
    #: Timed moto executions per workload, after one warm-up (each takes seconds).
    moto_reps: dict[str, int]
    http_reps: int
    round_trip_samples: int
    stepline_round_trips: int
    core_seconds: float
    floor_seconds: float
    waiting_executions: int
    completion_executions: int
    completion_limit_s: float
    #: (workload, durability, concurrent executions)
    durable: tuple[tuple[str, Durability, int], ...]
    profile_executions: int


FULL = Settings(
    stepline_seconds=3.0,
    moto_reps={"pass_chain_100": 5, "choice_loop": 3, "map_1000": 3, "parallel_10x10": 5,
               "retry_catch": 2, "catch_only": 9, "wait_1s": 3},
    http_reps=3, round_trip_samples=30, stepline_round_trips=2000, core_seconds=2.0,
    floor_seconds=1.0, waiting_executions=10_000, completion_executions=100_000,
    completion_limit_s=300.0,
    durable=(("pass_chain_100", "group", 1000), ("pass_chain_100", "fsync", 300),
             ("catch_only", "group", 10_000), ("catch_only", "fsync", 2000)),
    profile_executions=300,
)
QUICK = Settings(
    stepline_seconds=1.0, moto_reps=dict.fromkeys(WORKLOAD_NAMES, 1), http_reps=1,
    round_trip_samples=10, stepline_round_trips=500, core_seconds=1.0, floor_seconds=0.5,
    waiting_executions=10_000, completion_executions=10_000, completion_limit_s=120.0,
    durable=(("pass_chain_100", "group", 200), ("pass_chain_100", "fsync", 50),
             ("catch_only", "group", 2000), ("catch_only", "fsync", 400)),
    profile_executions=100,
)
WAIT_SECONDS_AT_SCALE = 60

# Targets: pass_chain_100 in memory on one core, and its ratio to moto in process.
CHAIN_TARGET_PER_S = 50_000
DESIGN_GOAL_PER_S = 100_000
RATIO_TARGET = 20
START_ALL_TARGET_S = 10.0
RSS_TARGET_MIB = 2048.0


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def arguments(workload: Workload, **more: Any) -> dict[str, Any]:
    return {"workload": msgspec.to_builtins(workload), **more}


def measure_workload(name: str, settings: Settings) -> dict[str, Any]:
    from bench.stepline import expected_for

    workload = load_workload(name)
    progress(f"{name}: Stepline")
    stepline = run_child("stepline", arguments(workload, seconds=settings.stepline_seconds,
                                               clock="virtual"), timeout=300)
    real_clock = None
    if stepline.get("waits_on_timers"):
        # moto sleeps through Waits and retry intervals; the like-for-like figure is this one.
        progress(f"{name}: Stepline on the system clock")
        real_clock = run_child("stepline", arguments(
            workload, seconds=settings.stepline_seconds, clock="system"), timeout=300)
    peer = workload
    if name in MOTO_SCALE:
        size = MOTO_SCALE[name]
        smaller = Workload(name=name, definition=workload.definition,
                           input=smaller_input(workload, size), expected_output=None,
                           transitions_per_execution=0, input_scale=size)
        peer = anyio.run(expected_for, smaller)
    progress(f"{name}: moto in process ({settings.moto_reps[name]} runs + warm-up)")
    moto = run_child("moto", arguments(peer, reps=settings.moto_reps[name]), timeout=900)
    return {"stepline": stepline, "stepline_system_clock": real_clock, "moto": moto}


def measure_sections(selected: set[str], settings: Settings, results: dict[str, Any]) -> None:
    from bench.durable import measure_durable
    from bench.hotpath import profile_executions
    from bench.stepline import measure_core, measure_round_trip

    chain = load_workload("pass_chain_100")
    if "core" in selected:
        progress("pure core and in-process round trips")
        results["core"] = anyio.run(measure_core, chain, settings.core_seconds)
        results["round_trip"] = anyio.run(measure_round_trip, settings.stepline_round_trips)
    if "http" in selected:
        progress("moto HTTP server: pass_chain_100 and round trips")
        results["moto_http"] = run_child(
            "moto-http", arguments(chain, reps=settings.http_reps,
                                   round_trip_samples=settings.round_trip_samples), timeout=600)
    if "scale" in selected:
        wait = load_workload("wait_1s")
        progress(f"{settings.waiting_executions:,} executions waiting, system clock")
        waiting = run_child("waiting", arguments(
            wait, executions=settings.waiting_executions,
            wait_seconds=WAIT_SECONDS_AT_SCALE), timeout=120)
        progress(f"{settings.completion_executions:,} executions, virtual clock")
        completion = run_child("completion", arguments(
            wait, executions=settings.completion_executions,
            limit_s=settings.completion_limit_s), timeout=settings.completion_limit_s + 120)
        results["scale"] = {"waiting": waiting, "completion": completion}
    if "durable" in selected:
        results["durable"] = []
        for name, durability, executions in settings.durable:
            progress(f"durable file log: {name} x {executions}, durability {durability}")
            results["durable"].append(anyio.run(measure_durable, load_workload(name),
                                                durability, executions))
    if "profile" in selected:
        progress("cProfile of pass_chain_100")
        results["profile"] = anyio.run(profile_executions, chain, settings.profile_executions, 15)


def _target(what: str, target: str, measured: str, met: bool) -> dict[str, Any]:
    return {"what": what, "target": target, "measured": measured, "met": met}


def judge(results: dict[str, Any]) -> None:
    """Compare with the targets; record each and mark the table rows."""
    targets: list[dict[str, Any]] = []
    chain = results["workloads"].get("pass_chain_100")
    if chain is not None and "error" not in chain["stepline"]:
        rate = chain["stepline"]["transitions_per_s"]
        marks = chain.setdefault("marks", [])
        for goal, label in ((CHAIN_TARGET_PER_S, "target"),
                            (DESIGN_GOAL_PER_S, "design goal (DESIGN.md)")):
            met = rate >= goal
            targets.append(_target(f"pass_chain_100 in memory, one core: {label}",
                                   f">= {goal:,} transitions/s", f"{rate:,.0f}", met))
            marks.append(f"≥{goal // 1000}k {'met' if met else '**MISSED**'}")
        if "error" not in chain["moto"]:
            ratio = rate / chain["moto"]["transitions_per_s"]
            met = ratio >= RATIO_TARGET
            targets.append(_target("pass_chain_100: Stepline / moto in process",
                                   f">= {RATIO_TARGET}x", f"{ratio:,.0f}x", met))
            marks.append(f"≥{RATIO_TARGET}x {'met' if met else '**MISSED**'}")
    waiting = results.get("scale", {}).get("waiting")
    if waiting is not None and "error" not in waiting:
        count = f"{waiting['executions']:,} executions in a 60 s Wait"
        targets.append(_target(f"{count}: time until all are waiting",
                               f"< {START_ALL_TARGET_S:g} s", f"{waiting['all_waiting_s']:.2f} s",
                               waiting["all_waiting_s"] < START_ALL_TARGET_S))
        targets.append(_target(f"{count}: peak RSS", f"< {RSS_TARGET_MIB / 1024:g} GiB",
                               f"{waiting['peak_rss_mib']:.0f} MiB",
                               waiting["peak_rss_mib"] < RSS_TARGET_MIB))
    completion = results.get("scale", {}).get("completion")
    if completion is not None and "error" not in completion:
        targets.append(_target(f"{completion['executions']:,} executions, virtual clock",
                               "all complete", f"{completion['completed']:,} in "
                               f"{completion['total_s']:.1f} s",
                               completion["completed"] == completion["executions"]))
    results["targets"] = targets


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs")
    parser.add_argument("--only", help="comma-separated workloads and sections: "
                        + ",".join(WORKLOAD_NAMES + SECTIONS))
    parser.add_argument("--json", type=Path, help="where to write the JSON results")
    options = parser.parse_args()
    selected = set(options.only.split(",")) if options.only else set(WORKLOAD_NAMES + SECTIONS)
    unknown = selected - set(WORKLOAD_NAMES + SECTIONS)
    if unknown:
        parser.error(f"unknown names: {', '.join(sorted(unknown))}")
    settings = QUICK if options.quick else FULL
    began = time.perf_counter()
    facts = machine()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": facts, "machine_description": describe_machine(facts),
        "revision": source_revision(),
        "mode": "quick" if options.quick else "full", "only": sorted(selected),
        "settings": msgspec.to_builtins(settings),
    }
    progress("floor")
    results["floor"] = floor.measure(settings.floor_seconds)
    results["workloads"] = {name: measure_workload(name, settings)
                            for name in WORKLOAD_NAMES if name in selected}
    measure_sections(selected, settings, results)
    results["elapsed_s"] = time.perf_counter() - began
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    judge(results)
    rendered = report.render(results)
    print(rendered)
    day = results["date"][:10]
    json_path = options.json or RESULTS_DIR / f"{day}{'-quick' if options.quick else ''}.json"
    report.write_json(results, json_path)
    progress(f"wrote {json_path}")
    if not options.quick and not options.only:
        report.write_readme(rendered, json_path)
        progress(f"updated {report.README}")


if __name__ == "__main__":
    main()
