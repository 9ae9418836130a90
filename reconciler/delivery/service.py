"""`smtpcfg deliver`: a runner as a process, set up the way a service needs it.

The store reconnects when it runs as a service, SIGTERM and SIGINT stop it after the
message in flight, and it logs its start, its stop and what it did.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from types import FrameType

from reconciler.delivery.events import EventLog
from reconciler.delivery.options import SMTP_TIMEOUT, RunnerOptions
from reconciler.delivery.runner import Runner, RunSummary
from reconciler.delivery.sender import Sender
from reconciler.delivery.wire import return_large_buffers_to_the_system
from reconciler.store.faults import Reconnect
from reconciler.store.open import open_existing_store
from reconciler.vault.lazy import lazy_resolver


def default_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_service(
    store_url: str,
    options: RunnerOptions,
    *,
    vault_auth: str | None = None,
    ca_file: str | None = None,
    timeout: float = SMTP_TIMEOUT,
    log_format: str = "text",
) -> RunSummary:
    """Run a runner on the store until it stops (see `Runner.run`); return what it did."""
    return_large_buffers_to_the_system()
    log = EventLog(log_format)
    sender = Sender(
        lazy_resolver(vault_auth, log.message),
        ca_file=ca_file,
        timeout=timeout,
        notify=log.message,
    )
    store = open_existing_store(store_url)

    def progress(summary: RunSummary) -> None:
        log.progress(f"{sum(summary.counts.values())} processed: {_counts(summary)}")

    show_progress = options.once and log_format == "text" and sys.stderr.isatty()
    runner = Runner(store, sender, options, log, progress if show_progress else None)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Only this: the handler can interrupt the runner anywhere, even halfway through
        # writing a log line, so it must neither log nor take a lock.
        runner.stop(f"received {signal.Signals(signum).name}")

    if not options.once:
        # A service outlives a database restart: it reconnects, logging each try, and
        # stops reconnecting when asked to stop.
        def wait(seconds: float) -> bool:
            runner.stopping.wait(seconds)
            return not runner.stopping.requested

        store.keep_connected(Reconnect(log=log.message, wait=wait))
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.message(f"runner {options.runner_id} started on {store.url}", store=store.url)
    try:
        summary = runner.run()
    finally:
        store.close()
        log.end_progress()
    if runner.stopping.reason:
        log.message(f"{runner.stopping.reason}: stopped after the message in flight")
    log.message(f"runner stopped: {_counts(summary) or 'nothing to do'}", **summary.counts)
    return summary


def _counts(summary: RunSummary) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
