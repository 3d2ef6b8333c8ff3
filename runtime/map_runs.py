"""How AWS names a Distributed Map's Map Run and its child executions.

A Map Run `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<run id>` starts child
executions `arn:aws:states:<region>:<account>:execution:<machine>/<label>:<id>` of the labelled
state machine `arn:aws:states:<region>:<account>:stateMachine:<machine>/<label>`. AWS draws the
child ids at random; here they derive from the run id and the item index, so that the parent
names a child before it exists and a redrive or a resumed parent finds it again.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from msgspec.structs import replace

from runtime.errors import AslError

if TYPE_CHECKING:  # the state names its Map Runs' children with this module
    from runtime.state import ExecutionState, MapRun


def map_run_arn(state_machine_arn: str, label: str, run_id: uuid.UUID) -> str:
    parts = state_machine_arn.split(":")
    region, account, machine = parts[3], parts[4], parts[6]
    return f"arn:aws:states:{region}:{account}:mapRun:{machine}/{label}:{run_id}"


def child_execution_arn(map_run: str, index: int) -> str:
    base, _, run_id = map_run.rpartition(":")
    child_id = uuid.uuid5(uuid.UUID(run_id), str(index))
    return f"{base.replace(':mapRun:', ':execution:', 1)}:{child_id}"


def child_state_machine_arn(map_run: str) -> str:
    return map_run.rpartition(":")[0].replace(":mapRun:", ":stateMachine:", 1)


def map_runs_of(state: ExecutionState) -> list[MapRun]:
    """The execution's Map Runs, with the live counts of those still running."""
    runs = dict(state.map_runs)
    for frame in state.frames.values():
        fan = frame.fanout
        if fan is not None and fan.map_run in runs and runs[fan.map_run].status == "RUNNING":
            runs[fan.map_run] = replace(runs[fan.map_run], total=fan.total,
                                        succeeded=fan.succeeded, failed=fan.failed)
    return list(runs.values())


def labelled_machine(child_state_machine: str) -> tuple[str, str]:
    """(the parent's state machine ARN, the Map's label) of a child's labelled machine."""
    base, _, label = child_state_machine.rpartition("/")
    return base, label


def check_map_run_update(run: MapRun, max_concurrency: int | None,
                         tolerated_count: float | None, tolerated_percentage: float | None
                         ) -> None:
    """UpdateMapRun's checks: the documented ranges, and a Map Run still in progress."""
    for name, value, top in (("maxConcurrency", max_concurrency, None),
                             ("toleratedFailureCount", tolerated_count, None),
                             ("toleratedFailurePercentage", tolerated_percentage, 100)):
        if value is not None and (value < 0 or (top is not None and value > top)):
            bound = "Minimum value of 0" if top is None else "between 0 and 100"
            raise AslError("ValidationException",
                           f"1 validation error detected: Value '{value}' at '{name}' failed "
                           f"to satisfy constraint: Member must have value {bound}")
    if run.status != "RUNNING":
        raise AslError("ValidationException",
                       f"Map Run is not in progress: '{run.arn}' is {run.status}")
