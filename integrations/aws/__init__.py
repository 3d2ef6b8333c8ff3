"""AWS service integrations for Task states, over aiobotocore."""

from integrations.aws.source import AwsIntegrations as AwsIntegrations

__all__ = ["AwsIntegrations"]
