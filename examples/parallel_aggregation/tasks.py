"""Task handlers of the Parallel example: one per report figure that needs real code."""

from __future__ import annotations

from typing import Any


def sum_revenue(request: dict[str, Any]) -> float:
    amounts: list[float] = [sale["amount"] for sale in request["sales"]]
    return sum(amounts)


def top_product(sales: list[dict[str, Any]]) -> dict[str, Any]:
    units_by_sku: dict[str, int] = {}
    for sale in sales:
        units_by_sku[sale["sku"]] = units_by_sku.get(sale["sku"], 0) + sale["units"]
    # max() keeps the first of equal counts: a tie goes to the SKU that sold first.
    sku = max(units_by_sku, key=lambda name: units_by_sku[name])
    return {"sku": sku, "units": units_by_sku[sku]}


TASKS = {"sum_revenue": sum_revenue, "top_product": top_product}
