"""How a runner runs and how `probe` looks at servers, with the defaults the CLI offers.

Light on purpose: the CLI reads these defaults when it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Bounds connecting with the greeting, each whole SMTP reply, and each send (seconds).
SMTP_TIMEOUT = 30.0


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


#: `probe` and `plan --probe`: bounds connecting with the greeting and each whole reply.
PROBE_TIMEOUT = 10.0
#: Servers probed at once.
PROBE_PARALLEL = 8
#: A certificate expiring within this many days is a warning.
CERTIFICATE_EXPIRY_DAYS = 21


@dataclass(frozen=True)
class ProbeOptions:
    """How `probe` and `plan --probe` look at SMTP servers."""

    timeout: float = PROBE_TIMEOUT
    ca_file: str | None = None
    expiry_days: int = CERTIFICATE_EXPIRY_DAYS
    parallel: int = PROBE_PARALLEL
