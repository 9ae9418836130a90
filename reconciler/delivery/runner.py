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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from reconciler.delivery.compose import Composed, compose
from reconciler.delivery.enqueue import enqueue
from reconciler.delivery.events import EventLog
from reconciler.delivery.failures import DeliveryFailure, SizeLimitExceeded
from reconciler.delivery.message import literal
from reconciler.delivery.observer import Observer
from reconciler.delivery.options import RunnerOptions
from reconciler.delivery.sender import Sender
from reconciler.delivery.size_alert import SizeProblem, size_alert, what_job_is
from reconciler.errors import SmtpcfgError
from reconciler.model import ResourceKey, StoredResource
from reconciler.store.base import Store, StoreError
from reconciler.store.jobs import Job, Outcome, RecipientReply
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
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.observer = observer or Observer()
        #: The SmtpSettings the job in flight is sent through, once it is known.
        self._sending_with: str | None = None
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
                self.observer.loop_turned()
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
                for job in jobs:
                    if self.stopping.requested:
                        break
                    if not self.store.renew_claim(job.id, options.runner_id, options.lease_seconds):
                        # Its claim expired while earlier jobs were sent; another runner
                        # may hold it now, and it must not be sent twice.
                        continue
                    summary.counts[self.process(job)] += 1
                    self.observer.loop_turned()
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
        self.log.message(
            pruned.describe(),
            event="prune",
            jobs=pruned.jobs,
            attachments=pruned.attachments,
            bytes=pruned.bytes,
        )

    def process(self, job: Job) -> str:
        """Send one job and record the attempt; return the job's new status.

        The send is bounded to half the lease (renewed just before), so the claim
        outlives it and no other runner takes the job meanwhile.
        """
        started, clock = utc_now(), time.monotonic()
        self._sending_with = None
        outcome = self._attempt(job, clock + self.options.lease_seconds / 2)
        self.store.finish_attempt(job.id, self.options.runner_id, started, outcome)
        self.log.job(job, outcome)
        self.observer.attempted(job, outcome, self._sending_with, time.monotonic() - clock)
        return outcome.status

    def _attempt(self, job: Job, deadline: float) -> Outcome:
        """One attempt; whatever goes wrong ends it, never the runner."""
        try:
            return self._send(job, deadline)
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
        except Exception as error:  # e.g. the email library refusing a header: a bad job
            return self._failed(
                job,
                f"cannot build or send the email: {type(error).__name__}: {error}",
                temporary=False,
                outcome="invalid",
            )

    def _send(self, job: Job, deadline: float) -> Outcome:
        composed = compose(job, self.store)
        self._sending_with = composed.settings.key.name
        if composed.size_problem:
            return self._size_exceeded(job, composed.settings, composed.size_problem)
        message_id = self._fix_identity(job, composed)
        given = job.pending_recipients
        if not given:  # every recipient answered for good already: nothing to send
            return self._answered(job, message_id, None, None, {})
        try:
            result = self.sender.send(composed.settings, composed.message, given, deadline)
        except SizeLimitExceeded as failure:
            return self._over_server_size(job, composed.settings, failure)
        except DeliveryFailure as failure:
            if failure.replies:  # every recipient refused, each with its own reply
                return self._answered(job, message_id, failure.code, failure.reply, failure.replies)
            outcome = self._failed(
                job,
                str(failure),
                failure.temporary,
                failure.code,
                failure.reply,
                outcome=failure.step,
            )
            return replace(outcome, message_id=message_id)
        answers = {address: (result.code, result.reply_text) for address in given}
        answers.update(result.refused)
        return self._answered(job, message_id, result.code, result.reply_text, answers)

    def _over_server_size(
        self, job: Job, settings: StoredResource, failure: SizeLimitExceeded
    ) -> Outcome:
        """An invoice over the server's SIZE is handled by the Max Size rule; other email
        fails with the reason."""
        if job.purpose != "invoice":
            return self._failed(job, str(failure), temporary=False, outcome=failure.step)
        problem = SizeProblem(
            "server-size", failure.size, failure.limit, settings.key.name, failure.server
        )
        return self._size_exceeded(job, settings, problem)

    def _fix_identity(self, job: Job, composed: Composed) -> str:
        """The job's Message-ID, recorded with its Date before the first attempt sends, so
        that every retry (and a copy sent twice) carries the same."""
        message = composed.message
        message_id = str(message["Message-ID"])
        if job.message_date is None:
            self.store.fix_identity(job.id, message_id, str(message["Date"]))
        return message_id

    def _answered(
        self,
        job: Job,
        message_id: str | None,
        code: int | None,
        reply: str | None,
        answers: Mapping[str, tuple[int, str]],
    ) -> Outcome:
        """The outcome of an attempt the server answered recipient by recipient.

        `answers`: (code, reply) per recipient of this attempt; an accepted one has the
        reply to DATA. 4xx recipients stay pending and the job is retried for them alone;
        the job is `sent` once none is pending and at least one accepted the message.
        """
        replies = {
            address: RecipientReply(_recipient_status(c), c, r)
            for address, (c, r) in answers.items()
        }
        known = {**job.replies, **replies}

        def having(status: str) -> list[str]:
            return [a for a in job.recipients if a in known and known[a].status == status]

        accepted, refused = having("accepted"), having("refused")
        pending = [a for a in job.recipients if a not in accepted and a not in refused]
        detail = (
            "; ".join(
                f"<{a}> {r.status}: {r.code} {r.reply}"
                for a, r in replies.items()
                if r.status != "accepted"
            )
            or None
        )
        if pending:
            waiting = f"{len(pending)} of {len(job.recipients)} recipients pending: {detail}"
            outcome = self._failed(job, waiting, True, code, reply, outcome="deferred")
        elif accepted:
            outcome = Outcome(status="sent", outcome="sent", code=code, reply=reply, failure=detail)
        else:
            outcome = Outcome(
                status="failed",
                outcome="recipient-refused",
                code=code,
                reply=reply,
                failure=f"every recipient refused: {detail}",
            )
        return replace(
            outcome,
            message_id=message_id,
            replies=replies,
            # The invoice went to the billing contact: every To address accepted it.
            invoice_delivered=job.purpose == "invoice" and set(job.to) <= set(accepted),
        )

    def _size_exceeded(self, job: Job, settings: StoredResource, problem: SizeProblem) -> Outcome:
        """Max Size rule, for the settings' Max Size or the server's SIZE: not sent, Notify
        User alerted (see size_alert.py), invoice still listed as delivered."""
        what = what_job_is(job)
        reason = (
            f"{problem.reason}; not sent. "
            f"Send {what} by hand: `smtpcfg outbox show {job.id}` lists the attachments"
        )
        self.observer.size_exceeded(problem.kind)
        notify = settings.spec.get("notifyUser")
        user = self.store.resource(ResourceKey("User", notify)) if notify else None
        if user is None:
            reason += "; no Notify User is configured, so nobody was alerted"
        else:
            alert = size_alert(job, problem)
            alert_id = enqueue(
                self.store,
                purpose="notification",
                settings=settings.key.name,
                to=[user.spec["email"]],
                # Built from ids and file names, which may hold a `$`: not a template.
                subject=literal(alert.subject),
                body=literal(alert.text),
                body_html=literal(alert.html),
            )
            reason += f"; Notify User {notify} alerted (outbox job {alert_id})"
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
        # Attempts made before an `outbox retry` are kept, but the budget starts afresh.
        attempt = job.attempts + 1 - job.attempts_before_retry
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
            since = " since it was retried by hand" if job.attempts_before_retry else ""
            reason = f"gave up after {attempt} attempts{since}: {reason}"
        return Outcome(status="failed", outcome=outcome, code=code, reply=reply, failure=reason)

    def _backoff(self, attempt: int) -> float:
        """Exponential, capped, with jitter so that runners do not retry in lockstep."""
        options = self.options
        delay = min(options.retry_max_delay, options.retry_base_delay * 2.0 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography


def _recipient_status(code: int) -> str:
    if 200 <= code < 300:
        return "accepted"
    return "deferred" if 400 <= code < 500 else "refused"
