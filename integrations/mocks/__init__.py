"""Mocked service integrations, configured as Step Functions Local and LocalStack configure
them (the SFN_MOCK_CONFIG file), for testing a state machine's paths without its services."""

from integrations.mocks.config import (
    MockCallable,
    MockConfig,
    MockConfigError,
    MockedResponse,
    UnknownTestCase,
    load_mock_config,
    mock_config_path,
    parse_mock_config,
    split_test_case,
)
from integrations.mocks.source import MockedIntegrations

__all__ = [
    "MockCallable",
    "MockConfig",
    "MockConfigError",
    "MockedIntegrations",
    "MockedResponse",
    "UnknownTestCase",
    "load_mock_config",
    "mock_config_path",
    "parse_mock_config",
    "split_test_case",
]
