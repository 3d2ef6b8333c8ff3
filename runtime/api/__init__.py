"""The AWS Step Functions HTTP API (AWS JSON 1.0) over a `Runtime`."""

from runtime.api.app import create_app as create_app
from runtime.api.server import serve as serve

__all__ = ["create_app", "serve"]
