"""Task handler of the Map example: one call per order, given the ItemSelector's shape."""

from __future__ import annotations

from typing import Any


def convert_order(item: dict[str, Any]) -> dict[str, Any]:
    order = item["order"]
    return {
        "line": item["index"] + 1,
        "id": order["id"],
        "amount": round(order["amountUsd"] * item["rate"], 2),
        "currency": item["currency"],
    }


TASKS = {"convert_order": convert_order}
