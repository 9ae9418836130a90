"""A runner stops working through a batch whose claims may have passed to another runner."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from reconciler.delivery import enqueue
from reconciler.delivery.events import EventLog
from reconciler.delivery.runner import Runner, RunnerOptions
from reconciler.delivery.sender import Sender
from reconciler.store.open import open_store
from reconciler.store.outbox import Job
from tests.delivery.conftest import Delivery, wait_for
from tests.support.smtp import SmtpSink


def no_vault() -> NoReturn:
    raise AssertionError("settings without a login never ask Vault")


def test_jobs_left_in_a_batch_after_half_the_lease_are_claimed_afresh(
    blank_delivery: Delivery, smtp_server_factory: Callable[..., SmtpSink]
) -> None:
    server = smtp_server_factory(tls=True)
    blank_delivery.apply(server, settings_spec={"username": None, "password": None})
    url = blank_delivery.cli.env["SMTPCFG_STORE"]
    store = open_store(url, create=False)
    for n in range(5):
        enqueue(store, purpose="notification", settings="primary", to=["a@customer.example"],
                subject=f"Notice {n}", body="Hello.")
    runner = Runner(store, Sender(no_vault, ca_file=blank_delivery.ca_file, timeout=10),
                    RunnerOptions("A", once=True, lease_seconds=1.0, retry_base_delay=0),
                    EventLog(stream=io.StringIO()))
    taken: list[Job] = []

    def runner_b_claims_while_a_is_busy() -> None:
        try:
            wait_for(lambda: server.held == 1, "the second message to be in flight")
            time.sleep(1.2)  # runner A's claims expire meanwhile
            other = open_store(url, create=False)
            taken.extend(other.claim("B", 10, 60.0))
            other.close()
        finally:
            server.release()

    server.hold_after(1)
    helper = threading.Thread(target=runner_b_claims_while_a_is_busy)
    helper.start()
    summary = runner.run()
    helper.join(timeout=30)

    assert [job.id for job in taken] == [2, 3, 4, 5]
    # A finished the message in flight, then left the jobs that B now holds alone.
    assert [m["Subject"] for m in server.messages] == ["Notice 0", "Notice 1"]
    assert summary.counts == {"sent": 2}
    assert [job.claimed_by for job in store.jobs(status="queued")] == ["B"] * 3
    store.close()
