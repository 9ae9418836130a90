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
from typing import TYPE_CHECKING

from reconciler.delivery.events import EventLog
from reconciler.delivery.observer import Observer
from reconciler.delivery.options import SMTP_TIMEOUT, RunnerOptions
from reconciler.delivery.runner import Runner, RunSummary
from reconciler.delivery.sender import Sender
from reconciler.delivery.wire import return_large_buffers_to_the_system
from reconciler.store.faults import Reconnect
from reconciler.store.open import open_existing_store
from reconciler.vault.lazy import lazy_resolver

if TYPE_CHECKING:
    from reconciler.delivery.readiness import Readiness
    from reconciler.delivery.status_server import StatusServer


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
    status_address: tuple[str, int] | None = None,
    readiness_interval: float = 5.0,
) -> RunSummary:
    """Run a runner on the store until it stops (see `Runner.run`); return what it did.

    With `status_address`, serve /metrics, /healthz and /readyz there (status_server.py);
    the address is bound first, so a taken one fails before anything else is done.
    """
    return_large_buffers_to_the_system()
    log = EventLog(log_format)
    observer, status = (
        _status_server(status_address, store_url, vault_auth, options, readiness_interval)
        if status_address
        else (Observer(), None)
    )
    sender = Sender(
        lazy_resolver(vault_auth, log.message),
        ca_file=ca_file,
        timeout=timeout,
        notify=log.message,
    )
    try:
        store = open_existing_store(store_url)
    except BaseException:
        if status:
            status.close()
        raise

    def progress(summary: RunSummary) -> None:
        log.progress(f"{sum(summary.counts.values())} processed: {_counts(summary)}")

    show_progress = options.once and log_format == "text" and sys.stderr.isatty()
    runner = Runner(store, sender, options, log, progress if show_progress else None, observer)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Only this: the handler can interrupt the runner anywhere, even halfway through
        # writing a log line, so it must neither log nor take a lock.
        runner.stop(f"received {signal.Signals(signum).name}")

    if not options.once:
        # A service outlives a database restart: it reconnects, logging each try, and
        # stops reconnecting when asked to stop.
        def wait(seconds: float) -> bool:
            observer.loop_turned()  # reconnecting is the loop at work, not stuck
            runner.stopping.wait(seconds)
            return not runner.stopping.requested

        store.keep_connected(Reconnect(log=log.message, wait=wait))
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.message(f"runner {options.runner_id} started on {store.url}", store=store.url)
    if status:
        status.start()
        log.message(f"serving /metrics, /healthz and /readyz on {status.url}", url=status.url)
    try:
        summary = runner.run()
    finally:
        if status:
            status.close()
        store.close()
        log.end_progress()
    if runner.stopping.reason:
        log.message(f"{runner.stopping.reason}: stopped after the message in flight")
    log.message(f"runner stopped: {_counts(summary) or 'nothing to do'}", **summary.counts)
    return summary


class _Status:
    """The listener and the readiness checks behind it, started and stopped together."""

    def __init__(self, server: StatusServer, readiness: Readiness) -> None:
        self.server = server
        self.readiness = readiness
        self.url = server.url

    def start(self) -> None:
        self.readiness.start()
        self.server.start()

    def close(self) -> None:
        self.server.close()
        self.readiness.close()


def _status_server(
    address: tuple[str, int],
    store_url: str,
    vault_auth: str | None,
    options: RunnerOptions,
    readiness_interval: float,
) -> tuple[Observer, _Status]:
    """Metrics, health and readiness: prometheus_client is imported only here."""
    from reconciler.delivery.metrics import PrometheusObserver
    from reconciler.delivery.readiness import Readiness
    from reconciler.delivery.status_server import StatusServer
    from reconciler.vault.client import VaultSettings
    from reconciler.vault.health import check_vault

    vault = VaultSettings.from_environment(os.environ, vault_auth)
    observer = PrometheusObserver()
    readiness = Readiness(
        store_url, lambda timeout: check_vault(vault, timeout), readiness_interval, observer.queue
    )
    server = StatusServer(address, observer, readiness, stuck_after(options))
    return observer, _Status(server, readiness)


def stuck_after(options: RunnerOptions) -> float:
    """When /healthz calls the loop stuck: a whole lease beyond the poll interval. An idle
    runner turns once per poll; a busy one once per job, each given half a lease."""
    return options.lease_seconds + options.poll_interval


def _counts(summary: RunSummary) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
