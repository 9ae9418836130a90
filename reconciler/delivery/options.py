"""How a delivery runner runs, with the defaults `smtpcfg deliver` offers.

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
