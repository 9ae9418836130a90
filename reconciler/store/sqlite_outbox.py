"""The outbox in SQLite. One writer at a time: claims take the database's write lock."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

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
from reconciler.timeutil import utc_in, utc_now


class SqliteOutbox(GuardedMethods):
    """Mixed into SqliteStore, which provides the connection, the write lock and the
    guard that words SQLite's errors."""

    _db: sqlite3.Connection
    _write_transaction: Callable[[], AbstractContextManager[None]]

    def enqueue(self, job: NewJob) -> int:
        now = utc_now()
        with self._write_transaction():
            cursor = self._db.execute(
                "INSERT INTO outbox_jobs (purpose, settings_name, template_name, recipients,"
                " subject, body, variables, account, invoice, status, next_attempt_at,"
                " created_at, updated_at, body_html)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (
                    job.purpose,
                    job.settings,
                    job.template,
                    json.dumps({"to": job.to, "cc": job.cc}),
                    job.subject,
                    job.body,
                    json.dumps(job.variables),
                    job.account,
                    job.invoice,
                    now,
                    now,
                    now,
                    job.body_html,
                ),
            )
            job_id = int(cursor.lastrowid or 0)
            self._db.executemany(
                "INSERT INTO outbox_attachments (job_id, position, filename, content_type, size,"
                " sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                attachment_rows(job_id, job.attachments),
            )
        return job_id

    def claim(self, runner: str, limit: int, lease_seconds: float) -> list[Job]:
        now = utc_now()
        with self._write_transaction():
            ids = [
                row[0]
                for row in self._db.execute(
                    "SELECT id FROM outbox_jobs WHERE status IN (?, ?) AND next_attempt_at <= ?"
                    " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?",
                    (*PENDING, now, now, limit),
                )
            ]
            self._db.executemany(
                "UPDATE outbox_jobs SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                [(runner, utc_in(lease_seconds), job_id) for job_id in ids],
            )
        return [job for job_id in ids if (job := self.job(job_id)) is not None]

    def attachments(self, job_id: int) -> list[StoredAttachment]:
        rows = self._db.execute(
            "SELECT filename, content_type, data FROM outbox_attachments WHERE job_id = ?"
            " ORDER BY position",
            (job_id,),
        )
        return [StoredAttachment(name, kind, bytes(data)) for name, kind, data in rows]

    def finish_attempt(self, job_id: int, runner: str, started_at: str, outcome: Outcome) -> None:
        now = utc_now()
        finished = None if outcome.status in PENDING else now
        with self._write_transaction():
            attempt = self._db.execute(
                "SELECT attempts + 1 FROM outbox_jobs WHERE id = ?", (job_id,)
            ).fetchone()[0]
            self._db.execute(
                "INSERT INTO outbox_attempts (job_id, attempt, runner, started_at, outcome, code,"
                " reply, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    attempt,
                    runner,
                    started_at,
                    outcome.outcome,
                    outcome.code,
                    outcome.reply,
                    outcome.message_id,
                ),
            )
            self._db.executemany(
                "INSERT INTO outbox_recipients (job_id, address, status, code, reply, attempt)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, address) DO UPDATE SET"
                " status = excluded.status, code = excluded.code, reply = excluded.reply,"
                " attempt = excluded.attempt",
                [
                    (job_id, address, r.status, r.code, r.reply, attempt)
                    for address, r in outcome.replies.items()
                ],
            )
            self._db.execute(
                "UPDATE outbox_jobs SET status = ?, attempts = ?, last_code = ?, last_reply = ?,"
                " failure = ?, updated_at = ?,"
                " finished_at = ?, next_attempt_at = COALESCE(?, next_attempt_at),"
                " invoice_status = CASE WHEN ? THEN 'delivered' ELSE invoice_status END,"
                " claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                (
                    outcome.status,
                    attempt,
                    outcome.code,
                    outcome.reply,
                    outcome.failure,
                    now,
                    finished,
                    outcome.retry_at,
                    outcome.invoice_delivered,
                    job_id,
                ),
            )

    def renew_claim(self, job_id: int, runner: str, lease_seconds: float) -> bool:
        now = utc_now()
        with self._write_transaction():
            cursor = self._db.execute(
                "UPDATE outbox_jobs SET claimed_until = ? WHERE id = ? AND claimed_by = ?"
                " AND claimed_until >= ?",
                (utc_in(lease_seconds), job_id, runner, now),
            )
        return cursor.rowcount == 1

    def fix_identity(self, job_id: int, message_id: str, date: str) -> None:
        with self._write_transaction():
            self._db.execute(
                "UPDATE outbox_jobs SET message_id = COALESCE(message_id, ?), message_date = ?"
                " WHERE id = ? AND message_date IS NULL",
                (message_id, date, job_id),
            )

    def release(self, runner: str) -> None:
        with self._write_transaction():
            self._db.execute(
                "UPDATE outbox_jobs SET claimed_by = NULL, claimed_until = NULL"
                " WHERE claimed_by = ? AND status IN (?, ?)",
                (runner, *PENDING),
            )

    def prune_attachments(self, finished_before: str, *, dry_run: bool = False) -> Pruned:
        due = (
            "SELECT id FROM outbox_jobs WHERE status NOT IN (?, ?) AND finished_at < ?"
            " AND attachments_pruned_at IS NULL"
            " AND id IN (SELECT job_id FROM outbox_attachments)"
        )
        due_values = (*PENDING, finished_before)
        count = (
            f"SELECT COUNT(DISTINCT job_id), COUNT(*), COALESCE(SUM(size), 0)"
            f" FROM outbox_attachments WHERE job_id IN ({due})"
        )
        if dry_run:
            return Pruned(*self._db.execute(count, due_values).fetchone())
        with self._write_transaction():
            pruned = Pruned(*self._db.execute(count, due_values).fetchone())
            for job_id, position, data in self._db.execute(
                "SELECT job_id, position, data FROM outbox_attachments"
                f" WHERE sha256 IS NULL AND job_id IN ({due})",
                due_values,
            ).fetchall():
                self._db.execute(
                    "UPDATE outbox_attachments SET sha256 = ? WHERE job_id = ? AND position = ?",
                    (hashlib.sha256(data).hexdigest(), job_id, position),
                )
            self._db.execute(
                f"UPDATE outbox_attachments SET data = X'' WHERE job_id IN ({due})", due_values
            )
            self._db.execute(
                f"UPDATE outbox_jobs SET attachments_pruned_at = ? WHERE id IN ({due})",
                (utc_now(), *due_values),
            )
        return pruned

    def jobs(self, selection: JobFilter | None = None) -> list[Job]:
        where, values = job_filter_sql(selection or JobFilter(), lambda name: f":{name}")
        rows = self._db.execute(
            f"SELECT {JOB_COLUMNS} FROM outbox_jobs{where} ORDER BY id", values
        ).fetchall()
        return list(self._with_details(rows))

    def operate(self, job_ids: list[int], operation: Operation) -> list[str]:
        now = utc_now()
        ids = list(dict.fromkeys(job_ids))
        rule = OPERATIONS[operation.name]
        with self._write_transaction():
            before: list[str] = []
            for job_id in ids:
                row = self._db.execute(
                    "SELECT status, claimed_by, claimed_until FROM outbox_jobs WHERE id = ?",
                    (job_id,),
                ).fetchone()
                status, runner, until = row or (None, None, None)
                live = runner if runner is not None and until is not None and until >= now else None
                before.append(check_operable(operation.name, job_id, status, live))
            updates = OPERATION_UPDATES[operation.name].format(now=":now")
            for job_id, status in zip(ids, before, strict=True):
                values = {"id": job_id, "now": now, "status": rule.result}
                self._db.execute(
                    f"UPDATE outbox_jobs SET status = :status, updated_at = :now, {updates}"
                    " WHERE id = :id",
                    values,
                )
                if operation.name == "retry":
                    self._db.execute(f"{RETRY_RECIPIENTS} AND job_id = :id", values)
                self._db.execute(
                    "INSERT INTO outbox_operations (job_id, operation, actor, at, reason,"
                    " from_status, to_status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        job_id,
                        operation.name,
                        operation.actor,
                        now,
                        operation.reason,
                        status,
                        rule.result,
                    ),
                )
        return before

    def queue_stats(self) -> QueueStats:
        counts = dict(self._db.execute("SELECT status, COUNT(*) FROM outbox_jobs GROUP BY status"))
        due, oldest = self._db.execute(
            "SELECT COUNT(*), MIN(next_attempt_at) FROM outbox_jobs"
            " WHERE status IN (?, ?) AND next_attempt_at <= ?",
            (*PENDING, utc_now()),
        ).fetchone()
        return QueueStats(counts, due, oldest)

    def operations(self, job_id: int) -> list[OperationRecord]:
        rows = self._db.execute(
            "SELECT operation, actor, at, reason, from_status, to_status FROM"
            " outbox_operations WHERE job_id = ? ORDER BY id",
            (job_id,),
        )
        return [OperationRecord(*row) for row in rows]

    def job(self, job_id: int) -> Job | None:
        rows = self._db.execute(
            f"SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE id = ?", (job_id,)
        ).fetchall()
        return next(self._with_details(rows), None)

    def _with_details(self, rows: list[tuple[Any, ...]]) -> Iterator[Job]:
        for row in rows:
            job = job_from_row(row, json.loads, str)
            for name, size, checksum in self._db.execute(
                "SELECT filename, size, sha256 FROM outbox_attachments WHERE job_id = ?"
                " ORDER BY position",
                (job.id,),
            ):
                job.attachment_sizes.append((name, size))
                job.attachment_sha256.append(checksum)
            job.history = [
                Attempt(*attempt)
                for attempt in self._db.execute(
                    "SELECT attempt, runner, started_at, outcome, code, reply, message_id"
                    " FROM outbox_attempts WHERE job_id = ? ORDER BY attempt",
                    (job.id,),
                )
            ]
            job.replies = {
                address: RecipientReply(*reply)
                for address, *reply in self._db.execute(
                    "SELECT address, status, code, reply, attempt FROM outbox_recipients"
                    " WHERE job_id = ?",
                    (job.id,),
                )
            }
            yield job
