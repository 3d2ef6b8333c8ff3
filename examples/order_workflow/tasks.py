"""Task handlers of the order workflow: plain Python functions named in TASKS.

A handler that takes a second argument receives the task call (`call.retry_count` is how many
times the state was retried before this attempt); an exception becomes a task error named after
its class, which the definition's Retry and Catch match on.
"""

from __future__ import annotations

from typing import Any


class PaymentGatewayTimeout(Exception):
    """Transient: the definition retries it."""


class PaymentDeclined(Exception):
    """Permanent: the definition catches it and compensates."""


def validate_order(order: dict[str, Any]) -> dict[str, Any]:
    items = order.get("items", [])
    valid = bool(items) and all(item["quantity"] > 0 for item in items)
    total = sum(item["quantity"] * item["unitPrice"] for item in items)
    return {"valid": valid, "total": total, "itemCount": len(items)}


def reserve_stock(request: dict[str, Any]) -> dict[str, Any]:
    units = sum(item["quantity"] for item in request["items"])
    return {"reservationId": f"R-{request['orderId']}", "units": units}


def charge_payment(payment: dict[str, Any], call: Any) -> dict[str, Any]:
    if payment["card"].endswith("-declined"):
        raise PaymentDeclined(f"card {payment['card']} was declined")
    # The gateway times out on the first attempt of every charge, so the retry always shows.
    if call.retry_count == 0:
        raise PaymentGatewayTimeout("payment gateway did not answer in time")
    return {"chargeId": f"CH-{payment['orderId']}", "amount": payment["amount"]}


def release_stock(request: dict[str, Any]) -> dict[str, Any]:
    return {"released": request["reservationId"]}


TASKS = {
    "validate_order": validate_order,
    "reserve_stock": reserve_stock,
    "charge_payment": charge_payment,
    "release_stock": release_stock,
}
