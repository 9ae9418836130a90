"""Rows as both backends lay them out; each passes its own JSON and time codecs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.model import ResourceKey, StoredResource
from reconciler.provenance import ApplyContext
from reconciler.store.base import AuditEntry, Write
from reconciler.store.jobs import Job, JobFilter, StoredAttachment

#: Column order of every resource SELECT and INSERT.
RESOURCE_COLUMNS = (
    "kind, name, uid, generation, labels, annotations, spec, status, scope, created_at, updated_at"
)


def write_values(write: Write, encode: Callable[[Any], Any]) -> tuple[Any, ...]:
    """(kind, name, labels, annotations, spec, status, scope) of a create or update."""
    assert write.body is not None
    metadata = write.body.get("metadata", {})
    return (
        write.key.kind,
        write.key.name,
        encode(metadata.get("labels", {})),
        encode(metadata.get("annotations", {})),
        encode(write.body["spec"]),
        encode(write.status),
        write.scope,
    )


@dataclass(frozen=True)
class WriteBatches:
    """An apply's writes split into one `executemany` each, rows encoded with the backend's
    JSON codec. Creates and updates are `write_values` tuples; the backend adds uid and
    times."""

    deletes: list[tuple[str, str]]
    creates: list[tuple[Any, ...]]
    updates: list[tuple[Any, ...]]
    statuses: list[tuple[Any, str, str]]

    @classmethod
    def of(cls, writes: list[Write], encode: Callable[[Any], Any]) -> WriteBatches:
        return cls(
            deletes=[(w.key.kind, w.key.name) for w in writes if w.action == "delete"],
            creates=[write_values(w, encode) for w in writes if w.action == "create"],
            updates=[write_values(w, encode) for w in writes if w.action == "update"],
            statuses=[
                (encode(w.status), w.key.kind, w.key.name) for w in writes if w.action == "status"
            ],
        )


def resource_from_row(
    row: tuple[Any, ...], decode: Callable[[Any], Any], timestamp: Callable[[Any], str]
) -> StoredResource:
    kind, name, uid, generation, labels, annotations, spec, status, scope, created, updated = row
    return StoredResource(
        key=ResourceKey(kind, name),
        spec=decode(spec),
        labels=decode(labels),
        annotations=decode(annotations),
        status=decode(status),
        scope=scope,
        uid=uid,
        generation=generation,
        created_at=timestamp(created),
        updated_at=timestamp(updated),
    )


#: Column order of every audit log SELECT and INSERT.
AUDIT_COLUMNS = (
    "revision, applied_at, scope, actor, source, plan_digest, changes, secrets,"
    " apply_commit, ci_run, approved_by, previous_hash, record_hash"
)


#: The store's chain state (`ChainState`); migration 8 started the chain.
CHAIN_STATE_QUERY = (
    "SELECT store_id, revision, audit_chain_start, audit_head, applied_at"
    " FROM store_info, schema_migrations WHERE version = 8"
)


def audit_values(entry: AuditEntry, encode: Callable[[Any], Any]) -> tuple[Any, ...]:
    """An audit record's row, in `AUDIT_COLUMNS` order."""
    return (
        entry.revision,
        entry.applied_at,
        entry.scope,
        entry.actor,
        entry.source,
        entry.plan_digest,
        encode(entry.changes),
        encode(entry.secrets),
        entry.context.commit,
        entry.context.ci_run,
        entry.context.approved_by,
        entry.previous_hash,
        entry.record_hash,
    )


def audit_entry_from_row(
    row: tuple[Any, ...], decode: Callable[[Any], Any], timestamp: Callable[[Any], str]
) -> AuditEntry:
    (
        revision,
        applied_at,
        scope,
        actor,
        source,
        plan_digest,
        changes,
        secrets,
        apply_commit,
        ci_run,
        approved_by,
        previous_hash,
        record_hash,
    ) = row
    return AuditEntry(
        revision=revision,
        applied_at=timestamp(applied_at),
        scope=scope,
        actor=actor,
        source=source,
        plan_digest=plan_digest,
        changes=decode(changes),
        secrets=decode(secrets),
        context=ApplyContext(apply_commit, ci_run, approved_by),
        previous_hash=previous_hash,
        record_hash=record_hash,
    )


#: Column order of every outbox job SELECT.
JOB_COLUMNS = (
    "id, purpose, recipients, settings_name, template_name, subject, body, variables, account,"
    " invoice, status, invoice_status, attempts, next_attempt_at, claimed_by, claimed_until,"
    " message_id, last_code, last_reply, failure, created_at, updated_at, finished_at,"
    " attachments_pruned_at, message_date, attempts_before_retry, body_html"
)
_JOB_TIMES = (13, 15, 20, 21, 22, 23)


def job_from_row(
    row: tuple[Any, ...], decode: Callable[[Any], Any], timestamp: Callable[[Any], str]
) -> Job:
    values: list[Any] = [
        timestamp(v) if i in _JOB_TIMES and v is not None else v for i, v in enumerate(row)
    ]
    (
        job_id,
        purpose,
        recipients,
        settings,
        template,
        subject,
        body,
        variables,
        account,
        invoice,
        status,
        invoice_status,
        attempts,
        next_attempt_at,
        claimed_by,
        claimed_until,
        message_id,
        last_code,
        last_reply,
        failure,
        created_at,
        updated_at,
        finished_at,
        attachments_pruned_at,
        message_date,
        attempts_before_retry,
        body_html,
    ) = values
    addresses = decode(recipients)
    return Job(
        id=job_id,
        purpose=purpose,
        to=addresses["to"],
        cc=addresses["cc"],
        settings=settings,
        template=template,
        subject=subject,
        body=body,
        variables=decode(variables),
        account=account,
        invoice=invoice,
        status=status,
        invoice_status=invoice_status,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        claimed_by=claimed_by,
        claimed_until=claimed_until,
        message_id=message_id,
        last_code=last_code,
        last_reply=last_reply,
        failure=failure,
        created_at=created_at,
        updated_at=updated_at,
        finished_at=finished_at,
        attachments_pruned_at=attachments_pruned_at,
        message_date=message_date,
        attempts_before_retry=attempts_before_retry,
        body_html=body_html,
    )


def job_filter_sql(selection: JobFilter, param: Callable[[str], str]) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (empty, or starting with ` WHERE`) and its named values.

    `param(name)` is how the backend writes a named parameter of that name, a time
    parameter's name ending in `_at`.
    """
    values: dict[str, Any] = {}
    clauses: list[str] = []

    def one_of(column: str, name: str, options: tuple[str, ...]) -> None:
        if options:
            names = [f"{name}{i}" for i in range(len(options))]
            values.update(zip(names, options, strict=True))
            clauses.append(f"{column} IN ({', '.join(param(n) for n in names)})")

    one_of("status", "status", selection.statuses)
    one_of("purpose", "purpose", selection.purposes)
    for column, value in (("account", selection.account), ("invoice", selection.invoice)):
        if value is not None:
            values[column] = value
            clauses.append(f"{column} = {param(column)}")
    for name, operator, value in (
        ("since_at", ">=", selection.since),
        ("until_at", "<", selection.until),
    ):
        if value is not None:
            values[name] = value
            clauses.append(f"updated_at {operator} {param(name)}")
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), values


#: What each operation writes to the job, besides its status and updated_at; `{now}` is
#: how the backend writes the time of the operation. A retry makes the job due now with
#: a fresh attempt budget, and gives recipients that refused it another try (those that
#: accepted it, never); a resolve lists an invoice as delivered.
OPERATION_UPDATES = {
    "retry": "next_attempt_at = {now}, finished_at = NULL, invoice_status = NULL,"
    " attempts_before_retry = attempts, claimed_by = NULL, claimed_until = NULL",
    "cancel": "finished_at = {now}, claimed_by = NULL, claimed_until = NULL",
    "resolve": "invoice_status = CASE WHEN purpose = 'invoice' THEN 'delivered'"
    " ELSE invoice_status END",
}
RETRY_RECIPIENTS = "UPDATE outbox_recipients SET status = 'deferred' WHERE status = 'refused'"


def attachment_rows(job_id: int, attachments: list[StoredAttachment]) -> list[tuple[Any, ...]]:
    """(job_id, position, filename, content_type, size, sha256, data) of a new job's
    attachments: the checksum is kept for the audit, even once the bytes are pruned."""
    return [
        (
            job_id,
            i,
            a.filename,
            a.content_type,
            len(a.data),
            hashlib.sha256(a.data).hexdigest(),
            a.data,
        )
        for i, a in enumerate(attachments)
    ]
