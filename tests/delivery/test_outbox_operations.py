"""`smtpcfg outbox retry/cancel/resolve` and `outbox list`'s filters, on both backends.

Each operation is recorded with who did it, when and why, and `outbox show` lists it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from reconciler.store.open import open_store
from tests.delivery.conftest import Delivery, manifests
from tests.delivery.test_outbox_cli import one_error_line
from tests.support.smtp import SmtpSink


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def usage_error(stderr: str) -> str:
    """The error line of a usage error, which click shows below the usage."""
    assert "Traceback" not in stderr
    return stderr.splitlines()[-1]


def status(delivery: Delivery, job_id: int) -> str:
    return str(delivery.show(job_id)["status"])


def test_retry_requeues_a_failed_job_keeps_its_history_and_records_who_and_why(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    smtp_server.fail_next("550 5.1.1 No such user here", at="rcpt")
    job = delivery.add_invoice("INV-1")
    assert delivery.deliver_once().code == 1
    assert status(delivery, job) == "failed"

    result = delivery.run("outbox", "retry", str(job), "--reason", "user fixed", "--actor", "alice")

    assert result.code == 0, result.output
    assert result.stdout == f"outbox job {job}: failed -> queued\n"
    assert delivery.deliver_once().code == 0
    shown = delivery.show(job)
    assert (shown["status"], shown["invoiceStatus"], shown["attempts"]) == ("sent", "delivered", 2)
    assert [a["outcome"] for a in shown["attemptLog"]] == ["recipient-refused", "sent"]
    [operation] = shown["operations"]
    assert operation["operation"] == "retry"
    assert (operation["actor"], operation["reason"]) == ("alice", "user fixed")
    assert (operation["fromStatus"], operation["toStatus"]) == ("failed", "queued")
    assert operation["at"] >= shown["createdAt"]
    # The refused recipient was given another try, and accepted this time.
    assert [r["status"] for r in shown["recipients"]] == ["accepted"]
    assert len(smtp_server.messages) == 1
    text = delivery.run("outbox", "show", str(job)).stdout
    assert "retry by alice (failed -> queued): user fixed" in text


def test_a_retry_gives_a_fresh_attempt_budget(delivery: Delivery, smtp_server: SmtpSink) -> None:
    smtp_server.fail_next("451 4.3.0 try later", at="rcpt", count=3)
    job = delivery.add_invoice("INV-1")
    delivery.deliver_once("--max-attempts", "2")  # retried at once: no delay
    assert status(delivery, job) == "failed"
    assert "gave up after 2 attempts" in delivery.show(job)["failure"]

    assert delivery.run("outbox", "retry", str(job)).code == 0
    # The third 4xx is the first attempt of the new budget: retried, then sent.
    assert delivery.deliver_once("--max-attempts", "2").code == 0

    shown = delivery.show(job)
    assert (shown["status"], shown["attempts"]) == ("sent", 4)
    assert [a["outcome"] for a in shown["attemptLog"]] == ["deferred"] * 3 + ["sent"]
    assert [a["attempt"] for a in shown["attemptLog"]] == [1, 2, 3, 4]
    assert shown["operations"][0]["reason"] == ""


def test_retry_by_filters_counts_asks_and_needs_yes_without_a_terminal(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    smtp_server.fail_next("550 5.1.1 No such user here", at="rcpt", count=3)
    invoices = [delivery.add_invoice(n) for n in ("INV-1", "INV-2")]
    note = delivery.add(
        *("--purpose", "notification", "--settings", "primary", "--to", "ops@acme.example"),
        *("--subject", "Hello", "--body", "Hi"),
    )
    delivery.deliver_once()
    assert {status(delivery, j) for j in [*invoices, note]} == {"failed"}
    selection = ("--status", "failed", "--purpose", "invoice", "--since", "1h")

    refused = delivery.run("outbox", "retry", *selection)
    assert refused.code == 1
    assert f"Retry 2 jobs ({invoices[0]}, {invoices[1]})" in refused.stderr
    assert "pass --yes" in refused.stderr
    assert {status(delivery, j) for j in invoices} == {"failed"}

    later = delivery.run("outbox", "retry", "--status", "failed", "--since", "2099-01-01", "--yes")
    assert (later.code, later.stdout) == (0, "No job matches; nothing was retried.\n")

    done = delivery.run("outbox", "retry", *selection, "--yes", "--reason", "relay fixed")
    assert done.code == 0, done.output
    assert done.stdout.splitlines() == [f"outbox job {j}: failed -> queued" for j in invoices]
    assert [status(delivery, j) for j in [*invoices, note]] == ["queued", "queued", "failed"]


def test_retry_refuses_ids_with_filters_and_a_call_with_neither(delivery: Delivery) -> None:
    job = delivery.add_invoice()
    both = delivery.run("outbox", "retry", str(job), "--status", "failed")
    neither = delivery.run("outbox", "retry")
    assert (both.code, neither.code) == (1, 1)
    assert "not both" in usage_error(both.stderr)
    assert "--status failed" in usage_error(neither.stderr)


def test_cancel_stops_a_queued_job_and_is_recorded(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    job = delivery.add_invoice()

    result = delivery.run("outbox", "cancel", str(job), "--reason", "sent twice")
    assert result.code == 0, result.output
    assert delivery.deliver_once().code == 0
    assert smtp_server.messages == []
    shown = delivery.show(job)
    assert shown["status"] == "cancelled"
    assert shown["finishedAt"] is not None
    assert shown["invoiceStatus"] == "undelivered"
    [operation] = shown["operations"]
    assert (operation["operation"], operation["reason"]) == ("cancel", "sent twice")
    assert operation["actor"]  # the OS user, as an apply records it


def test_the_actor_comes_from_the_ci_variables_as_for_apply(delivery: Delivery) -> None:
    job = delivery.add_invoice()
    result = delivery.cli(
        "outbox", "cancel", str(job), "--reason", "r", env={"GITHUB_ACTOR": "octocat"}
    )
    assert result.code == 0, result.output
    assert delivery.show(job)["operations"][0]["actor"] == "octocat"


def test_cancel_needs_a_reason_and_changes_nothing_unless_every_job_can_be_cancelled(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    sent = delivery.add_invoice("INV-1")
    delivery.deliver_once()
    queued = delivery.add_invoice("INV-2")

    no_reason = delivery.run("outbox", "cancel", str(queued))
    mixed = delivery.run("outbox", "cancel", str(queued), str(sent), "--reason", "x")
    unknown = delivery.run("outbox", "cancel", "999", "--reason", "x")

    assert (no_reason.code, mixed.code, unknown.code) == (1, 1, 1)
    assert "--reason" in usage_error(no_reason.stderr)
    assert one_error_line(mixed.stderr) == (
        f"Error: outbox job {sent} is sent: only queued or retrying jobs can be cancelled"
    )
    assert one_error_line(unknown.stderr) == "Error: outbox job 999 not found"
    assert status(delivery, queued) == "queued"
    assert delivery.show(queued)["operations"] == []


def test_a_job_a_runner_holds_is_not_cancelled_under_it(delivery: Delivery) -> None:
    job = delivery.add_invoice()
    store = open_store(delivery.cli.env["SMTPCFG_STORE"], create=False)
    try:
        [claimed] = store.claim("runner-a", 10, 300)  # as a runner does, before sending
        refused = delivery.run("outbox", "cancel", str(job), "--reason", "x")
        assert refused.code == 1
        assert "claimed by runner runner-a, which may be sending it now" in one_error_line(
            refused.stderr
        )
        assert status(delivery, job) == "queued"
        store.release("runner-a")  # the runner hands back what it did not send
    finally:
        store.close()
    assert claimed.id == job
    assert delivery.run("outbox", "cancel", str(job), "--reason", "x").code == 0


@manifests(settings_spec={"maxAttachmentSize": "10KiB"})
def test_resolve_records_a_size_exceeded_invoice_sent_by_hand(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    job = delivery.add_invoice("INV-9", "--attach", write(tmp_path / "big.pdf", b"x" * 20000))
    queued = delivery.add_invoice("INV-10")
    delivery.deliver_once()
    assert status(delivery, job) == "size-exceeded"

    result = delivery.run(
        "outbox", "resolve", str(job), "--note", "sent by hand to ap@customer", "--actor", "bob"
    )
    early = delivery.run("outbox", "resolve", str(queued), "--note", "x")

    assert result.code == 0, result.output
    assert result.stdout == f"outbox job {job}: size-exceeded -> resolved\n"
    shown = delivery.show(job)
    assert (shown["status"], shown["invoiceStatus"]) == ("resolved", "delivered")
    [operation] = shown["operations"]
    assert (operation["actor"], operation["reason"]) == ("bob", "sent by hand to ap@customer")
    assert [j["id"] for j in delivery.jobs("--status", "resolved")] == [job]
    assert "sent by hand to ap@customer" in delivery.run("outbox", "show", str(job)).stdout
    assert early.code == 1
    assert one_error_line(early.stderr) == (
        f"Error: outbox job {queued} is sent: only failed or size-exceeded jobs can be resolved"
    )


def test_list_filters_by_purpose_invoice_and_time_and_writes_csv(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    first = delivery.add_invoice("INV-1")
    second = delivery.add_invoice("INV-2")
    note = delivery.add(
        *("--purpose", "notification", "--settings", "primary", "--to", "ops@acme.example"),
        *("--subject", "Hello", "--body", "Hi"),
    )

    def ids(*args: str) -> list[int]:
        return [job["id"] for job in delivery.jobs(*args)]

    assert ids("--purpose", "invoice") == [first, second]
    assert ids("--purpose", "notification", "--purpose", "invoice") == [first, second, note]
    assert ids("--invoice", "INV-2") == [second]
    assert ids("--since", "1h", "--until", "2099-01-01T00:00:00Z") == [first, second, note]
    assert ids("--since", "2099-01-01") == []
    assert ids("--until", "1h") == []
    assert ids("--status", "queued", "--status", "sent") == [first, second, note]

    result = delivery.run("outbox", "list", "--invoice", "INV-1", "-o", "csv")
    assert result.code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    assert (row["id"], row["status"], row["account"], row["invoice"]) == (
        str(first),
        "queued",
        "A-1001",
        "INV-1",
    )
    assert (row["to"], row["invoiceStatus"], row["finishedAt"]) == (
        "jane@customer.example",
        "pending",
        "",
    )
    bad = delivery.run("outbox", "list", "--since", "yesterday")
    assert bad.code == 1
    assert "--since" in usage_error(bad.stderr)
