"""No job stops the runner; recipients are followed one by one; a job keeps one
Message-ID; a slow server never lets another runner take the job in flight."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from reconciler.delivery.enqueue import enqueue
from reconciler.delivery.events import EventLog
from reconciler.delivery.options import RunnerOptions
from reconciler.delivery.runner import Runner
from reconciler.delivery.sender import Sender
from reconciler.store.jobs import Job
from reconciler.store.open import open_store
from tests.delivery.conftest import NO_LOGIN, Delivery, wait_for
from tests.delivery.fault_servers import Picky
from tests.support.smtp import SmtpSink
from tests.support.stores import execute

CFO = "cfo@customer.example"
JANE = "jane@customer.example"


def test_poison_jobs_fail_alone_and_every_good_job_is_sent(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    url = delivery.cli.env["SMTPCFG_STORE"]
    good = [delivery.add_invoice("INV-1")]
    bad_subject = delivery.add(
        "--purpose",
        "notification",
        "--settings",
        "primary",
        "--to",
        JANE,
        "--subject",
        "Notice",
        "--body",
        "Hello.",
    )
    good.append(delivery.add_invoice("INV-2"))
    bad_invoice = delivery.add_invoice("INV-3")
    good.append(delivery.add_invoice("INV-4"))
    # What an older smtpcfg let in: header text the email library refuses (U+2028 and a
    # vertical tab split a line for it), written straight into the store.
    execute(
        url,
        ["UPDATE outbox_jobs SET subject = ? WHERE id = ?"],
        ["Notice\u2028Bcc: attacker@evil.example", bad_subject],
    )
    execute(url, ["UPDATE outbox_jobs SET invoice = ? WHERE id = ?"], ["INV\x0b3", bad_invoice])

    result = delivery.deliver_once()

    assert result.code == 1  # jobs failed; the runner did not crash
    assert "Traceback" not in result.output
    assert [m["Subject"] for m in smtp_server.messages] == [
        "Invoice INV-1 for account A-1001",
        "Invoice INV-2 for account A-1001",
        "Invoice INV-4 for account A-1001",
    ]
    for job in good:
        assert delivery.show(job)["status"] == "sent"
    # The runner's own header check (the one rule of reconciler.header_text) names the
    # character, before the email library would raise.
    for job, character in ((bad_subject, "U+2028"), (bad_invoice, "U+000B")):
        shown = delivery.show(job)
        assert (shown["status"], shown["attempts"]) == ("failed", 1)
        assert shown["attemptLog"][0]["outcome"] == "invalid"
        assert f"contains the line break {character}" in shown["failure"]
        assert f"job {job} (" in result.stderr
    assert delivery.show(bad_invoice)["invoiceStatus"] == "undelivered"
    # Nothing is left to crash a later run.
    again = delivery.deliver_once()
    assert again.code == 0, again.output
    assert "nothing to do" in again.stderr


def test_a_greylisted_cc_gets_the_message_on_the_retry_and_the_to_only_once(
    blank_delivery: Delivery,
) -> None:
    url = blank_delivery.cli.env["SMTPCFG_STORE"]
    with Picky(greylist=(CFO,)) as server:
        blank_delivery.apply(server, settings_spec=NO_LOGIN)
        job = blank_delivery.add_invoice("INV-7", "--cc", CFO)

        first = blank_delivery.deliver_once("--retry-base-delay", "60")

        assert first.code == 0, first.output
        shown = blank_delivery.show(job)
        assert (shown["status"], shown["invoiceStatus"]) == ("retrying", "delivered")
        jane, cfo = shown["recipients"]
        assert (jane["address"], jane["field"], jane["status"], jane["code"]) == (
            JANE,
            "to",
            "accepted",
            250,
        )
        assert (cfo["address"], cfo["field"], cfo["status"], cfo["code"]) == (
            CFO,
            "cc",
            "pending",
            451,
        )
        assert "Greylisted" in cfo["reply"]
        text = blank_delivery.run("outbox", "show", str(job)).stdout
        assert f"cc: {CFO} pending (attempt 1): 451 4.7.1 Greylisted" in text
        assert (len(server.copies_for(JANE)), len(server.copies_for(CFO))) == (1, 0)

        execute(url, ["UPDATE outbox_jobs SET next_attempt_at = created_at WHERE id = ?"], [job])
        second = blank_delivery.deliver_once()

        assert second.code == 0, second.output
        shown = blank_delivery.show(job)
        assert (shown["status"], shown["attempts"]) == ("sent", 2)
        assert [r["status"] for r in shown["recipients"]] == ["accepted", "accepted"]
        [to_copy], [cc_copy] = server.copies_for(JANE), server.copies_for(CFO)
        assert server.deliveries[1][0] == [CFO]  # the retry went to the Cc alone
        assert to_copy["Message-ID"] == cc_copy["Message-ID"] == shown["messageId"]
        assert to_copy["Date"] == cc_copy["Date"]


def test_a_refused_to_leaves_the_invoice_undelivered_though_the_cc_got_it(
    blank_delivery: Delivery, smtp_server_factory: Callable[..., SmtpSink]
) -> None:
    server = smtp_server_factory()
    blank_delivery.apply(server, settings_spec=NO_LOGIN)
    server.fail_next("550 5.1.1 No such user", at="rcpt")
    job = blank_delivery.add_invoice("INV-8", "--cc", CFO)

    result = blank_delivery.deliver_once()

    assert result.code == 0, result.output
    shown = blank_delivery.show(job)
    assert (shown["status"], shown["invoiceStatus"]) == ("sent", "undelivered")
    assert [(r["status"], r["code"]) for r in shown["recipients"]] == [
        ("refused", 550),
        ("accepted", 250),
    ]
    assert f"<{JANE}> refused: 550 5.1.1 No such user" in shown["failure"]


def test_after_an_ambiguous_close_both_copies_carry_the_jobs_message_id(
    blank_delivery: Delivery,
) -> None:
    with Picky(hang_up_after_data=True) as server:
        blank_delivery.apply(server, settings_spec=NO_LOGIN)
        job = blank_delivery.add_invoice("INV-9")

        result = blank_delivery.deliver_once()

        assert result.code == 0, result.output
        first, second = server.copies_for(JANE)
    shown = blank_delivery.show(job)
    assert (shown["status"], shown["attempts"]) == ("sent", 2)
    assert shown["attemptLog"][0]["outcome"] == "connection-lost"
    assert first["Message-ID"] == second["Message-ID"] == shown["messageId"]
    assert first["Date"] == second["Date"] == shown["messageDate"]
    assert [a["messageId"] for a in shown["attemptLog"]] == [shown["messageId"]] * 2
    text = blank_delivery.run("outbox", "show", str(job)).stdout
    assert text.count(shown["messageId"]) == 3  # the job's, and each attempt's


def no_vault() -> NoReturn:
    raise AssertionError("settings without a login never ask Vault")


def test_a_slow_server_never_lets_a_second_runner_take_the_job_in_flight(
    blank_delivery: Delivery, smtp_server_factory: Callable[..., SmtpSink]
) -> None:
    """The timeout (10 s) is longer than the lease (4 s): the lease still holds, since a
    send is given at most half the lease after the claim is renewed."""
    server = smtp_server_factory(tls=True)
    blank_delivery.apply(server, settings_spec={"username": None, "password": None})
    url = blank_delivery.cli.env["SMTPCFG_STORE"]
    store = open_store(url, create=False)
    job = enqueue(
        store, purpose="notification", settings="primary", to=[JANE], subject="Slow", body="Hi."
    )
    runner = Runner(
        store,
        Sender(no_vault, ca_file=blank_delivery.ca_file, timeout=10),
        RunnerOptions("A", once=True, lease_seconds=4.0, retry_base_delay=60),
        EventLog(stream=io.StringIO()),
    )
    done = threading.Event()
    taken: list[Job] = []
    tries = 0

    def runner_b_tries_while_a_waits_for_the_reply() -> None:
        nonlocal tries
        other = open_store(url, create=False)
        try:
            wait_for(lambda: server.held == 1 or done.is_set(), "the message to be in flight")
            while not done.is_set():  # held stays 1 until release(): A is mid-message
                taken.extend(other.claim("B", 10, 60.0))
                tries += 1
                time.sleep(0.05)
        finally:
            other.close()

    server.hold_after(0)  # the reply to DATA never comes
    helper = threading.Thread(target=runner_b_tries_while_a_waits_for_the_reply)
    helper.start()
    try:
        started = time.monotonic()
        summary = runner.run()
        elapsed = time.monotonic() - started
    finally:
        done.set()
        helper.join(timeout=30)
        server.release()

    assert tries >= 1  # B tried while A waited for the reply to DATA
    assert taken == []
    assert summary.counts == {"retrying": 1}
    assert elapsed < 4.0  # within the lease
    shown = store.job(job)
    assert shown is not None
    assert "did not answer in time while sending" in (shown.failure or "")
    store.close()
