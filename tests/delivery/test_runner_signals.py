"""The long-running `smtpcfg deliver`: it follows applies, and SIGTERM loses no job."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable

from reconciler.delivery.enqueue import enqueue
from reconciler.store.open import open_store
from tests.delivery.conftest import Delivery, wait_for
from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, SmtpSink


def reset_email(delivery: Delivery, name: str) -> int:
    return delivery.add(
        "--purpose",
        "password-reset",
        "--settings",
        "primary",
        "--to",
        f"{name}@customer.example",
        "--subject",
        f"Reset for {name}",
        "--body",
        "Use the link.",
    )


def stop(runner: subprocess.Popen[str]) -> int:
    runner.send_signal(signal.SIGTERM)
    return runner.wait(timeout=30)


def test_an_apply_while_the_runner_runs_is_used_from_the_next_message_on(
    delivery: Delivery,
    smtp_server: SmtpSink,
    smtp_server_factory: Callable[..., SmtpSink],
    runners: list[subprocess.Popen[str]],
) -> None:
    runner = delivery.start_runner("--poll-interval", "0.1")
    runners.append(runner)
    reset_email(delivery, "first")
    wait_for(lambda: len(smtp_server.messages) == 1, "the first message")
    smtp_server.hold_after(1)
    reset_email(delivery, "second")
    wait_for(lambda: smtp_server.held == 1, "the second message to be in flight")

    moved = smtp_server_factory(
        tls=True, username=SERVER_USERNAME, password=SERVER_PASSWORD, auth_required=True
    )
    delivery.apply(
        moved, settings_spec={"from": {"name": "Acme Accounts", "address": "accounts@acme.example"}}
    )
    third = reset_email(delivery, "third")
    smtp_server.release()
    wait_for(lambda: len(moved.messages) == 1, "the third message, at the new server")

    assert runner.poll() is None, delivery.runner_log  # the same process, never restarted
    # The message in flight went out as composed; the next one with the new settings.
    assert [m["Subject"] for m in smtp_server.messages] == ["Reset for first", "Reset for second"]
    assert smtp_server.messages[1]["From"].addresses[0].display_name == "Acme Billing"
    [message] = moved.messages
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Acme Accounts", "accounts@acme.example")
    assert message["Subject"] == "Reset for third"
    assert delivery.show(third)["status"] == "sent"
    assert stop(runner) == 0, delivery.runner_log


def test_sigterm_mid_drain_finishes_the_message_in_flight_and_loses_no_job(
    delivery: Delivery, smtp_server: SmtpSink, runners: list[subprocess.Popen[str]]
) -> None:
    count = 12
    store = open_store(delivery.cli.env["SMTPCFG_STORE"], create=False)
    try:
        queued = [
            enqueue(
                store,
                purpose="notification",
                settings="primary",
                to=[f"user{n}@customer.example"],
                subject=f"Notice {n}",
                body="Hello.",
            )
            for n in range(count)
        ]
    finally:
        store.close()
    smtp_server.hold_after(1)  # the second message stays in flight until released
    runner = delivery.start_runner("--poll-interval", "0.1")
    runners.append(runner)
    wait_for(lambda: smtp_server.held == 1, "the second message to be in flight")

    runner.send_signal(signal.SIGTERM)
    smtp_server.release()
    code = runner.wait(timeout=30)

    assert code == 0, delivery.runner_log
    assert "received SIGTERM" in delivery.runner_log
    assert "Traceback" not in delivery.runner_log
    assert [m["Subject"] for m in smtp_server.messages] == ["Notice 0", "Notice 1"]
    jobs = delivery.jobs()
    assert [job["status"] for job in jobs] == ["sent"] * 2 + ["queued"] * (count - 2)
    assert all(job["claimedBy"] is None for job in jobs)

    assert delivery.deliver_once().code == 0

    subjects = [m["Subject"] for m in smtp_server.messages]
    assert sorted(subjects) == sorted(f"Notice {n}" for n in range(count))
    assert len(set(m["Message-ID"] for m in smtp_server.messages)) == count
    assert [job["status"] for job in delivery.jobs()] == ["sent"] * count
    assert [job["id"] for job in delivery.jobs()] == queued


def test_sigterm_while_idle_stops_at_once(
    delivery: Delivery, runners: list[subprocess.Popen[str]]
) -> None:
    runner = delivery.start_runner("--poll-interval", "3600")
    runners.append(runner)
    wait_for(lambda: "started" in delivery.runner_log, "the runner to start")

    assert stop(runner) == 0, delivery.runner_log
    assert "runner stopped: nothing to do" in delivery.runner_log
