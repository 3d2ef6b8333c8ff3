"""Resource -> integration, in one explicit place."""

from __future__ import annotations

from collections.abc import Sequence

from integrations._base import JSON, Integration, IntegrationSource


class CallResolver:
    """Asks each source in order (the runtime puts Python callables first, so a local
    function can stand in for a Lambda function of the same name)."""

    def __init__(self, sources: Sequence[IntegrationSource]) -> None:
        self.sources = tuple(sources)

    def resolve(self, resource: str, parameters: JSON) -> Integration | None:
        for source in self.sources:
            found = source.resolve_call(resource, parameters)
            if found is not None:
                return found
        return None
