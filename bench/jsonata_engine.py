"""How fast compiled JSONata expressions evaluate, raw engine versus `runtime.dataflow.jsonata`.

Run: `python bench/jsonata_engine.py`. "raw" is jsonata-python's own `Jsonata(expr).evaluate()`
on an expression parsed once; "compiled" is `compile_jsonata_expression` (one frame per
evaluation, direct getters for plain member paths, no whole-result null conversion).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from jsonata import Jsonata

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.dataflow.jsonata import compile_jsonata_expression
from runtime.dataflow.scope import Scope

INPUT = {
    "a": 41,
    "name": "world",
    "items": list(range(100)),
    "big": {str(i): i for i in range(1000)},
}
VARIABLES = {"greeting": "hello"}

CASES = [
    ("member path", "$states.input.a"),
    ("add", "$states.input.a + 1"),
    ("string concat", "$greeting & ', ' & $states.input.name & '!'"),
    ("$map over 100", "$map($states.input.items, function($v) { $v * 2 })"),
    ("$sum over 100", "$sum($states.input.items)"),
    ("whole input (1000 keys)", "$states.input"),
]


def rate(function: Callable[[], object], seconds: float = 0.3) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            function()
        count += 50
    return count / elapsed


def main() -> None:
    scope = Scope(INPUT, variables=VARIABLES)
    started = time.perf_counter()
    for _, text in CASES:
        compile_jsonata_expression("{% " + text + " %}", field="Output")
    compile_ms = (time.perf_counter() - started) * 1000 / len(CASES)
    print(f"{'expression':<26}{'raw evals/s':>14}{'compiled evals/s':>18}")
    for label, text in CASES:
        raw = Jsonata(text)
        bindings = {"states": {"input": INPUT}, **VARIABLES}
        compiled = compile_jsonata_expression("{% " + text + " %}", field="Output")
        raw_rate = rate(lambda raw=raw, bindings=bindings: raw.evaluate(None, bindings))
        compiled_rate = rate(lambda compiled=compiled: compiled(scope))
        print(f"{label:<26}{raw_rate:>14,.0f}{compiled_rate:>18,.0f}")
    print(f"\ncompile (parse + checks): {compile_ms:.2f} ms per expression")


if __name__ == "__main__":
    main()
