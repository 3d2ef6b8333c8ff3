"""Stepline: AWS Step Functions as an embeddable, event-sourced asyncio runtime."""

from runtime.engine import Execution as Execution
from runtime.engine import Runtime as Runtime
from runtime.errors import AslError as AslError
from runtime.errors import StatesError as StatesError

__all__ = ["AslError", "Execution", "Runtime", "StatesError"]
