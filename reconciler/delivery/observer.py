"""What a runner tells whoever watches it: each loop turn, each attempt, the queue
(which the readiness checks read, see readiness.py).

The runner calls an Observer; the default one keeps nothing and costs nothing, so a
runner without `--metrics-addr` never loads prometheus_client (see metrics.py).
"""

from __future__ import annotations

import time

from reconciler.store.jobs import Job, Outcome, QueueStats


class Observer:
    """Records nothing but the time of the loop's last turn."""

    def __init__(self) -> None:
        self.last_turn = time.monotonic()

    def loop_turned(self) -> None:
        """The runner's loop made progress: a poll, a job, a reconnect try."""
        self.last_turn = time.monotonic()

    def attempted(self, job: Job, outcome: Outcome, settings: str | None, seconds: float) -> None:
        """One attempt ended with `outcome` after `seconds`, through SmtpSettings `settings`
        (None when the job could not be composed)."""

    def size_exceeded(self, kind: str) -> None:
        """The Max Size rule kept a job from being sent: `max-size` or `server-size`."""

    def queue(self, stats: QueueStats) -> None:
        """The outbox as it is now."""
