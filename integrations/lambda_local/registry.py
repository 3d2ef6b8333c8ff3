"""The functions one service holds: their $LATEST, published versions and aliases.

Synchronous and called from the event loop only, so each operation is atomic. Unpacking and
deleting code is the caller's (blocking) business: operations that drop a package return it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.lambda_local.code import CodeArtifact
from integrations.lambda_local.errors import LambdaApiError, not_found
from integrations.lambda_local.model import Alias, FunctionVersion, new_revision, timestamp
from integrations.lambda_local.names import LATEST, function_arn

DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY = 128
_RUNTIME_RE = re.compile(r"python3\.\d+")
_ROLE_RE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
_VERSION_RE = re.compile(r"\d+")
#: Variables Lambda sets itself; AWS refuses them in a function's Environment.
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


@dataclass(kw_only=True)
class Function:
    latest: FunctionVersion
    versions: dict[str, FunctionVersion] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    last_version: int = 0

    def artifacts(self) -> set[CodeArtifact]:
        return {self.latest.code, *(version.code for version in self.versions.values())}


class Registry:
    def __init__(self, account: str) -> None:
        self.account = account
        self._functions: dict[str, Function] = {}

    # ---- reading -------------------------------------------------------------------------

    def function(self, name: str, region: str) -> Function:
        found = self._functions.get(name)
        if found is None:
            raise not_found(function_arn(region, self.account, name))
        return found

    def resolve(self, name: str, qualifier: str | None, region: str) -> FunctionVersion:
        """The version a (name, qualifier) addresses: $LATEST, a version number or an alias."""
        found = self._functions.get(name)
        version = None if found is None else _qualified(found, qualifier or LATEST)
        if version is None:
            arn = function_arn(region, self.account, name)
            raise not_found(f"{arn}:{qualifier}" if qualifier else arn)
        return version

    def functions(self) -> list[FunctionVersion]:
        return [self._functions[name].latest for name in sorted(self._functions)]

    def versions(self, name: str, region: str) -> list[FunctionVersion]:
        function = self.function(name, region)
        return [function.latest, *function.versions.values()]

    # ---- functions -----------------------------------------------------------------------

    def create(self, name: str, params: Mapping[str, Any], code: CodeArtifact,
               region: str) -> Function:
        if name in self._functions:
            raise LambdaApiError("ResourceConflictException", f"Function already exist: {name}")
        latest = FunctionVersion(
            name=name, arn=function_arn(region, self.account, name), version=LATEST,
            runtime=_runtime(params.get("Runtime")), role=_role(params.get("Role")),
            handler=_handler(params.get("Handler")),
            description=_description(params.get("Description", "")),
            timeout=_timeout(params.get("Timeout", DEFAULT_TIMEOUT)),
            memory_size=_memory(params.get("MemorySize", DEFAULT_MEMORY)),
            environment=_environment(params.get("Environment")), code=code,
        )
        function = Function(latest=latest, tags=_tags(params.get("Tags")))
        self._functions[name] = function
        return function

    def update_code(self, name: str, code: CodeArtifact, region: str,
                    revision_id: str | None) -> tuple[FunctionVersion, CodeArtifact | None]:
        """The new $LATEST, and the replaced package if no version still uses it."""
        function = self.function(name, region)
        _check_revision(function.latest, revision_id)
        old = function.latest.code
        function.latest = dataclasses.replace(function.latest, code=code,
                                              last_modified=timestamp(),
                                              revision_id=new_revision())
        return function.latest, None if old in function.artifacts() else old

    def update_configuration(self, name: str, params: Mapping[str, Any],
                             region: str) -> FunctionVersion:
        function = self.function(name, region)
        latest = function.latest
        _check_revision(latest, params.get("RevisionId"))
        changes: dict[str, Any] = {}
        if "Runtime" in params:
            changes["runtime"] = _runtime(params["Runtime"])
        if "Role" in params:
            changes["role"] = _role(params["Role"])
        if "Handler" in params:
            changes["handler"] = _handler(params["Handler"])
        if "Description" in params:
            changes["description"] = _description(params["Description"])
        if "Timeout" in params:
            changes["timeout"] = _timeout(params["Timeout"])
        if "MemorySize" in params:
            changes["memory_size"] = _memory(params["MemorySize"])
        if "Environment" in params:
            changes["environment"] = _environment(params["Environment"])
        function.latest = dataclasses.replace(latest, **changes, last_modified=timestamp(),
                                              revision_id=new_revision())
        return function.latest

    def delete(self, name: str, qualifier: str | None, region: str) -> set[CodeArtifact]:
        """Delete the function, or one published version of it; the packages now unused."""
        function = self.function(name, region)
        if qualifier is None or qualifier == LATEST:
            if qualifier == LATEST:
                raise LambdaApiError("InvalidParameterValueException",
                                     "$LATEST version cannot be deleted without deleting the "
                                     "function.")
            del self._functions[name]
            return function.artifacts()
        version = function.versions.get(qualifier)
        if version is None:
            raise not_found(f"{function.latest.arn}:{qualifier}")
        using = sorted(a.name for a in function.aliases.values()
                       if a.function_version == qualifier)
        if using:
            raise LambdaApiError("ResourceConflictException",
                                 f"Unable to delete version because the following aliases "
                                 f"reference it: {using}")
        before = function.artifacts()
        del function.versions[qualifier]
        return before - function.artifacts()

    # ---- versions and aliases ------------------------------------------------------------

    def publish(self, name: str, params: Mapping[str, Any], region: str) -> FunctionVersion:
        function = self.function(name, region)
        latest = function.latest
        _check_revision(latest, params.get("RevisionId"))
        expected_sha = params.get("CodeSha256")
        if expected_sha is not None and expected_sha != latest.code.sha256:
            raise LambdaApiError("InvalidParameterValueException",
                                 f"CodeSHA256 ({expected_sha}) is different from current "
                                 f"CodeSHA256 in $LATEST ({latest.code.sha256}). Please try "
                                 "again with the CodeSHA256 in $LATEST.")
        newest = function.versions.get(str(function.last_version))
        if newest is not None and latest.same_deployment(newest):
            return newest
        function.last_version += 1
        version = dataclasses.replace(
            latest, version=str(function.last_version), revision_id=new_revision(),
            description=_description(params.get("Description", latest.description)))
        function.versions[version.version] = version
        return version

    def create_alias(self, name: str, params: Mapping[str, Any], region: str) -> Alias:
        function = self.function(name, region)
        alias_name = params.get("Name")
        if not isinstance(alias_name, str) or not alias_name or _VERSION_RE.fullmatch(alias_name):
            raise LambdaApiError("ValidationException",
                                 f"1 validation error detected: Value '{alias_name}' at 'name' "
                                 "failed to satisfy constraint: Member must satisfy regular "
                                 "expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
        if alias_name in function.aliases:
            raise LambdaApiError("ResourceConflictException",
                                 f"Alias already exists: {function.latest.arn}:{alias_name}")
        alias = Alias(name=alias_name,
                      function_version=self._alias_target(function, params.get("FunctionVersion")),
                      description=_description(params.get("Description", "")),
                      arn=f"{function.latest.arn}:{alias_name}")
        function.aliases[alias_name] = alias
        return alias

    def alias(self, name: str, alias_name: str, region: str) -> Alias:
        function = self.function(name, region)
        alias = function.aliases.get(alias_name)
        if alias is None:
            raise LambdaApiError("ResourceNotFoundException",
                                 f"Cannot find alias arn: {function.latest.arn}:{alias_name}")
        return alias

    def aliases(self, name: str, region: str) -> list[Alias]:
        return list(self.function(name, region).aliases.values())

    def update_alias(self, name: str, alias_name: str, params: Mapping[str, Any],
                     region: str) -> Alias:
        alias = self.alias(name, alias_name, region)
        if params.get("RevisionId") not in (None, alias.revision_id):
            raise _stale_revision()
        function = self._functions[name]
        updated = dataclasses.replace(
            alias, revision_id=new_revision(),
            function_version=(self._alias_target(function, params["FunctionVersion"])
                              if "FunctionVersion" in params else alias.function_version),
            description=_description(params.get("Description", alias.description)))
        function.aliases[alias_name] = updated
        return updated

    def delete_alias(self, name: str, alias_name: str, region: str) -> None:
        function = self.function(name, region)
        function.aliases.pop(alias_name, None)

    @staticmethod
    def _alias_target(function: Function, version: Any) -> str:
        if version != LATEST and version not in function.versions:
            raise not_found(f"{function.latest.arn}:{version}")
        return str(version)


def _qualified(function: Function, qualifier: str) -> FunctionVersion | None:
    if qualifier == LATEST:
        return function.latest
    alias = function.aliases.get(qualifier)
    if alias is not None:
        return _qualified(function, alias.function_version)
    return function.versions.get(qualifier)


def _check_revision(latest: FunctionVersion, revision_id: Any) -> None:
    if revision_id is not None and revision_id != latest.revision_id:
        raise _stale_revision()


def _stale_revision() -> LambdaApiError:
    return LambdaApiError("PreconditionFailedException",
                          "The Revision Id provided does not match the latest Revision Id. "
                          "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")


def _invalid(message: str) -> LambdaApiError:
    return LambdaApiError("InvalidParameterValueException", message)


def _runtime(value: Any) -> str:
    if not isinstance(value, str) or _RUNTIME_RE.fullmatch(value) is None:
        raise _invalid(f"Runtime {value!r} is not supported here: this Lambda service runs "
                       "python3.x functions only.")
    return value


def _role(value: Any) -> str:
    if not isinstance(value, str) or _ROLE_RE.fullmatch(value) is None:
        raise LambdaApiError("ValidationException",
                             f"1 validation error detected: Value '{value}' at 'role' failed to "
                             "satisfy constraint: Member must satisfy regular expression "
                             "pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?"
                             "[a-zA-Z_0-9+=,.@\\-_/]+")
    return value


def _handler(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid("Handler must be a non-empty string such as index.handler.")
    return value


def _description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 256:
        raise _invalid("Description must be a string of at most 256 characters.")
    return value


def _bounded(value: Any, field_name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LambdaApiError("ValidationException",
                             f"1 validation error detected: Value '{value}' at '{field_name}' "
                             f"failed to satisfy constraint: Member must have value between "
                             f"{low} and {high}")
    return value


def _timeout(value: Any) -> int:
    return _bounded(value, "timeout", 1, 900)


def _memory(value: Any) -> int:
    return _bounded(value, "memorySize", 128, 10240)


def _environment(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    variables = value.get("Variables", {}) if isinstance(value, dict) else None
    if not isinstance(variables, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in variables.items()):
        raise _invalid("Environment Variables must map strings to strings.")
    reserved = sorted(RESERVED_VARIABLES.intersection(variables))
    if reserved:
        raise _invalid("Lambda was unable to configure your environment variables because the "
                       "environment variables you have provided contains reserved keys that "
                       "are currently not supported for modification. Reserved keys used in "
                       f"this request: {', '.join(reserved)}")
    return dict(variables)


def _tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("Tags must map strings to strings.")
    return {str(k): str(v) for k, v in value.items()}
