"""Prometheus metrics of a runner (`deliver --metrics-addr`), kept with prometheus_client.

Imported only when metrics are asked for. Labels carry statuses, outcomes, failure
reasons, purposes and SmtpSettings names: never an address, a subject or a secret.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from reconciler.delivery.observer import Observer
from reconciler.store.jobs import STATUSES, Job, Outcome, QueueStats
from reconciler.timeutil import seconds_since

#: Seconds: from a quick relay on the LAN to a slow one given half a lease.
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 150.0)


class PrometheusObserver(Observer):
    def __init__(self) -> None:
        super().__init__()
        disable_created_metrics()  # type: ignore[no-untyped-call] # `_created` series: noise on every counter, for this use
        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Gauge("smtpcfg_outbox_jobs", "Outbox jobs by status.", ["status"], registry=r)
        self.due = Gauge(
            "smtpcfg_outbox_due_jobs", "Queued or retrying jobs due now (queue depth).", registry=r
        )
        self.oldest_due = Gauge(
            "smtpcfg_outbox_oldest_due_age_seconds",
            "How long the oldest due job has been due; 0 when none is.",
            registry=r,
        )
        self.attempts = Counter(
            "smtpcfg_delivery_attempts",
            "Attempts by the status they left the job in and their outcome (the failure "
            "reason, or sent).",
            ["purpose", "status", "outcome"],
            registry=r,
        )
        self.duration = Histogram(
            "smtpcfg_delivery_send_duration_seconds",
            "Time of one attempt, connecting and logging in included, by SmtpSettings.",
            ["settings"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.size_events = Counter(
            "smtpcfg_size_exceeded",
            "Jobs kept from being sent by the Max Size rule: limit is max-size (the "
            "settings' maxAttachmentSize) or server-size (the server's SIZE).",
            ["limit"],
            registry=r,
        )
        self.vault_errors = Counter(
            "smtpcfg_vault_errors",
            "Attempts that could not read a password from Vault, by reason.",
            ["reason"],
            registry=r,
        )
        self.last_success = Gauge(
            "smtpcfg_last_success_timestamp_seconds",
            "When a message last went out through the SmtpSettings (Unix time).",
            ["settings"],
            registry=r,
        )
        self.last_loop = Gauge(
            "smtpcfg_runner_last_loop_timestamp_seconds",
            "When the runner's loop last made progress (Unix time).",
            registry=r,
        )
        for status in STATUSES:
            self.jobs.labels(status)
        for limit in ("max-size", "server-size"):
            self.size_events.labels(limit)

    def loop_turned(self) -> None:
        super().loop_turned()
        self.last_loop.set(time.time())

    def attempted(self, job: Job, outcome: Outcome, settings: str | None, seconds: float) -> None:
        self.attempts.labels(job.purpose, outcome.status, outcome.outcome).inc()
        if outcome.outcome.startswith("vault-"):
            self.vault_errors.labels(outcome.outcome.removeprefix("vault-")).inc()
        if settings is None:
            return
        self.duration.labels(settings).observe(seconds)
        if outcome.status == "sent":
            self.last_success.labels(settings).set(time.time())

    def size_exceeded(self, kind: str) -> None:
        self.size_events.labels(kind).inc()

    def queue(self, stats: QueueStats) -> None:
        for status in STATUSES:
            self.jobs.labels(status).set(stats.counts.get(status, 0))
        self.due.set(stats.due)
        if stats.oldest_due_at is None:
            self.oldest_due.set(0)
            return
        self.oldest_due.set(max(0.0, seconds_since(stats.oldest_due_at)))
