"""What an expression (JSONPath, intrinsic, JSONata, Choice rule) can see while a state runs.

A `Scope` is built by the reducer for one evaluation; compiled expressions are plain callables
`(Scope) -> JSON`. The context object and the random source are built lazily because most
expressions use neither, and building them costs more than the evaluation itself.

Determinism: randomness (States.MathRandom, States.UUID, $random, $uuid) comes only from
`scope.random()`, a generator seeded from the execution's recorded seed and the event id of the
state being run, so a replay draws the same numbers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, Final

JSON = Any
"""A decoded JSON value: dict, list, str, int, float, bool or None."""

MISSING: Final[Any] = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""Marks an absent value (no result yet, no error output), distinct from JSON null."""


class Scope:
    """The inputs of one evaluation.

    Attributes:
        input: the value `$` refers to (the state's effective input, or the item for
            ItemSelector, ...).
        variables: workflow variables visible to this state (`$name` in both query languages).
        result: the task/state result (`$states.result`, ResultSelector's `$`), or MISSING.
        error_output: the error output in a Catch (`$states.errorOutput`), or MISSING.
    """

    __slots__ = ("_context", "_context_factory", "_rng", "_seed", "error_output", "input",
                 "result", "variables")

    def __init__(
        self,
        input: JSON,
        *,
        variables: Mapping[str, JSON] | None = None,
        context: Callable[[], JSON] | JSON = None,
        seed: int = 0,
        result: JSON = MISSING,
        error_output: JSON = MISSING,
    ) -> None:
        self.input = input
        self.variables: Mapping[str, JSON] = variables if variables is not None else {}
        if callable(context):
            self._context_factory: Callable[[], JSON] | None = context
            self._context: JSON = MISSING
        else:
            self._context_factory = None
            self._context = {} if context is None else context
        self._seed = seed
        self._rng: random.Random | None = None
        self.result = result
        self.error_output = error_output

    @property
    def context(self) -> JSON:
        """The context object `$$` (Execution, State, StateMachine, Task, Map)."""
        if self._context is MISSING:
            assert self._context_factory is not None
            self._context = self._context_factory()
        return self._context

    def random(self) -> random.Random:
        """A generator reproducible from the execution's recorded seed."""
        if self._rng is None:
            self._rng = random.Random(self._seed)
        return self._rng

    def with_input(self, value: JSON) -> Scope:
        """The same scope with `$` bound to another value (Map items, result selectors)."""
        clone = Scope.__new__(Scope)
        clone.input = value
        clone.variables = self.variables
        clone._context = self._context
        clone._context_factory = self._context_factory
        clone._seed = self._seed
        clone._rng = self._rng
        clone.result = self.result
        clone.error_output = self.error_output
        return clone


Evaluator = Callable[[Scope], JSON]
"""A compiled expression."""
