"""A function's configuration per version, and the JSON shapes the API returns for it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integrations.lambda_local.code import CodeArtifact
from integrations.lambda_local.names import LATEST


def timestamp() -> str:
    """LastModified as Lambda formats it: `2024-05-01T12:00:00.000+0000`."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, kw_only=True)
class FunctionVersion:
    """$LATEST (replaced on every update) or a published version (never changed)."""

    name: str
    #: The unqualified function ARN.
    arn: str
    version: str
    runtime: str
    role: str
    handler: str
    description: str
    timeout: int
    memory_size: int
    environment: Mapping[str, str]
    code: CodeArtifact
    last_modified: str = field(default_factory=timestamp)
    revision_id: str = field(default_factory=new_revision)

    @property
    def qualified_arn(self) -> str:
        return f"{self.arn}:{self.version}"

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    def same_deployment(self, other: FunctionVersion) -> bool:
        """Whether publishing `self` after `other` would publish nothing new."""
        return (self.code.sha256, self.runtime, self.role, self.handler, self.timeout,
                self.memory_size, dict(self.environment)) == (
            other.code.sha256, other.runtime, other.role, other.handler, other.timeout,
            other.memory_size, dict(other.environment))


@dataclass(frozen=True, kw_only=True)
class Alias:
    name: str
    function_version: str
    description: str
    arn: str
    revision_id: str = field(default_factory=new_revision)

    def describe(self) -> dict[str, Any]:
        return {"AliasArn": self.arn, "Name": self.name, "FunctionVersion": self.function_version,
                "Description": self.description, "RevisionId": self.revision_id}


def configuration(version: FunctionVersion) -> dict[str, Any]:
    """The FunctionConfiguration shape. Code is live once unpacked, so State is always
    Active and the last update Successful (AWS may report Pending first; clients wait)."""
    arn = version.arn if version.version == LATEST else version.qualified_arn
    return {
        "FunctionName": version.name,
        "FunctionArn": arn,
        "Runtime": version.runtime,
        "Role": version.role,
        "Handler": version.handler,
        "CodeSize": version.code.size,
        "Description": version.description,
        "Timeout": version.timeout,
        "MemorySize": version.memory_size,
        "LastModified": version.last_modified,
        "CodeSha256": version.code.sha256,
        "Version": version.version,
        "Environment": {"Variables": dict(version.environment)},
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": version.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{version.name}"},
    }
