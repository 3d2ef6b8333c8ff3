"""Process and machine facts, and running one measurement in a fresh child process (so its
peak RSS is its own)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.workloads import REPO_ROOT

RESULT_PREFIX = "RESULT "
#: Versions that move the figures: moto's speed depends mostly on jsonpath-ng's.
PACKAGES = ("moto", "boto3", "jsonpath-ng", "antlr4-python3-runtime", "anyio", "msgspec")


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def process_peak_rss_mib(pid: int) -> float | None:
    """VmHWM of another process, if it is still there to ask."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return None


def machine() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(memory_gib, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "packages": {name: _version(name) for name in PACKAGES},
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def source_revision() -> str:
    """The commit measured, with "+dirty" when runtime/ has uncommitted changes (the working
    tree is what runs)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO_ROOT,
                              check=False).stdout.strip()

    dirty = git("status", "--porcelain", "--", "runtime", "integrations")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def describe_machine(facts: dict[str, Any]) -> str:
    return (f"{facts['cpus']} CPUs ({facts['cpu_model'] or 'unknown model'}), "
            f"{facts['memory_gib']} GiB RAM, {facts['platform']}, Python {facts['python']}")


def run_child(kind: str, arguments: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """Run `python -m bench.child KIND ARGUMENTS` and return the JSON it reports.

    A failure is returned as `{"error": ...}` so one broken measurement leaves the rest standing.
    """
    command = [sys.executable, "-m", "bench.child", kind, json.dumps(arguments)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=REPO_ROOT, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"{kind} timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-1500:]}
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT_PREFIX):])
    return result


def report_to_parent(result: dict[str, Any]) -> None:
    print(RESULT_PREFIX + json.dumps(result), flush=True)
