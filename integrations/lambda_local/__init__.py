"""A local AWS Lambda service for Python functions: the Lambda REST API (botocore's `lambda`
client works unchanged) running each function's handler in warm worker processes."""

from integrations.lambda_local.app import create_lambda_app as create_lambda_app
from integrations.lambda_local.server import serve_lambda as serve_lambda
from integrations.lambda_local.service import LambdaService as LambdaService

__all__ = ["LambdaService", "create_lambda_app", "serve_lambda"]
