"""Outbox jobs as the store keeps them; shared by the CLI, the runner and both backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from reconciler.errors import SmtpcfgError

Purpose = Literal["invoice", "password-reset", "notification"]
PURPOSES: tuple[str, ...] = ("invoice", "password-reset", "notification")

JobStatus = Literal[
    "queued", "retrying", "sent", "failed", "size-exceeded", "cancelled", "resolved"
]
STATUSES: tuple[str, ...] = (
    "queued",
    "retrying",
    "sent",
    "failed",
    "size-exceeded",
    "cancelled",
    "resolved",
)
#: Statuses a runner may still pick up.
PENDING: tuple[str, ...] = ("queued", "retrying")


@dataclass(frozen=True)
class OperationRule:
    """Which statuses a person's operation applies to, and the status it leaves."""

    applies_to: tuple[str, ...]
    result: str


#: `smtpcfg outbox retry|cancel|resolve`. A retry requeues what was not sent with a fresh
#: attempt budget; a cancel stops a job before it is sent; a resolve records that a job
#: was delivered outside smtpcfg (by hand), so its invoice is listed as delivered.
OPERATIONS: dict[str, OperationRule] = {
    "retry": OperationRule(("failed", "size-exceeded", "cancelled"), "queued"),
    "cancel": OperationRule(PENDING, "cancelled"),
    "resolve": OperationRule(("failed", "size-exceeded"), "resolved"),
}


class OperationRefused(SmtpcfgError):
    """An operation that does not apply to a job as it is now; nothing was changed."""


@dataclass(frozen=True)
class Operation:
    """What a person asks of the outbox: `name` is a key of OPERATIONS."""

    name: str
    actor: str
    reason: str


@dataclass(frozen=True)
class OperationRecord:
    """One operation as the store recorded it, for `outbox show`."""

    operation: str
    actor: str
    at: str
    reason: str
    from_status: str
    to_status: str

    def to_json(self) -> dict[str, str]:
        return {
            "operation": self.operation,
            "actor": self.actor,
            "at": self.at,
            "reason": self.reason,
            "fromStatus": self.from_status,
            "toStatus": self.to_status,
        }


def check_operable(
    operation: str, job_id: int, status: str | None, live_claim: str | None = None
) -> str:
    """`status`, or OperationRefused unless `operation` may be done to job `job_id` now.

    `status` None: no such job. `live_claim`: the runner holding the job under a lease
    that has not run out, which may be sending it at this moment: cancelling a job in
    flight would record a sent message as cancelled. (Only pending jobs are ever
    claimed, so this stops only a cancel.)
    """
    if status is None:
        raise OperationRefused(f"outbox job {job_id} not found")
    rule = OPERATIONS[operation]
    if status not in rule.applies_to:
        raise OperationRefused(
            f"outbox job {job_id} is {status}: only {' or '.join(rule.applies_to)} jobs "
            f"can be {_PAST[operation]}"
        )
    if live_claim is not None:
        raise OperationRefused(
            f"outbox job {job_id} is claimed by runner {live_claim}, which may be sending "
            "it now; try again once that runner has recorded the attempt (at most one "
            "--lease)"
        )
    return status


_PAST = {"retry": "retried", "cancel": "cancelled", "resolve": "resolved"}


@dataclass(frozen=True)
class JobFilter:
    """`outbox list` and `outbox retry --status`: every field given must match.

    `since` and `until` (store timestamps) bound the job's last change (`updated_at`).
    """

    statuses: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    account: str | None = None
    invoice: str | None = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class StoredAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class NewJob:
    """What `enqueue` takes. Exactly one of `settings` and `template` is set."""

    purpose: str
    to: list[str]
    cc: list[str] = field(default_factory=list)
    settings: str | None = None
    template: str | None = None
    subject: str | None = None
    body: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    invoice: str | None = None
    attachments: list[StoredAttachment] = field(default_factory=list)
    #: An HTML alternative of `body`, sent as multipart/alternative.
    body_html: str | None = None


@dataclass(frozen=True)
class Attempt:
    attempt: int
    runner: str
    started_at: str
    outcome: str
    code: int | None
    reply: str | None
    message_id: str | None = None


@dataclass(frozen=True)
class RecipientReply:
    """What the server last said about one recipient, and at which attempt.

    `accepted` (2xx; the reply is the one to DATA, which is when the server took the
    message), `deferred` (4xx: tried again with the job) or `refused` (5xx: never again).
    """

    status: str
    code: int | None
    reply: str | None
    attempt: int = 0


_NO_REPLY = RecipientReply("pending", None, None)


@dataclass
class Job:
    """A job as stored, without attachment contents (see `Outbox.attachments`)."""

    id: int
    purpose: str
    to: list[str]
    cc: list[str]
    settings: str | None
    template: str | None
    subject: str | None
    body: str | None
    variables: dict[str, str]
    account: str | None
    invoice: str | None
    status: str
    invoice_status: str | None
    attempts: int
    next_attempt_at: str
    claimed_by: str | None
    claimed_until: str | None
    message_id: str | None
    last_code: int | None
    last_reply: str | None
    failure: str | None
    created_at: str
    updated_at: str
    finished_at: str | None
    attachments_pruned_at: str | None = None
    message_date: str | None = None
    #: Attempts made before the last `outbox retry`: they no longer count against the
    #: budget of --max-attempts.
    attempts_before_retry: int = 0
    body_html: str | None = None
    attachment_sizes: list[tuple[str, int]] = field(default_factory=list)
    #: SHA-256 of each attachment (None for one queued before checksums were kept).
    attachment_sha256: list[str | None] = field(default_factory=list)
    history: list[Attempt] = field(default_factory=list)
    replies: dict[str, RecipientReply] = field(default_factory=dict)

    @property
    def recipients(self) -> list[str]:
        """Every To and Cc address, each once, in order."""
        return list(dict.fromkeys([*self.to, *self.cc]))

    @property
    def pending_recipients(self) -> list[str]:
        """Recipients still to be sent the message: none accepted or refused it yet."""
        return [
            address
            for address in self.recipients
            if self.replies.get(address, _NO_REPLY).status not in ("accepted", "refused")
        ]

    def recipient_state(self, address: str) -> str:
        """`accepted` or `refused`; else `pending` while the job is, `undelivered` after."""
        reply = self.replies.get(address)
        if reply is not None and reply.status in ("accepted", "refused"):
            return reply.status
        return "pending" if self.status in PENDING else "undelivered"

    @property
    def invoice_state(self) -> str:
        """`delivered` once every To recipient accepted it, or under the Max Size rule;
        else `pending` while the job is, and `undelivered` once it is finished."""
        if self.invoice_status:
            return self.invoice_status
        return "pending" if self.status in PENDING else "undelivered"

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": self.id,
            "purpose": self.purpose,
            "status": self.status,
            "to": self.to,
            "cc": self.cc,
            "settings": self.settings,
            "template": self.template,
            "attempts": self.attempts,
            "nextAttemptAt": self.next_attempt_at if self.status in PENDING else None,
            "lastCode": self.last_code,
            "lastReply": self.last_reply,
            "messageId": self.message_id,
            "messageDate": self.message_date,
            "failure": self.failure,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "finishedAt": self.finished_at,
            "claimedBy": self.claimed_by,
            "claimedUntil": self.claimed_until,
            "recipients": [
                {
                    "address": address,
                    "field": "to" if address in self.to else "cc",
                    "status": self.recipient_state(address),
                    "code": reply.code,
                    "reply": reply.reply,
                    "attempt": reply.attempt or None,
                }
                for address in self.recipients
                for reply in [self.replies.get(address, _NO_REPLY)]
            ],
            "attachments": [
                {"filename": n, "size": s, "sha256": checksum}
                for (n, s), checksum in zip(
                    self.attachment_sizes, self.attachment_sha256, strict=True
                )
            ],
            "attachmentsPrunedAt": self.attachments_pruned_at,
            "attemptLog": [
                {
                    "attempt": a.attempt,
                    "runner": a.runner,
                    "startedAt": a.started_at,
                    "outcome": a.outcome,
                    "code": a.code,
                    "reply": a.reply,
                    "messageId": a.message_id,
                }
                for a in self.history
            ],
        }
        if self.purpose == "invoice":
            result.update(
                account=self.account, invoice=self.invoice, invoiceStatus=self.invoice_state
            )
        return result


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended, as the runner reports it to the store.

    `message_id` is the Message-ID this attempt sent or tried to send (None if it never
    got to sending);
    `replies` what the server said this attempt about each recipient it was given.
    """

    status: str
    outcome: str
    code: int | None = None
    reply: str | None = None
    message_id: str | None = None
    failure: str | None = None
    invoice_delivered: bool = False
    retry_at: str | None = None
    replies: dict[str, RecipientReply] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueStats:
    """The outbox at a glance: jobs by status, how many are due now, and since when the
    oldest of them is due (a store timestamp; None when none is)."""

    counts: dict[str, int]
    due: int
    oldest_due_at: str | None


@dataclass(frozen=True)
class Pruned:
    """What `prune_attachments` removed (or, in a dry run, would remove)."""

    jobs: int
    attachments: int
    bytes: int

    def describe(self, *, dry_run: bool = False) -> str:
        verb = "Would prune" if dry_run else "Pruned"
        return (
            f"{verb} {self.attachments} attachments ({self.bytes} bytes) of {self.jobs}"
            " finished jobs"
        )


class Outbox(Protocol):
    """The store's outbox side. Claims are leases: a dead runner's claims expire."""

    def enqueue(self, job: NewJob) -> int: ...

    def claim(self, runner: str, limit: int, lease_seconds: float) -> list[Job]: ...

    def attachments(self, job_id: int) -> list[StoredAttachment]: ...

    def finish_attempt(
        self, job_id: int, runner: str, started_at: str, outcome: Outcome
    ) -> None: ...

    def release(self, runner: str) -> None: ...

    def renew_claim(self, job_id: int, runner: str, lease_seconds: float) -> bool:
        """Extend `runner`'s claim on a job to now + lease; False if the claim was lost."""
        ...

    def fix_identity(self, job_id: int, message_id: str, date: str) -> None:
        """Record the job's Message-ID and Date, unless it has them already (a job queued by
        an older smtpcfg may have a Message-ID and no Date: its Message-ID is kept)."""
        ...

    def jobs(self, selection: JobFilter | None = None) -> list[Job]: ...

    def operate(self, job_ids: list[int], operation: Operation) -> list[str]:
        """Do `operation` to every job, in one transaction: all or none.

        Returns each job's status before. Raises OperationRefused, changing nothing, when
        a job is not found or not in a status the operation applies to, or (cancel) is
        claimed by a runner whose lease has not run out: it may be sending it now.
        """
        ...

    def operations(self, job_id: int) -> list[OperationRecord]: ...

    def queue_stats(self) -> QueueStats: ...

    def job(self, job_id: int) -> Job | None: ...

    def prune_attachments(self, finished_before: str, *, dry_run: bool = False) -> Pruned:
        """Delete the attachment bytes of jobs finished (sent, failed, size-exceeded...)
        before `finished_before`; keep the job, its recipients and each attachment's
        name, size and SHA-256."""
        ...
