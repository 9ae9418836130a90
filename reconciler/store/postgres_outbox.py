"""The outbox in PostgreSQL: runners on many hosts claim jobs with SKIP LOCKED leases.

A claim sets `claimed_by` and `claimed_until` (now + lease) in one statement that skips
rows other runners are claiming at that moment. A runner that dies leaves its claims to
expire; any runner takes them once `claimed_until` has passed. Lease times use the
database's clock, so runners' clocks need not agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reconciler.store.faults import GuardedMethods
from reconciler.store.jobs import (
    OPERATIONS,
    PENDING,
    Attempt,
    Job,
    JobFilter,
    NewJob,
    Operation,
    OperationRecord,
    Outcome,
    Pruned,
    QueueStats,
    RecipientReply,
    StoredAttachment,
    check_operable,
)
from reconciler.store.rows import (
    JOB_COLUMNS,
    OPERATION_UPDATES,
    RETRY_RECIPIENTS,
    attachment_rows,
    job_filter_sql,
    job_from_row,
)
from reconciler.timeutil import format_utc

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow


class PostgresOutbox(GuardedMethods):
    """Mixed into PostgresStore, which provides the autocommit connection and the guard
    that reconnects."""

    _db: psycopg.Connection[TupleRow]

    def enqueue(self, job: NewJob) -> int:
        from psycopg.types.json import Jsonb

        with self._db.transaction():
            row = self._db.execute(
                "INSERT INTO outbox_jobs (purpose, settings_name, template_name, recipients,"
                " subject, body, variables, account, invoice, status, next_attempt_at,"
                " created_at, updated_at, body_html)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'queued', now(), now(), now(), %s)"
                " RETURNING id",
                (
                    job.purpose,
                    job.settings,
                    job.template,
                    Jsonb({"to": job.to, "cc": job.cc}),
                    job.subject,
                    job.body,
                    Jsonb(job.variables),
                    job.account,
                    job.invoice,
                    job.body_html,
                ),
            ).fetchone()
            assert row is not None
            job_id = int(row[0])
            self._db.cursor().executemany(
                "INSERT INTO outbox_attachments (job_id, position, filename, content_type, size,"
                " sha256, data) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                attachment_rows(job_id, job.attachments),
            )
        return job_id

    def claim(self, runner: str, limit: int, lease_seconds: float) -> list[Job]:
        rows = self._db.execute(
            f"UPDATE outbox_jobs SET claimed_by = %(runner)s,"
            f" claimed_until = now() + make_interval(secs => %(lease)s)"
            f" WHERE id IN (SELECT id FROM outbox_jobs"
            f"   WHERE status = ANY(%(pending)s) AND next_attempt_at <= now()"
            f"   AND (claimed_until IS NULL OR claimed_until < now())"
            f"   ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            f" RETURNING {JOB_COLUMNS}",
            {"runner": runner, "lease": lease_seconds, "pending": list(PENDING), "limit": limit},
        ).fetchall()
        return list(self._with_details(sorted(rows, key=lambda row: row[0])))

    def attachments(self, job_id: int) -> list[StoredAttachment]:
        rows = self._db.execute(
            "SELECT filename, content_type, data FROM outbox_attachments WHERE job_id = %s"
            " ORDER BY position",
            (job_id,),
        ).fetchall()
        return [StoredAttachment(name, kind, bytes(data)) for name, kind, data in rows]

    def finish_attempt(self, job_id: int, runner: str, started_at: str, outcome: Outcome) -> None:
        finished = outcome.status not in PENDING
        with self._db.transaction():
            row = self._db.execute(
                "UPDATE outbox_jobs SET status = %(status)s, attempts = attempts + 1,"
                " last_code = %(code)s, last_reply = %(reply)s, failure = %(failure)s,"
                " updated_at = now(), finished_at = CASE WHEN %(finished)s THEN now() END,"
                " next_attempt_at = COALESCE(%(retry_at)s::timestamptz, next_attempt_at),"
                " invoice_status = CASE WHEN %(delivered)s THEN 'delivered'"
                "   ELSE invoice_status END,"
                " claimed_by = NULL, claimed_until = NULL WHERE id = %(id)s"
                # Repeated after a lost connection, an attempt already recorded is not
                # counted again.
                " AND NOT EXISTS (SELECT 1 FROM outbox_attempts WHERE job_id = %(id)s"
                "   AND runner = %(runner)s AND started_at = %(started)s)"
                " RETURNING attempts",
                {
                    "status": outcome.status,
                    "code": outcome.code,
                    "reply": outcome.reply,
                    "failure": outcome.failure,
                    "finished": finished,
                    "retry_at": outcome.retry_at,
                    "delivered": outcome.invoice_delivered,
                    "id": job_id,
                    "runner": runner,
                    "started": started_at,
                },
            ).fetchone()
            if row is None:
                return
            self._db.execute(
                "INSERT INTO outbox_attempts (job_id, attempt, runner, started_at, outcome, code,"
                " reply, message_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    job_id,
                    row[0],
                    runner,
                    started_at,
                    outcome.outcome,
                    outcome.code,
                    outcome.reply,
                    outcome.message_id,
                ),
            )
            self._db.cursor().executemany(
                "INSERT INTO outbox_recipients (job_id, address, status, code, reply, attempt)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (job_id, address) DO UPDATE SET"
                " status = excluded.status, code = excluded.code, reply = excluded.reply,"
                " attempt = excluded.attempt",
                [
                    (job_id, address, r.status, r.code, r.reply, row[0])
                    for address, r in outcome.replies.items()
                ],
            )

    def renew_claim(self, job_id: int, runner: str, lease_seconds: float) -> bool:
        cursor = self._db.execute(
            "UPDATE outbox_jobs SET claimed_until = now() + make_interval(secs => %s)"
            " WHERE id = %s AND claimed_by = %s AND claimed_until >= now()",
            (lease_seconds, job_id, runner),
        )
        return cursor.rowcount == 1

    def fix_identity(self, job_id: int, message_id: str, date: str) -> None:
        self._db.execute(
            "UPDATE outbox_jobs SET message_id = COALESCE(message_id, %s), message_date = %s"
            " WHERE id = %s AND message_date IS NULL",
            (message_id, date, job_id),
        )

    def release(self, runner: str) -> None:
        self._db.execute(
            "UPDATE outbox_jobs SET claimed_by = NULL, claimed_until = NULL"
            " WHERE claimed_by = %s AND status = ANY(%s)",
            (runner, list(PENDING)),
        )

    def prune_attachments(self, finished_before: str, *, dry_run: bool = False) -> Pruned:
        due = (
            "SELECT id FROM outbox_jobs WHERE NOT (status = ANY(%(pending)s))"
            " AND finished_at < %(before)s::timestamptz AND attachments_pruned_at IS NULL"
            " AND id IN (SELECT job_id FROM outbox_attachments)"
        )
        values = {"pending": list(PENDING), "before": finished_before}
        with self._db.transaction():
            # FOR UPDATE: a concurrent prune waits, then finds nothing left to count.
            ids = [row[0] for row in self._db.execute(f"{due} FOR UPDATE", values)]
            row = self._db.execute(
                "SELECT COUNT(DISTINCT job_id), COUNT(*), COALESCE(SUM(size), 0)::bigint"
                " FROM outbox_attachments WHERE job_id = ANY(%s)",
                (ids,),
            ).fetchone()
            assert row is not None
            if not dry_run:
                # sha256() of the bytes for attachments queued before checksums were kept.
                self._db.execute(
                    "UPDATE outbox_attachments SET data = '',"
                    " sha256 = COALESCE(sha256, encode(sha256(data), 'hex'))"
                    " WHERE job_id = ANY(%s)",
                    (ids,),
                )
                self._db.execute(
                    "UPDATE outbox_jobs SET attachments_pruned_at = now() WHERE id = ANY(%s)",
                    (ids,),
                )
        return Pruned(*row)

    def jobs(self, selection: JobFilter | None = None) -> list[Job]:
        where, values = job_filter_sql(selection or JobFilter(), _parameter)
        rows = self._db.execute(
            f"SELECT {JOB_COLUMNS} FROM outbox_jobs{where} ORDER BY id", values
        ).fetchall()
        return list(self._with_details(rows))

    def operate(self, job_ids: list[int], operation: Operation) -> list[str]:
        ids = list(dict.fromkeys(job_ids))
        rule = OPERATIONS[operation.name]
        with self._db.transaction():
            # FOR UPDATE: a runner's claim (SKIP LOCKED) passes these jobs by meanwhile.
            found = {
                job_id: (status, runner if live else None)
                for job_id, status, runner, live in self._db.execute(
                    "SELECT id, status, claimed_by, claimed_until >= now() FROM outbox_jobs"
                    " WHERE id = ANY(%s) FOR UPDATE",
                    (ids,),
                )
            }
            before: list[str] = []
            for job_id in ids:
                status, live = found.get(job_id, (None, None))
                before.append(check_operable(operation.name, job_id, status, live))
            updates = OPERATION_UPDATES[operation.name].format(now="now()")
            self._db.execute(
                f"UPDATE outbox_jobs SET status = %s, updated_at = now(), {updates}"
                " WHERE id = ANY(%s)",
                (rule.result, ids),
            )
            if operation.name == "retry":
                self._db.execute(f"{RETRY_RECIPIENTS} AND job_id = ANY(%s)", (ids,))
            self._db.cursor().executemany(
                "INSERT INTO outbox_operations (job_id, operation, actor, at, reason,"
                " from_status, to_status) VALUES (%s, %s, %s, now(), %s, %s, %s)",
                [
                    (job_id, operation.name, operation.actor, operation.reason, status, rule.result)
                    for job_id, status in zip(ids, before, strict=True)
                ],
            )
        return before

    def queue_stats(self) -> QueueStats:
        counts: dict[str, int] = dict(
            self._db.execute("SELECT status, COUNT(*) FROM outbox_jobs GROUP BY status").fetchall()
        )
        row = self._db.execute(
            "SELECT COUNT(*), MIN(next_attempt_at) FROM outbox_jobs"
            " WHERE status = ANY(%s) AND next_attempt_at <= now()",
            (list(PENDING),),
        ).fetchone()
        assert row is not None
        return QueueStats(counts, row[0], format_utc(row[1]) if row[1] is not None else None)

    def operations(self, job_id: int) -> list[OperationRecord]:
        rows = self._db.execute(
            "SELECT operation, actor, at, reason, from_status, to_status FROM"
            " outbox_operations WHERE job_id = %s ORDER BY id",
            (job_id,),
        ).fetchall()
        return [
            OperationRecord(name, actor, format_utc(at), reason, old, new)
            for name, actor, at, reason, old, new in rows
        ]

    def job(self, job_id: int) -> Job | None:
        rows = self._db.execute(
            f"SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE id = %s", (job_id,)
        ).fetchall()
        return next(self._with_details(rows), None)

    def _with_details(self, rows: list[tuple[Any, ...]]) -> Iterator[Job]:
        ids = [row[0] for row in rows]
        sizes: dict[int, list[tuple[str, int]]] = {}
        checksums: dict[int, list[str | None]] = {}
        for job_id, name, size, checksum in self._db.execute(
            "SELECT job_id, filename, size, sha256 FROM outbox_attachments"
            " WHERE job_id = ANY(%s) ORDER BY job_id, position",
            (ids,),
        ):
            sizes.setdefault(job_id, []).append((name, size))
            checksums.setdefault(job_id, []).append(checksum)
        history: dict[int, list[Attempt]] = {}
        for job_id, *attempt in self._db.execute(
            "SELECT job_id, attempt, runner, started_at, outcome, code, reply, message_id"
            " FROM outbox_attempts WHERE job_id = ANY(%s) ORDER BY job_id, attempt",
            (ids,),
        ):
            attempt[2] = format_utc(attempt[2])
            history.setdefault(job_id, []).append(Attempt(*attempt))
        replies: dict[int, dict[str, RecipientReply]] = {}
        for job_id, address, *reply in self._db.execute(
            "SELECT job_id, address, status, code, reply, attempt FROM outbox_recipients"
            " WHERE job_id = ANY(%s)",
            (ids,),
        ):
            replies.setdefault(job_id, {})[address] = RecipientReply(*reply)
        for row in rows:
            job = job_from_row(row, lambda value: value, format_utc)
            job.attachment_sizes = sizes.get(job.id, [])
            job.attachment_sha256 = checksums.get(job.id, [])
            job.history = history.get(job.id, [])
            job.replies = replies.get(job.id, {})
            yield job


def _parameter(name: str) -> str:
    """A named psycopg parameter; times (`..._at`) cast to timestamptz."""
    return f"%({name})s::timestamptz" if name.endswith("_at") else f"%({name})s"
