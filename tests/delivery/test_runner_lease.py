"""A runner never sends a job of its batch whose claim has passed to another runner."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import NoReturn

from reconciler.delivery.enqueue import enqueue
from reconciler.delivery.events import EventLog
from reconciler.delivery.options import RunnerOptions
from reconciler.delivery.runner import Runner, RunSummary
from reconciler.delivery.sender import Sender
from reconciler.store.jobs import Job, JobFilter
from reconciler.store.open import open_store
from tests.delivery.conftest import Delivery
from tests.support.smtp import SmtpSink


def no_vault() -> NoReturn:
    raise AssertionError("settings without a login never ask Vault")


def test_jobs_of_a_batch_whose_claim_passed_to_another_runner_are_left_to_it(
    blank_delivery: Delivery, smtp_server_factory: Callable[..., SmtpSink]
) -> None:
    server = smtp_server_factory(tls=True)
    blank_delivery.apply(server, settings_spec={"username": None, "password": None})
    url = blank_delivery.cli.env["SMTPCFG_STORE"]
    store = open_store(url, create=False)
    for n in range(5):
        enqueue(
            store,
            purpose="notification",
            settings="primary",
            to=["a@customer.example"],
            subject=f"Notice {n}",
            body="Hello.",
        )
    taken: list[Job] = []

    def runner_b_claims_while_a_is_busy(summary: RunSummary) -> None:
        if taken:
            return
        time.sleep(1.2)  # runner A's claims on the rest of its batch expire meanwhile
        other = open_store(url, create=False)
        taken.extend(other.claim("B", 10, 60.0))
        other.close()

    runner = Runner(
        store,
        Sender(no_vault, ca_file=blank_delivery.ca_file, timeout=10),
        RunnerOptions("A", once=True, lease_seconds=1.0, retry_base_delay=0),
        EventLog(stream=io.StringIO()),
        progress=runner_b_claims_while_a_is_busy,
    )
    summary = runner.run()

    assert [job.id for job in taken] == [2, 3, 4, 5]
    # A renews each claim before sending: it found these gone and left them to B.
    assert [m["Subject"] for m in server.messages] == ["Notice 0"]
    assert summary.counts == {"sent": 1}
    assert [job.claimed_by for job in store.jobs(JobFilter(statuses=("queued",)))] == ["B"] * 4
    store.close()
