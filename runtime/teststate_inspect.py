"""TestState's inspectionData (DEBUG and TRACE): the data-flow stages of the state under test,
each as JSON text, named as AWS's InspectionData names them.

JSONPath states report afterInputPath, afterParameters (Tasks and Parallel), result,
afterResultSelector and afterResultPath; JSONata states report afterArguments. A Map also
reports the stages that make its iterations' inputs: afterItemsPath (JSONPath only), the
batches (afterItemBatcher) and each iteration's input (afterItemSelector), as the Map would
start them, and its limits: maxConcurrency (always, 0 when unbounded) and the
toleratedFailureCount / toleratedFailurePercentage that are set. A Map with an ItemReader
reads its items from `stateConfiguration.mapItemReaderData`; without it no S3 call is made and
the item stages are left out.

TRACE adds, for an HTTP Task that made its call, the raw exchange: `request` (protocol,
method, url, headers, body) and `response` (protocol, statusCode, statusMessage, headers,
body), every value a string, headers written `[Name: value, Name: value]`. Credentials
(Authorization, Proxy-Authorization) are left out of the request's headers unless
`revealSecrets`: AWS hides what an EventBridge connection adds to the request, and Stepline has
no connection store, so these headers stand for that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from integrations.http import HttpExchange
from runtime.dataflow.items import batches, reader_items
from runtime.dataflow.paths import compile_input_path, compile_result_path
from runtime.dataflow.payload import compile_payload
from runtime.dataflow.scope import JSON, Scope
from runtime.errors import AslError, StatesError
from runtime.program import MapNode, Node
from runtime.reducers.turn import Turn

_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization"})


def text(value: JSON) -> str:
    return msgspec.json.encode(value).decode()


def http_inspection(exchange: HttpExchange, *, reveal_secrets: bool) -> dict[str, Any]:
    """inspectionData.request and .response (no response when the call got none)."""
    sent = exchange.request
    protocol = urlsplit(sent.url).scheme
    headers = sent.headers if reveal_secrets else [
        (name, value) for name, value in sent.headers
        if name.lower() not in _CREDENTIAL_HEADERS]
    out: dict[str, Any] = {"request": {
        "protocol": protocol, "method": sent.method, "url": sent.url,
        "headers": _header_text(headers), "body": _body_text(sent.body)}}
    received = exchange.response
    if received is not None:
        out["response"] = {
            "protocol": protocol, "statusCode": str(received.status),
            "statusMessage": received.reason, "headers": _header_text(received.headers),
            "body": _body_text(received.body)}
    return out


def _header_text(headers: list[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{name}: {value}" for name, value in headers) + "]"


def _body_text(body: bytes | None) -> str:
    return body.decode("utf-8", "replace") if body else ""


class Stages:
    """The JSONPath stages of a state, compiled once per TestState call."""

    __slots__ = ("input_path", "parameters", "result_path", "result_selector")

    def __init__(self, spec: dict[str, Any], node: Node) -> None:
        self.input_path: Callable[[Scope], JSON] = compile_input_path(spec.get("InputPath", "$"))
        # A Map's Parameters are its (legacy) ItemSelector, reported as afterItemSelector.
        template = spec.get("Parameters") if node.kind != "Map" else None
        self.parameters = compile_payload(template) if template is not None else None
        selector = spec.get("ResultSelector")
        self.result_selector = compile_payload(selector) if selector is not None else None
        self.result_path: Callable[[JSON, JSON], JSON] | None = (
            compile_result_path(spec.get("ResultPath", "$"))
            if node.kind in ("Task", "Map", "Parallel", "Pass") else None)

    def data_flow(self, node: Node, value: JSON, variables: dict[str, JSON],
                  arguments: JSON, result: JSON) -> dict[str, str]:
        """The stages from the state's input to afterResultPath. `arguments` are the task's
        parameters as scheduled (None if none was); `result` the raw result (None if none)."""
        out: dict[str, str] = {}
        scope = Scope(value, variables=variables)
        try:
            if node.jsonata:
                if arguments is not None:
                    out["afterArguments"] = text(arguments)
            else:
                after_input = self.input_path(scope)
                out["afterInputPath"] = text(after_input)
                if self.parameters is not None:
                    out["afterParameters"] = text(
                        arguments if arguments is not None
                        else self.parameters(scope.with_input(after_input)))
            if result is not None:
                out["result"] = text(result)
                if not node.jsonata and self.result_path is not None:
                    selected = self.result_selector(scope.with_input(result)) \
                        if self.result_selector is not None else result
                    if self.result_selector is not None:
                        out["afterResultSelector"] = text(selected)
                    out["afterResultPath"] = text(self.result_path(value, selected))
        except StatesError:
            pass  # the state failed on this stage; its error is the answer
        return out


class MapStages(msgspec.Struct, kw_only=True):
    """What a Map would start its iterations with, and its limits."""

    #: inspectionData entries (afterItemsPath, afterItemBatcher, afterItemSelector, limits).
    data: dict[str, Any]
    #: How many iterations the Map would run; None if the items are unknown.
    iterations: int | None
    tolerated_count: float | None
    tolerated_percentage: float | None


def map_stages(turn: Turn, node: MapNode, reader_data: str | None) -> MapStages:
    """Raises StatesError where the Map itself would fail evaluating these fields."""
    frame = turn.frame("")
    scope = turn.scope(frame)
    data: dict[str, Any] = {}
    concurrency = node.max_concurrency(scope) if node.max_concurrency is not None else 0
    data["maxConcurrency"] = int(concurrency)
    count = node.tolerated_count(scope) if node.tolerated_count is not None else None
    percentage = (node.tolerated_percentage(scope)
                  if node.tolerated_percentage is not None else None)
    if count is not None:
        data["toleratedFailureCount"] = int(count)
    if percentage is not None:
        data["toleratedFailurePercentage"] = float(percentage)
    inner = scope if node.jsonata else scope.with_input(node.effective_input(scope))
    items = _items(node, scope, inner, reader_data)
    if items is None:
        return MapStages(data=data, iterations=None, tolerated_count=count,
                         tolerated_percentage=percentage)
    if not node.jsonata and node.reader is None:
        data["afterItemsPath"] = text(items)
    if node.batch_max_items is not None or node.batch_max_bytes is not None \
            or node.batch_input is not None:
        max_items = node.batch_max_items(inner) if node.batch_max_items is not None else None
        max_bytes = node.batch_max_bytes(inner) if node.batch_max_bytes is not None else None
        items = batches(items, max_items=int(max_items) if max_items else None,
                        max_bytes=int(max_bytes) if max_bytes else None,
                        batch_input=node.batch_input(inner) if node.batch_input else None)
        data["afterItemBatcher"] = text(items)
    if node.item_selector is not None:
        selected = []
        for index, item in enumerate(items):
            item_scope = turn.scope(frame, item=(index, item))
            if not node.jsonata:
                item_scope = item_scope.with_input(node.effective_input(item_scope))
            selected.append(node.item_selector(item_scope))
        data["afterItemSelector"] = text(selected)
    return MapStages(data=data, iterations=len(items), tolerated_count=count,
                     tolerated_percentage=percentage)


def _items(node: MapNode, scope: Scope, inner: Scope, reader_data: str | None
           ) -> list[JSON] | None:
    reader = node.reader
    if reader is None:
        items: list[JSON] = node.items(scope)
        return items
    if reader_data is None:
        return None
    if reader.action == "listObjectsV2":
        try:
            listed = msgspec.json.decode(reader_data)
        except msgspec.DecodeError:
            raise AslError("ValidationException",
                           "mapItemReaderData must be a JSON array of S3 objects for an "
                           "ItemReader that lists objects.") from None
        response: JSON = {"Contents": listed}
    else:
        response = {"Body": reader_data}
    limit = reader.max_items(inner) if reader.max_items else None
    return reader_items(reader.action, response, reader.config, int(limit) if limit else None)
