"""The statements workers and clients send, with the schema name filled in once.

Every write is ONE statement (data-modifying CTEs), so it is atomic and costs one round trip
without an explicit transaction. Leases are timed by the database's clock
(`clock_timestamp()`), so workers on hosts whose clocks disagree still agree on expiry.
"""

from __future__ import annotations

from runtime.cluster.rows import TASK_KIND, Commit
from runtime.effects import OfferActivityTask
from runtime.log.pg_schema import quote_schema
from runtime.reducers import REDRIVABLE

_LEASE = "clock_timestamp() + make_interval(secs => $2)"
_REDRIVABLE = ", ".join(f"'{status}'" for status in sorted(REDRIVABLE))
#: The outbox kind of activity tasks waiting for a GetActivityTask (a step inserts them).
OFFER_KIND = OfferActivityTask.__name__


class ClusterStatements:
    def __init__(self, schema: str) -> None:
        s = quote_schema(schema)
        # Claims executions with waiting messages whose lease is free or expired, preferring
        # those this worker released last (it may still hold their state). Returns one row per
        # message. `seen_version` is the version in the statement's snapshot, which is also
        # the snapshot the messages are read from; `version` is the locked row's. They differ
        # when another worker committed between the two (its lease had expired): the messages
        # may then be stale, and the claim is released untouched. A commit that consumed
        # messages without events leaves the version alone, but deciding such a message again
        # on the same state decides it the same way: nothing.
        self.claim_executions = f"""
            WITH picked AS (
                SELECT arn FROM {s}.executions
                WHERE arn IN (SELECT arn FROM {s}.inbox)
                    AND (lease_expires IS NULL OR lease_expires < clock_timestamp())
                ORDER BY lease_owner IS NOT DISTINCT FROM $1 DESC, position
                LIMIT $3
                FOR UPDATE SKIP LOCKED
            ),
            claimed AS (
                UPDATE {s}.executions AS e SET lease_owner = $1, lease_expires = {_LEASE}
                FROM picked WHERE e.arn = picked.arn
                RETURNING e.arn, e.version, e.state_machine_arn, e.name, e.definition_id
            )
            SELECT c.arn, c.version, seen.version AS seen_version, c.state_machine_arn, c.name,
                c.definition_id, i.id, i.message, i.timer_key, i.fired_at
            FROM claimed AS c
            JOIN {s}.executions AS seen ON seen.arn = c.arn
            JOIN {s}.inbox AS i ON i.arn = c.arn
            ORDER BY c.arn, i.id
        """
        # One step: only while this worker holds the lease and the execution is at the
        # version its state was folded to does anything happen. The stream's head moves with
        # the log's own rule (`runtime.log.postgres`: advanced only from the expected version);
        # the events' primary key is the backstop that fails the whole statement should the
        # stream have been appended to by anything else. Task calls are inserted already
        # leased to `$19` (the committing worker, which runs them at once without a claim; NULL
        # leaves them to any worker) and returned as (id, key) so it knows which rows it holds.
        # Their lease length is `$20` seconds; the execution's redrive count and date are
        # `$21`, `$22`.
        step = f"""
            gate AS (
                UPDATE {s}.executions
                SET version = $4, status = $5, stop_date = $6, output = $7, error = $8,
                    cause = $9, redrive_count = $21, redrive_date = $22, lease_expires = NULL
                WHERE arn = $1 AND lease_owner = $2 AND version = $3
                RETURNING arn
            ),
            stream AS (
                INSERT INTO {s}.streams (stream_id, version)
                SELECT arn, $4 FROM gate WHERE $4 > $3
                ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version
                WHERE streams.version = $3
            ),
            appended AS (
                INSERT INTO {s}.events (stream_id, version, type, data)
                SELECT gate.arn, e.version, e.type, e.data
                FROM gate, unnest($10::int[], $11::text[], $12::bytea[]) AS e(version, type, data)
            ),
            consumed AS (
                DELETE FROM {s}.inbox WHERE id = ANY($13::bigint[]) AND EXISTS (SELECT FROM gate)
            ),
            scheduled AS (
                INSERT INTO {s}.timers (arn, key, due)
                SELECT gate.arn, t.key, t.due
                FROM gate, unnest($14::text[], $15::float8[]) AS t(key, due)
                ON CONFLICT (arn, key) DO UPDATE SET due = EXCLUDED.due
            ),
            cancelled AS (
                DELETE FROM {s}.timers
                WHERE arn = $1 AND $5 <> 'RUNNING' AND EXISTS (SELECT FROM gate)
            ),
            unclaimed AS (
                DELETE FROM {s}.outbox
                WHERE arn = $1 AND $5 <> 'RUNNING' AND lease_expires IS NULL
                    AND EXISTS (SELECT FROM gate)
            ),
            queued AS (
                INSERT INTO {s}.outbox (arn, kind, key, effect, attempts, lease_owner,
                                        lease_expires)
                SELECT gate.arn, o.kind, o.key, o.effect,
                    CASE WHEN leased THEN 1 ELSE 0 END, CASE WHEN leased THEN $19::text END,
                    CASE WHEN leased THEN clock_timestamp() + make_interval(secs => $20) END
                FROM gate, unnest($16::text[], $17::text[], $18::bytea[]) AS o(kind, key, effect),
                    LATERAL (SELECT $19::text IS NOT NULL AND o.kind = '{TASK_KIND}') AS l(leased)
                ON CONFLICT (arn, kind, key) DO NOTHING
                RETURNING id, key, lease_owner
            )"""
        # A step that also tells other executions something, or starts Map Run children:
        # messages (`$23`, `$24`) go to those still running; children (`$25`-`$31`) are
        # created with their start message, running the committer's definition `$32` from
        # time `$33`; one that exists gets the parent's redrive message (`$31`), decided after
        # whatever its inbox holds (a stop still on its way). It all commits with the step or
        # not at all. (A separate statement: these CTEs cost a plain step about half again.)
        relays = f"""
            relayed AS (
                INSERT INTO {s}.inbox (arn, message)
                SELECT r.arn, r.message
                FROM gate, unnest($23::text[], $24::bytea[]) WITH ORDINALITY AS r(arn, message, n)
                JOIN {s}.executions AS target ON target.arn = r.arn AND target.status = 'RUNNING'
                ORDER BY r.n
            ),
            children AS (
                SELECT c.* FROM gate, unnest($25::text[], $26::text[], $27::text[], $28::text[],
                    $29::text[], $30::bytea[], $31::bytea[])
                    AS c(arn, machine_arn, name, input, map_run, started, redriven)
            ),
            spawned AS (
                INSERT INTO {s}.executions (arn, state_machine_arn, name, definition_id,
                                            start_date, input, map_run_arn, parent_arn)
                SELECT arn, machine_arn, name, $32, $33, input, map_run, $1 FROM children
                ON CONFLICT (arn) DO NOTHING
                RETURNING arn
            ),
            spawn_started AS (
                INSERT INTO {s}.inbox (arn, message)
                SELECT c.arn, c.started FROM children AS c JOIN spawned USING (arn)
            ),
            respawned AS (
                INSERT INTO {s}.inbox (arn, message)
                SELECT c.arn, c.redriven FROM children AS c
                JOIN {s}.executions AS e ON e.arn = c.arn
                WHERE c.redriven IS NOT NULL
            )"""
        outcome = """
            SELECT (SELECT count(*) FROM gate) AS committed,
                coalesce((SELECT array_agg(id) FROM queued WHERE lease_owner IS NOT NULL),
                         '{}') AS leased_ids,
                coalesce((SELECT array_agg(key) FROM queued WHERE lease_owner IS NOT NULL),
                         '{}') AS leased_keys
        """
        self.commit_step = f"WITH {step}{outcome}"
        self.commit_step_relaying = f"WITH {step},{relays}{outcome}"
        self.release_execution = (
            f"UPDATE {s}.executions SET lease_expires = NULL WHERE arn = $1 AND lease_owner = $2")
        self.renew_executions = (
            f"UPDATE {s}.executions SET lease_expires = {_LEASE}"
            " WHERE lease_owner = $1 AND arn = ANY($3::text[]) AND lease_expires IS NOT NULL")
        # Moves due timers into the inbox in one statement: a timer fires exactly once even
        # when every worker looks at it.
        self.fire_timers = f"""
            WITH fired AS (
                DELETE FROM {s}.timers WHERE (arn, key) IN (
                    SELECT arn, key FROM {s}.timers WHERE due <= $1
                    ORDER BY due LIMIT $2 FOR UPDATE SKIP LOCKED)
                RETURNING arn, key, due
            ),
            delivered AS (
                INSERT INTO {s}.inbox (arn, timer_key, fired_at)
                SELECT arn, key, $1 FROM fired ORDER BY due, key
            )
            SELECT count(*) FROM fired
        """
        self.next_due = f"SELECT min(due) FROM {s}.timers"
        self.claim_tasks = f"""
            UPDATE {s}.outbox AS o
            SET lease_owner = $1, lease_expires = {_LEASE}, attempts = o.attempts + 1
            WHERE o.id IN (
                SELECT id FROM {s}.outbox
                WHERE kind = '{TASK_KIND}'
                    AND (lease_expires IS NULL OR lease_expires < clock_timestamp())
                ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING o.id, o.arn, o.effect, o.attempts
        """
        self.renew_tasks = (
            f"UPDATE {s}.outbox SET lease_expires = {_LEASE}"
            " WHERE lease_owner = $1 AND id = ANY($3::bigint[])")
        self.release_tasks = (
            f"UPDATE {s}.outbox SET lease_expires = NULL"
            " WHERE lease_owner = $1 AND id = ANY($2::bigint[])")
        # A task's outcome replaces its outbox row by an inbox message, unless its lease was
        # taken over meanwhile: then the new holder's outcome is the one delivered. The same
        # statement claims the executions it delivered to whose lease is free (lease `$4`
        # seconds), so this worker, which likely holds their state, steps them next without
        # another claim. It returns one row with `delivered` (outcomes delivered) and
        # `executions` (how many executions they went to) and, for
        # each claimed execution, what `claim_executions` returns: one row per message, the
        # ones waiting before (this statement's snapshot) and the ones it delivered.
        self.complete_tasks = f"""
            WITH done AS (
                DELETE FROM {s}.outbox AS o
                USING unnest($2::bigint[], $3::bytea[]) AS d(id, message)
                WHERE o.id = d.id AND o.lease_owner = $1
                RETURNING o.id, o.arn, d.message
            ),
            delivered AS (
                INSERT INTO {s}.inbox (arn, message) SELECT arn, message FROM done ORDER BY id
                RETURNING id, arn, message
            ),
            picked AS (
                SELECT arn FROM {s}.executions
                WHERE arn IN (SELECT arn FROM done)
                    AND (lease_expires IS NULL OR lease_expires < clock_timestamp())
                FOR UPDATE SKIP LOCKED
            ),
            claimed AS (
                UPDATE {s}.executions AS e
                SET lease_owner = $1, lease_expires = clock_timestamp() + make_interval(secs => $4)
                FROM picked WHERE e.arn = picked.arn
                RETURNING e.arn, e.version, e.state_machine_arn, e.name, e.definition_id
            ),
            messages AS (
                SELECT id, arn, message, timer_key, fired_at FROM {s}.inbox
                WHERE arn IN (SELECT arn FROM claimed)
                UNION ALL
                SELECT id, arn, message, NULL, NULL FROM delivered
                WHERE arn IN (SELECT arn FROM claimed)
            )
            SELECT (SELECT count(*) FROM done) AS delivered,
                (SELECT count(DISTINCT arn) FROM done) AS executions, c.arn, c.version,
                seen.version AS seen_version, c.state_machine_arn, c.name, c.definition_id,
                m.id, m.message, m.timer_key, m.fired_at
            FROM (SELECT) AS one
            LEFT JOIN (claimed AS c
                JOIN {s}.executions AS seen ON seen.arn = c.arn
                JOIN messages AS m ON m.arn = c.arn) ON true
            ORDER BY c.arn, m.id
        """
        # A fork's row: created leased to the forking client, at version 0, so that the
        # ordinary step commit writes its inherited events and pending work (same transaction).
        self.create_fork = f"""
            INSERT INTO {s}.executions (arn, state_machine_arn, name, definition_id, start_date,
                                        input, lease_owner, lease_expires)
            VALUES ($1, $2, $3, $4, $5, $6, $7, {_LEASE.replace("$2", "$8")})
            ON CONFLICT (arn) DO NOTHING
            RETURNING arn
        """
        self.start_execution = f"""
            WITH created AS (
                INSERT INTO {s}.executions
                    (arn, state_machine_arn, name, definition_id, start_date, input)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (arn) DO NOTHING
                RETURNING arn
            ),
            queued AS (
                INSERT INTO {s}.inbox (arn, message) SELECT arn, $7 FROM created
            )
            SELECT count(*) FROM created
        """
        columns = ("arn, state_machine_arn, name, status, start_date, stop_date, input, output,"
                   " error, cause, version, redrive_count, redrive_date, map_run_arn")
        self.describe = f"SELECT {columns} FROM {s}.executions WHERE arn = $1"
        self.map_run_parent = (
            f"SELECT parent_arn FROM {s}.executions WHERE map_run_arn = $1 LIMIT 1")
        self.map_run_starts = (
            f"SELECT stream_id, data FROM {s}.events WHERE type = 'MapRunStarted'")
        self.list_executions = f"""
            SELECT {columns} FROM {s}.executions
            WHERE ($1::text IS NULL OR state_machine_arn = $1
                   OR starts_with(state_machine_arn, $1 || ':'))  -- its versions
                AND ($2::text IS NULL OR status = $2)
            ORDER BY position
        """
        self.is_running = (
            f"SELECT EXISTS (SELECT FROM {s}.executions WHERE arn = $1 AND status = 'RUNNING')")
        self.tell_running = f"""
            INSERT INTO {s}.inbox (arn, message)
            SELECT arn, $2 FROM {s}.executions WHERE arn = $1 AND status = 'RUNNING'
            RETURNING id
        """
        # Activity tasks waiting for a GetActivityTask. The activity is inside the encoded
        # effect, so the poller reads the effects of the rows it has not seen yet.
        self.activity_offers = (
            f"SELECT id FROM {s}.outbox WHERE kind = '{OFFER_KIND}' ORDER BY id")
        self.offer_effects = f"SELECT id, effect FROM {s}.outbox WHERE id = ANY($1::bigint[])"
        # Takes the oldest of the offers `$1` still there and not being taken, and tells its
        # execution that it was taken (`$2`: the message for each offer): a task goes to
        # exactly one poller, and its ActivityStarted with it.
        self.take_activity_task = f"""
            WITH taken AS (
                DELETE FROM {s}.outbox WHERE id = (
                    SELECT id FROM {s}.outbox WHERE id = ANY($1::bigint[]) AND kind = '{OFFER_KIND}'
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING id, arn
            ),
            started AS (
                INSERT INTO {s}.inbox (arn, message)
                SELECT taken.arn, offer.message
                FROM taken JOIN unnest($1::bigint[], $2::bytea[]) AS offer(id, message)
                    ON offer.id = taken.id
            )
            SELECT id FROM taken
        """
        # Queues a RedriveExecution (`$2`, at `$3`) for an execution that ended unsuccessfully,
        # and marks it RUNNING at once: a second redrive is refused (the reducer would redrive
        # a running execution again), and a StopExecution is accepted. Only while no worker
        # holds its lease: the commit of a step under way (a late task outcome) would write
        # the ended status back. Returns the execution's status and lease before the
        # statement, and whether it was redriven; no row when there is no such execution.
        self.redrive = f"""
            WITH revived AS (
                UPDATE {s}.executions
                SET status = 'RUNNING', stop_date = NULL, output = NULL, error = NULL,
                    cause = NULL, redrive_count = redrive_count + 1, redrive_date = $3
                WHERE arn = $1 AND status IN ({_REDRIVABLE})
                    AND (lease_expires IS NULL OR lease_expires < clock_timestamp())
                RETURNING arn
            ),
            queued AS (
                INSERT INTO {s}.inbox (arn, message) SELECT arn, $2 FROM revived
            )
            SELECT (SELECT count(*) FROM revived) AS redriven, status,
                coalesce(lease_expires >= clock_timestamp(), false) AS leased
            FROM {s}.executions WHERE arn = $1
        """


def commit_arguments(sql: ClusterStatements, commit: Commit, arn: str, owner: str,
                     inbox_ids: list[int], task_owner: str | None, lease_seconds: float,
                     definition_id: str) -> tuple[str, tuple[object, ...]]:
    """The statement committing `commit` for execution `arn` held by `owner`, and its
    arguments: the short one unless the step tells other executions something or starts
    children. `task_owner` takes the task calls leased (None: for any worker)."""
    step = (arn, owner, commit.expected, commit.head, commit.status, commit.stop_date,
            commit.output, commit.error, commit.cause, commit.versions, commit.types,
            commit.data, inbox_ids, commit.timer_keys, commit.timer_dues, commit.outbox_kinds,
            commit.outbox_keys, commit.outbox_effects, task_owner, lease_seconds,
            commit.redrive_count, commit.redrive_date)
    if not (commit.relay_arns or commit.spawn_arns):
        return sql.commit_step, step
    return sql.commit_step_relaying, (
        *step, commit.relay_arns, commit.relay_messages, commit.spawn_arns,
        commit.spawn_machine_arns, commit.spawn_names, commit.spawn_inputs,
        commit.spawn_map_runs, commit.spawn_messages, commit.spawn_redrives, definition_id,
        commit.spawn_at)
