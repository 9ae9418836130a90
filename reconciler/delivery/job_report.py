"""`smtpcfg outbox show`: one job as a document (JSON) or as text, with the steps to
deliver it by hand when the Max Size rule kept it from being sent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.delivery.manual import manual_delivery_steps, save_attachments
from reconciler.errors import SmtpcfgError
from reconciler.store.open import existing_store


@dataclass(frozen=True)
class JobReport:
    document: dict[str, Any]
    #: The attachment files written (`--save-attachments`).
    saved: list[Path]


def job_report(store_url: str, job_id: int, save_to: Path | None = None) -> JobReport:
    """Job `job_id` of the store's outbox; with `save_to`, its attachments saved there."""
    with existing_store(store_url) as store:
        job = store.job(job_id)
        if job is None:
            raise SmtpcfgError(f"outbox job {job_id} not found")
        if save_to and job.attachments_pruned_at:
            raise SmtpcfgError(
                f"the attachments of outbox job {job_id} were pruned at "
                f"{job.attachments_pruned_at}; only their names, sizes and "
                "SHA-256 checksums are kept"
            )
        saved = save_attachments(store.attachments(job_id), save_to) if save_to else []
        operations = store.operations(job_id)
    document = job.to_json()
    document["operations"] = [operation.to_json() for operation in operations]
    steps = manual_delivery_steps(job)
    if steps:
        document["manualDelivery"] = steps
    return JobReport(document, saved)


def render_job_text(document: dict[str, Any]) -> str:
    """The job document as `outbox show` prints it, one field a line."""
    lines = []
    for key, value in document.items():
        if key in (
            "attemptLog",
            "attachments",
            "attachmentsPrunedAt",
            "manualDelivery",
            "operations",
            "recipients",
        ):
            continue
        shown = ", ".join(value) if isinstance(value, list) else value
        lines.append(f"{key + ':':15} {'' if shown is None else shown}")
    lines.append("recipients:")
    for rcpt in document["recipients"]:
        reply = (
            f" (attempt {rcpt['attempt']}): {rcpt['code']} {rcpt['reply'] or ''}".rstrip()
            if rcpt["code"] is not None
            else ""
        )
        lines.append(f"  {rcpt['field']}: {rcpt['address']} {rcpt['status']}{reply}")
    pruned = document["attachmentsPrunedAt"]
    note = f"   pruned at {pruned} (names, sizes and checksums kept)" if pruned else ""
    lines.append(f"attachments:{note}")
    for item in document["attachments"]:
        checksum = f", sha256 {item['sha256']}" if item["sha256"] else ""
        lines.append(f"  {item['filename']} ({item['size']} bytes{checksum})")
    lines.append("attempt log:")
    for attempt in document["attemptLog"]:
        message_id = f" [{attempt['messageId']}]" if attempt["messageId"] else ""
        lines.append(
            f"  #{attempt['attempt']} {attempt['startedAt']} {attempt['runner']}: "
            f"{attempt['outcome']} {attempt['code'] or ''} {attempt['reply'] or ''}".rstrip()
            + message_id
        )
    if document["operations"]:
        lines.append("operations:")
        lines.extend(
            f"  {op['at']} {op['operation']} by {op['actor']} ({op['fromStatus']} -> "
            f"{op['toStatus']}): {op['reason'] or '(no reason given)'}"
            for op in document["operations"]
        )
    if "manualDelivery" in document:
        lines.append("manual delivery:")
        lines.extend(
            f"  {number}. {step}" for number, step in enumerate(document["manualDelivery"], 1)
        )
    return "\n".join(lines)
