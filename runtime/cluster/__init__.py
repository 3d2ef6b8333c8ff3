"""Many worker processes advancing executions kept in one PostgreSQL database.

`Worker` claims and advances executions, fires timers and runs task calls; `ClusterClient`
creates state machines, starts, stops and describes executions. See `runtime.cluster.worker`
for the protocol and `runtime.cluster.schema` for the tables.
"""

from __future__ import annotations

from runtime.cluster.client import ClusterClient as ClusterClient
from runtime.cluster.worker import Worker as Worker
from runtime.cluster.worker import WorkerStats as WorkerStats
