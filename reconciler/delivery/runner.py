"""The delivery runner: claims due outbox jobs, sends them, records every attempt.

It reads SmtpSettings, Users and EmailTemplates from the store for every job, so an
apply takes effect from the next message on, and never imports manifest or plan code.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.delivery.compose import Composed, compose
from reconciler.delivery.events import EventLog
from reconciler.delivery.failures import DeliveryFailure
from reconciler.delivery.message import literal
from reconciler.delivery.outbox import enqueue
from reconciler.delivery.sender import Sender
from reconciler.errors import SmtpcfgError
from reconciler.model import ResourceKey
from reconciler.store.base import Store, StoreError
from reconciler.store.outbox import Job, Outcome
from reconciler.timeutil import utc_in, utc_now
from reconciler.vault.errors import VaultLookupError

#: Vault failures that may pass by themselves; others need a person.
#: A token Vault refused is replaced (a fresh login) by the next attempt; a policy that
#: refuses is fixed by someone, usually soon: retried (bounded by --max-attempts) rather
#: than failing a whole invoice run for good.
_TEMPORARY_VAULT_REASONS = (
    "unreachable",
    "sealed",
    "auth-failed",
    "token-invalid",
    "permission-denied",
)


#: How often `deliver --prune-after` prunes, in seconds.
PRUNE_INTERVAL = 3600.0


@dataclass
class RunnerOptions:
    runner_id: str
    once: bool = False
    poll_interval: float = 2.0
    batch_size: int = 20
    lease_seconds: float = 300.0
    max_attempts: int = 8
    retry_base_delay: float = 30.0
    retry_max_delay: float = 3600.0
    #: Prune the attachments of jobs finished longer ago than this (seconds), hourly.
    prune_after: float | None = None


@dataclass
class RunSummary:
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return self.counts["failed"]


class StopRequest:
    """A request to stop that a signal handler may make, and that wakes an idle wait.

    Not a threading.Event: its set() takes a lock, and a handler that runs while the main
    thread holds that very lock (inside Event.wait) would deadlock. A flag and a byte
    written to a socket pair take no lock.
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_writer.setblocking(False)

    @property
    def requested(self) -> bool:
        return self.reason is not None

    def request(self, reason: str) -> None:
        self.reason = reason
        with contextlib.suppress(OSError):  # closed, or full: the wait wakes anyway
            self._wake_writer.send(b"\0")

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`; return at once when a stop is (or was) requested."""
        select.select([self._wake_reader], [], [], seconds)

    def close(self) -> None:
        self._wake_reader.close()
        self._wake_writer.close()


class Runner:
    """Claims due jobs, sends each, records the outcome; see `run`."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        options: RunnerOptions,
        log: EventLog,
        progress: Callable[[RunSummary], None] | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.options = options
        self.log = log
        self.progress = progress
        self.stopping = StopRequest()
        self._next_prune = 0.0

    def stop(self, reason: str) -> None:
        """Stop after the message in flight; safe to call from a signal handler."""
        self.stopping.request(reason)

    def run(self) -> RunSummary:
        """Send due jobs until stopped or, with `once`, until none is due.

        Jobs claimed but not yet started when the runner stops go back to the queue at
        once, not after their lease, so another runner (or the next run) sends them.
        """
        summary = RunSummary()
        options = self.options
        try:
            while not self.stopping.requested:
                self._prune_if_due()
                jobs = self.store.claim(
                    options.runner_id, options.batch_size, options.lease_seconds
                )
                if not jobs:
                    if options.once:
                        break
                    # Idle: hang up rather than hold SMTP sessions open between polls.
                    self.sender.close()
                    self.stopping.wait(options.poll_interval)
                    continue
                claimed_at = time.monotonic()
                for job in jobs:
                    if self.stopping.requested or self._lease_half_gone(claimed_at):
                        break
                    summary.counts[self.process(job)] += 1
                    if self.progress:
                        self.progress(summary)
                self.store.release(options.runner_id)  # what is left of the batch
        except BaseException:
            # The first error is the one to report; the claims expire with their lease.
            with contextlib.suppress(StoreError):
                self.store.release(options.runner_id)
            raise
        else:
            self.store.release(options.runner_id)
        finally:
            self.sender.close()
            self.stopping.close()
        return summary

    def _prune_if_due(self) -> None:
        """`deliver --prune-after`: prune at start, then once per PRUNE_INTERVAL."""
        if self.options.prune_after is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_INTERVAL
        pruned = self.store.prune_attachments(utc_in(-self.options.prune_after))
        self.log.message(pruned.describe(), event="prune", jobs=pruned.jobs,
                         attachments=pruned.attachments, bytes=pruned.bytes)

    def _lease_half_gone(self, claimed_at: float) -> bool:
        """Whether to stop working through a batch and claim afresh.

        Once a claim expires, another runner may take the job; sending it anyway could
        send it twice. Half the lease leaves the job about to start time to finish.
        """
        return time.monotonic() - claimed_at > self.options.lease_seconds / 2

    def process(self, job: Job) -> str:
        """Send one job and record the attempt; return the job's new status."""
        started = utc_now()
        outcome = self._attempt(job)
        self.store.finish_attempt(job.id, self.options.runner_id, started, outcome)
        self.log.job(job, outcome)
        return outcome.status

    def _attempt(self, job: Job) -> Outcome:
        invoice = job.purpose == "invoice"
        try:
            composed = compose(job, self.store)
            if composed.over_limit:
                return self._size_exceeded(job, composed)
            result = self.sender.send(composed.settings, composed.message)
        except DeliveryFailure as failure:
            return self._failed(
                job,
                str(failure),
                failure.temporary,
                failure.code,
                failure.reply,
                outcome=failure.step,
            )
        except VaultLookupError as error:
            return self._failed(
                job,
                str(error),
                error.reason in _TEMPORARY_VAULT_REASONS,
                outcome=f"vault-{error.reason}",
            )
        except StoreError:
            raise  # the store's fault, not the job's: the job keeps its claim and lease
        except SmtpcfgError as error:
            return self._failed(job, str(error), temporary=False, outcome="invalid")
        refused = "; ".join(
            f"{rcpt} refused: {code} {reply}" for rcpt, (code, reply) in result.refused.items()
        )
        return Outcome(
            status="sent",
            outcome="sent",
            code=result.code,
            reply=result.reply_text,
            message_id=result.message_id,
            failure=refused or None,
            invoice_delivered=invoice,
        )

    def _size_exceeded(self, job: Job, composed: Composed) -> Outcome:
        """Max Size rule: not sent, Notify User alerted, invoice still listed as delivered."""
        settings = composed.settings
        what = (
            f"invoice {job.invoice} of account {job.account}"
            if job.invoice
            else (f"outbox job {job.id}")
        )
        reason = (
            f"attachments total {composed.attachment_total} bytes, over the Max Size of "
            f"{composed.limit} bytes of SmtpSettings/{settings.key.name}; not sent. "
            f"Send {what} by hand: `smtpcfg outbox show {job.id}` lists the attachments"
        )
        notify = settings.spec.get("notifyUser")
        user = self.store.resource(ResourceKey("User", notify)) if notify else None
        if user is None:
            reason += "; no Notify User is configured, so nobody was alerted"
        else:
            alert = enqueue(
                self.store,
                purpose="notification",
                settings=settings.key.name,
                to=[user.spec["email"]],
                # Built from ids and file names, which may hold a `$`: not a template.
                subject=literal(f"Not delivered: {what} is over the attachment limit"),
                body=literal(
                    f"Outbox job {job.id} ({what}) was not emailed: its attachments total "
                    f"{composed.attachment_total} bytes, and the Max Size of the SMTP "
                    f"settings {settings.key.name} is {composed.limit} bytes.\n\n"
                    f"Recipients: {', '.join(job.to)}\n"
                    f"Attachments: {', '.join(n for n, _ in job.attachment_sizes)}\n\n"
                    f"The invoice is listed as delivered on the account. Please send it by "
                    f"hand; `smtpcfg outbox show {job.id}` has the details.\n"
                ),
            )
            reason += f"; Notify User {notify} alerted (outbox job {alert})"
        return Outcome(
            status="size-exceeded",
            outcome="size-exceeded",
            failure=reason,
            invoice_delivered=job.purpose == "invoice",
        )

    def _failed(
        self,
        job: Job,
        reason: str,
        temporary: bool,
        code: int | None = None,
        reply: str | None = None,
        *,
        outcome: str,
    ) -> Outcome:
        attempt = job.attempts + 1
        if temporary and attempt < self.options.max_attempts:
            return Outcome(
                status="retrying",
                outcome=outcome,
                code=code,
                reply=reply,
                failure=reason,
                retry_at=utc_in(self._backoff(attempt)),
            )
        if temporary:
            reason = f"gave up after {attempt} attempts: {reason}"
        return Outcome(status="failed", outcome=outcome, code=code, reply=reply, failure=reason)

    def _backoff(self, attempt: int) -> float:
        """Exponential, capped, with jitter so that runners do not retry in lockstep."""
        options = self.options
        delay = min(options.retry_max_delay, options.retry_base_delay * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
