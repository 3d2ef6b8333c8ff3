"""Error names of the Amazon States Language and the exceptions that carry them.

Pure code (dataflow, reducers) raises `StatesError` for user-level failures; the reducer that
runs a state turns it into a failure event, so no `StatesError` ever escapes an execution.
`AslError` is for the public API: bad definitions, bad input, unknown ARNs.
"""

from __future__ import annotations

from typing import Final

ALL: Final = "States.ALL"
RUNTIME: Final = "States.Runtime"
TASK_FAILED: Final = "States.TaskFailed"
TIMEOUT: Final = "States.Timeout"
HEARTBEAT_TIMEOUT: Final = "States.HeartbeatTimeout"
DATA_LIMIT_EXCEEDED: Final = "States.DataLimitExceeded"
RESULT_PATH_MATCH_FAILURE: Final = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE: Final = "States.ParameterPathFailure"
BRANCH_FAILED: Final = "States.BranchFailed"
NO_CHOICE_MATCHED: Final = "States.NoChoiceMatched"
INTRINSIC_FAILURE: Final = "States.IntrinsicFailure"
EXCEED_TOLERATED_FAILURE_THRESHOLD: Final = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED: Final = "States.ItemReaderFailed"
RESULT_WRITER_FAILED: Final = "States.ResultWriterFailed"
QUERY_EVALUATION_ERROR: Final = "States.QueryEvaluationError"
PERMISSIONS: Final = "States.Permissions"


class StatesError(Exception):
    """A failure inside an execution, named as AWS names it (`States.Runtime`, ...).

    Args:
        error: the error name matched by Retry/Catch `ErrorEquals`.
        cause: the human-readable cause, as AWS words it.
    """

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class AslError(Exception):
    """An API-level error in AWS's terms (`InvalidDefinition`, `InvalidExecutionInput`, ...).

    Args:
        code: the AWS error code, as botocore reports it in `Error.Code`.
        message: the AWS-style message.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
