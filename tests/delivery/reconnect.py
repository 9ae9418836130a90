"""A runner that loses its database mid-run: what every reconnect test checks."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from collections.abc import Callable

from tests.delivery.conftest import Delivery, wait_for
from tests.support.smtp import SmtpSink

INVOICES = [f"INV-{n}" for n in range(1, 7)]


def runner_outlives(
    delivery: Delivery,
    server: SmtpSink,
    runners: list[subprocess.Popen[str]],
    cut: Callable[[], None],
    *,
    store: str | None = None,
) -> None:
    """Queue six invoices, hold the third in DATA, `cut` the runner's database connection
    (and release the message, which the runner then records on a lost connection), and
    check that every invoice is sent, at most one of them twice, and each try logged."""
    jobs = [delivery.add_invoice(number) for number in INVOICES]
    server.hold_after(2)
    runner = delivery.start_runner("--poll-interval", "0.2", store=store)
    runners.append(runner)
    wait_for(lambda: server.held == 1, "the third message to be in flight")

    cut()

    wait_for(
        lambda: all(delivery.show(job)["status"] == "sent" for job in jobs),
        "every job to be sent after the cut",
        timeout=90,
    )
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=30) == 0, delivery.runner_log
    log = delivery.runner_log
    assert "Traceback" not in log
    assert "reconnecting in 0.5 s (try 1)" in log, log
    assert "reconnected to store" in log, log
    received = Counter(str(message["Subject"]).split()[1] for message in server.messages)
    assert set(received) == set(INVOICES)
    assert all(count in (1, 2) for count in received.values()), received
    assert sum(received.values()) <= len(INVOICES) + 1, received
