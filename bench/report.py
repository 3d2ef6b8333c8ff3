"""Tables (Markdown, printed and written into bench/README.md) and the JSON results file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent / "README.md"
RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    if digits == 0 and abs(value) < 100:
        return f"{value:.3g}"
    return f"{value:,.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _error(result: dict[str, Any] | None) -> str | None:
    if result is None:
        return "not run"
    error = result.get("error")
    return None if error is None else "ERROR: " + str(error).strip().splitlines()[-1][:120]


def throughput_table(results: dict[str, Any]) -> str:
    floor = results["floor"]["transition_min_per_s"]
    rows = []
    for name, measured in results["workloads"].items():
        stepline, moto = measured.get("stepline"), measured.get("moto")
        step_failed, moto_failed = _error(stepline), _error(moto)
        step_rate = None if step_failed or stepline is None else stepline["transitions_per_s"]
        moto_rate = None if moto_failed or moto is None else moto["transitions_per_s"]
        scale = "" if moto_failed or moto is None or moto["input_scale"] == 1 else (
            f" (n={moto['input_scale']:g})")
        notes = list(measured.get("marks", []))
        compared = step_rate
        real_clock = measured.get("stepline_system_clock")
        if real_clock is not None:
            compared = None if _error(real_clock) else real_clock["transitions_per_s"]
            notes.insert(0, f"ratio on the system clock (Stepline {number(compared, 1)} "
                         "transitions/s): the timer waits in real time, as in moto")
        rows.append([
            name,
            step_failed or number(step_rate),
            "" if step_failed or stepline is None else number(stepline["executions_per_s"]),
            "" if step_failed or stepline is None else number(stepline["peak_rss_mib"]),
            (moto_failed or number(moto_rate, 1)) + scale,
            number(compared / moto_rate) + "x" if compared and moto_rate else "-",
            f"{number(floor)} ({step_rate / floor:.0%})" if step_rate else number(floor),
            "; ".join(notes),
        ])
    return table(["workload", "Stepline transitions/s", "Stepline executions/s",
                  "Stepline peak RSS MiB", "moto transitions/s", "ratio", "floor (Stepline %)",
                  "targets, notes"], rows)


def targets_table(results: dict[str, Any]) -> str:
    rows = [[t["what"], t["target"], t["measured"], "met" if t["met"] else "**MISSED**"]
            for t in results["targets"]]
    return table(["what", "target", "measured", ""], rows)


def http_table(results: dict[str, Any]) -> str:
    rows = []
    moto_http = results.get("moto_http")
    if moto_http is not None and not _error(moto_http):
        trips = moto_http["round_trips"]
        rows.append(["moto HTTP server (127.0.0.1)", number(moto_http["transitions_per_s"], 1),
                     number(moto_http["latency_s_median"], 2) + " s",
                     number(trips["start_execution_ms_median"], 2),
                     number(trips["describe_execution_ms_median"], 2),
                     number(trips["start_plus_describe_ms_median"], 2),
                     number(moto_http["server_peak_rss_mib"])])
    elif moto_http is not None:
        rows.append(["moto HTTP server", _error(moto_http) or "", "", "", "", "", ""])
    trip = results.get("round_trip")
    chain = results["workloads"].get("pass_chain_100", {}).get("stepline")
    if trip is not None and chain is not None and not _error(chain):
        rows.append(["Stepline in process", number(chain["transitions_per_s"]),
                     number(chain["latency_s_median"] * 1000, 2) + " ms", "-", "-",
                     number(trip["start_plus_describe_ms_median"], 4),
                     number(chain["peak_rss_mib"])])
    return table(["pass_chain_100 and API round trips", "transitions/s", "latency median",
                  "StartExecution ms", "DescribeExecution ms", "Start+Describe ms",
                  "peak RSS MiB"], rows)


def scale_table(results: dict[str, Any]) -> str:
    rows = []
    waiting = results["scale"].get("waiting")
    if waiting is not None:
        rows.append(["Wait 60 s, system clock", _error(waiting) or (
            f"{waiting['executions']:,} started and all waiting in "
            f"{waiting['all_waiting_s']:.2f} s (start calls {waiting['start_calls_s']:.2f} s); "
            f"RSS {waiting['rss_all_waiting_mib']:.0f} MiB while waiting, peak "
            f"{waiting['peak_rss_mib']:.0f} MiB; runtime stopped in "
            f"{waiting['stop_runtime_s']:.2f} s")])
    completion = results["scale"].get("completion")
    if completion is not None:
        rows.append([f"{completion.get('workload', 'wait_1s')}, virtual clock",
                     _error(completion) or (
            f"{completion['completed']:,} of {completion['executions']:,} completed in "
            f"{completion['total_s']:.1f} s (start calls {completion['start_calls_s']:.1f} s, "
            f"{completion['executions_per_s']:,.0f} executions/s); peak RSS "
            f"{completion['peak_rss_mib']:.0f} MiB")])
    return table(["many executions in one process", "result"], rows)


def durable_table(results: dict[str, Any]) -> str:
    rows = []
    for run in results["durable"]:
        if _error(run):
            rows.append([str(run.get("workload")), str(run.get("durability")), _error(run) or "",
                         "", "", "", "", ""])
            continue
        per_fsync = run["appends_per_fsync"]
        rows.append([run["workload"], run["durability"], f"{run['executions']:,}",
                     number(run["events_per_s"]), number(run["appends_per_s"]),
                     f"{run['fsyncs']:,}", "-" if per_fsync is None else f"{per_fsync:.1f}",
                     number(run["transitions_per_s"])])
    floor = results["floor"]["fsync"]
    rows.append(["floor: 200 B records, write+fsync", "", "", "",
                 " / ".join(f"{f['records_per_s']:,.0f} at {f['records_per_fsync']}/fsync"
                            for f in floor), "", "", ""])
    return table(["workload", "durability", "executions", "events/s fsynced", "appends/s",
                  "fsyncs", "appends/fsync", "transitions/s"], rows)


def profile_table(results: dict[str, Any]) -> str:
    profile = results["profile"]
    rows = [[f"`{f['function']}`", f"{f['calls_per_transition']:.2f}",
             f"{f['own_us_per_transition']:.2f}", f"{f['own_share']:.1%}",
             f"{f['cumulative_s']:.3f}"] for f in profile["functions"]]
    return table(["function", "calls/transition", "own µs/transition", "own share",
                  "cumulative s"], rows)


def render(results: dict[str, Any]) -> str:
    parts = [f"Measured {results['date']} (source {results['revision']}) on "
             f"{results['machine_description']}; "
             f"mode {results['mode']}, {results['elapsed_s']:.0f} s in all; load average "
             f"(1 min) {results['machine']['load_average_at_start'][0]} at the start, "
             f"{results['load_average_at_end'][0]} at the end.", "",
             throughput_table(results), "", targets_table(results)]
    core = results.get("core")
    if core is not None:
        parts += ["", f"Pure core alone (`decide` on pass_chain_100's StartExecution, no actor "
                  f"or log): {core['transitions_per_s']:,.0f} transitions/s "
                  f"({core['decisions_per_s']:,.0f} decisions/s, "
                  f"{core['events_per_decision']} events each)."]
    if "moto_http" in results or "round_trip" in results:
        parts += ["", http_table(results)]
    if results.get("scale"):
        parts += ["", scale_table(results)]
    if results.get("durable"):
        parts += ["", durable_table(results)]
    if results.get("profile"):
        profile = results["profile"]
        parts += ["", f"cProfile, {profile['executions']} pass_chain_100 executions "
                  f"({profile['transitions_per_s_under_profiler']:,.0f} transitions/s under the "
                  f"profiler), top functions by own time:", "", profile_table(results)]
    return "\n".join(parts) + "\n"


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def write_readme(rendered: str, json_path: Path) -> None:
    """Replace the results section of bench/README.md with `rendered`."""
    text = README.read_text()
    section = (f"{RESULTS_START}\n_Raw numbers: `{json_path.name}` in `bench/results/`._\n\n"
               f"{rendered}{RESULTS_END}")
    pattern = re.compile(re.escape(RESULTS_START) + ".*?" + re.escape(RESULTS_END), re.S)
    README.write_text(pattern.sub(lambda _: section, text))
