"""`smtpcfg deliver --once` end to end: what arrives, what the outbox records, exit codes."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.delivery.conftest import NOTIFY_ADDRESS, Delivery, manifests
from tests.support.smtp import SIZE_LIMIT, SmtpSink

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 16 + b"\n%%EOF\n"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_invoice_arrives_from_the_template_sender_with_headers_and_attachments(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    pdf = write(tmp_path / "INV-7.pdf", PDF)
    csv = write(tmp_path / "lines.csv", b"item,amount\nhosting,12.50\n")
    job = delivery.add_invoice(
        "INV-7", "--cc", "accounts@customer.example", "--attach", pdf, "--attach", csv
    )

    result = delivery.deliver_once()

    assert result.code == 0, result.output
    [message] = smtp_server.messages
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Acme Invoices", "invoices@acme.example")
    assert message["Subject"] == "Invoice INV-7 for account A-1001"
    assert message["To"].addresses[0].addr_spec == "jane@customer.example"
    assert message["Cc"].addresses[0].addr_spec == "accounts@customer.example"
    assert message.get_body(("plain",)).get_content().startswith("Hello Jane,")
    attachments = {
        part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()
    }
    assert attachments == {"INV-7.pdf": PDF, "lines.csv": b"item,amount\nhosting,12.50\n"}
    [session] = smtp_server.sessions
    assert session.rcpt_to == ["jane@customer.example", "accounts@customer.example"]
    shown = delivery.show(job)
    assert shown["status"] == "sent"
    assert shown["invoiceStatus"] == "delivered"
    assert shown["messageId"] == message["Message-ID"]
    assert shown["lastCode"] == 250
    assert shown["lastReply"] == "2.0.0 Ok: queued as Q1"


def test_without_a_template_the_settings_sender_and_the_jobs_subject_are_used(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    job = delivery.add(
        "--purpose",
        "password-reset",
        "--settings",
        "primary",
        "--to",
        "jane@customer.example",
        "--subject",
        "Reset your password, ${name}",
        "--body",
        "Use code ${code}.",
        "--var",
        "name=Jane",
        "--var",
        "code=42",
    )

    result = delivery.deliver_once()

    assert result.code == 0, result.output
    [message] = smtp_server.messages
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Acme Billing", "billing@acme.example")
    assert message["Subject"] == "Reset your password, Jane"
    assert message.get_content().strip() == "Use code 42."
    assert "invoiceStatus" not in delivery.show(job)


@manifests(template_spec={"from": None})
def test_a_template_without_a_from_uses_the_settings_sender(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    delivery.add_invoice()

    assert delivery.deliver_once().code == 0

    [sender] = smtp_server.messages[0]["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Acme Billing", "billing@acme.example")


def test_jobs_for_the_same_settings_share_one_connection(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    for number in ("INV-1", "INV-2", "INV-3"):
        delivery.add_invoice(number)

    assert delivery.deliver_once().code == 0

    [session] = smtp_server.sessions
    assert [m["Subject"] for m in session.messages] == [
        f"Invoice INV-{n} for account A-1001" for n in (1, 2, 3)
    ]
    assert [auth.succeeded for auth in session.auth] == [True]


@manifests(settings_spec={"maxAttachmentSize": "10KiB"})
def test_the_alert_carries_dollar_signs_in_names_as_they_are(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    # The alert's text goes through ${placeholder} substitution like any email's.
    parts = [write(tmp_path / name, b"x" * 6000) for name in ("$price.pdf", "a$.pdf")]
    over = delivery.add_invoice("INV-$9", *(arg for p in parts for arg in ("--attach", p)))

    result = delivery.deliver_once()

    assert result.code == 0, result.output
    assert delivery.show(over)["status"] == "size-exceeded"
    [alert] = smtp_server.messages
    assert "INV-$9" in alert["Subject"]
    text = alert.get_body(("plain",)).get_content()
    assert "$price.pdf: 5.9 KiB (6000 bytes)" in text
    assert "a$.pdf: 5.9 KiB (6000 bytes)" in text


@manifests(settings_spec={"maxAttachmentSize": "10KiB"})
def test_attachments_over_max_size_together_are_not_sent_and_the_notify_user_is_alerted(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    parts = [write(tmp_path / f"part-{i}.pdf", bytes([i]) * 4096) for i in range(3)]
    over = delivery.add_invoice("INV-9", *(arg for p in parts for arg in ("--attach", p)))
    at_limit = delivery.add_invoice(
        "INV-10",
        "--attach",
        write(tmp_path / "a.pdf", b"a" * 5120),
        "--attach",
        write(tmp_path / "b.pdf", b"b" * 5120),
    )

    result = delivery.deliver_once()

    assert result.code == 0, result.output
    received = {m["To"].addresses[0].addr_spec: m for m in smtp_server.messages}
    assert sorted(received) == [NOTIFY_ADDRESS, "jane@customer.example"]
    assert received["jane@customer.example"]["Subject"] == "Invoice INV-10 for account A-1001"
    alert = received[NOTIFY_ADDRESS]
    assert alert["From"].addresses[0].addr_spec == "billing@acme.example"
    text = f"{alert['Subject']}\n{alert.get_body(('plain',)).get_content()}"
    for fact in ("A-1001", "INV-9", "12288 bytes", "10240 bytes"):
        assert fact in text
    shown = delivery.show(over)
    assert (shown["status"], shown["invoiceStatus"]) == ("size-exceeded", "delivered")
    assert "12288 bytes" in shown["failure"]
    assert delivery.show(at_limit)["status"] == "sent"
    assert any("jane@customer.example" in step for step in shown["manualDelivery"])
    assert "manualDelivery" not in delivery.show(at_limit)
    manual = delivery.run("outbox", "show", str(over), "--save-attachments", tmp_path / "by-hand")
    assert manual.code == 0, manual.output
    assert "manual delivery:" in manual.stdout
    assert "--save-attachments" in manual.stdout
    for part in parts:
        assert (tmp_path / "by-hand" / part.name).read_bytes() == part.read_bytes()


def test_an_invoice_over_the_servers_size_is_handled_like_max_size(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    big = write(tmp_path / "scan.pdf", b"x" * SIZE_LIMIT)
    job = delivery.add_invoice("INV-8", "--attach", big)

    result = delivery.deliver_once()

    assert result.code == 0, result.output
    shown = delivery.show(job)
    assert (shown["status"], shown["invoiceStatus"]) == ("size-exceeded", "delivered")
    assert f"over the SIZE of {SIZE_LIMIT} bytes" in shown["failure"]
    assert "Notify User billing-ops alerted" in shown["failure"]
    assert shown["manualDelivery"]
    # Only the alert went out, naming the server's limit; the invoice was never attempted.
    [alert] = smtp_server.messages
    assert alert["To"].addresses[0].addr_spec == NOTIFY_ADDRESS
    text = f"{alert['Subject']}\n{alert.get_body(('plain',)).get_content()}"
    for fact in ("A-1001", "INV-8", f"{SIZE_LIMIT} bytes", f"127.0.0.1:{smtp_server.port}"):
        assert fact in text


def test_other_mail_over_the_servers_size_fails_with_the_reason(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    big = write(tmp_path / "scan.pdf", b"x" * SIZE_LIMIT)
    job = delivery.add(
        "--purpose",
        "notification",
        "--settings",
        "primary",
        "--to",
        "jane@customer.example",
        "--subject",
        "Scan",
        "--body",
        "Hi",
        "--attach",
        big,
    )

    result = delivery.deliver_once()

    assert result.code == 1
    shown = delivery.show(job)
    assert shown["status"] == "failed"
    assert f"accepts at most {SIZE_LIMIT} bytes" in shown["failure"]
    assert shown["attempts"] == 1
    assert all(not session.mail_from for session in smtp_server.sessions)
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    "delivery",
    [
        {"server": "plain_smtp_server"},
        {"server": "plain_smtp_server", "settings_spec": {"username": None, "password": None}},
    ],
    indirect=True,
    ids=["with-login", "without-login"],
)
def test_start_tls_only_gives_a_server_without_starttls_neither_login_nor_mail(
    delivery: Delivery, plain_smtp_server: SmtpSink
) -> None:
    job = delivery.add_invoice()

    result = delivery.deliver_once()

    assert result.code == 1
    [session] = plain_smtp_server.sessions
    assert "AUTH" not in session.verbs
    assert "MAIL" not in session.verbs
    assert session.auth == []
    assert plain_smtp_server.messages == []
    shown = delivery.show(job)
    assert shown["status"] == "failed"
    assert "does not offer STARTTLS" in shown["failure"]
    assert shown["attemptLog"][0]["outcome"] == "no-starttls"


def test_a_failed_starttls_is_never_followed_by_plaintext(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    smtp_server.fail_next("454 4.7.0 TLS not available right now", at="starttls")
    job = delivery.add_invoice()

    result = delivery.deliver_once()

    assert result.code == 0, result.output
    refused, retried = smtp_server.sessions
    assert refused.verbs == ["EHLO", "STARTTLS", "QUIT"]
    assert retried.tls and retried.auth[0].succeeded
    shown = delivery.show(job)
    assert [(a["outcome"], a["code"]) for a in shown["attemptLog"]] == [
        ("tls-handshake", 454),
        ("sent", 250),
    ]


@manifests("plain_smtp_server", settings_spec={"startTlsOnly": False})
def test_without_start_tls_only_a_password_still_never_crosses_plaintext(
    delivery: Delivery, plain_smtp_server: SmtpSink
) -> None:
    job = delivery.add_invoice()

    assert delivery.deliver_once().code == 1

    assert all("AUTH" not in session.verbs for session in plain_smtp_server.sessions)
    assert plain_smtp_server.messages == []
    assert "never sent over a plaintext connection" in delivery.show(job)["failure"]


def test_temporary_replies_are_retried_until_the_message_is_sent(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    smtp_server.fail_next("421 4.7.0 Too busy, come back later", at="mail")
    smtp_server.fail_next("451 4.3.0 Local problem, try again", at="data")
    job = delivery.add_invoice()

    result = delivery.deliver_once()

    assert result.code == 0, result.output
    assert len(smtp_server.messages) == 1
    shown = delivery.show(job)
    assert (shown["status"], shown["attempts"]) == ("sent", 3)
    assert [(a["code"], a["reply"]) for a in shown["attemptLog"]] == [
        (421, "4.7.0 Too busy, come back later"),
        (451, "4.3.0 Local problem, try again"),
        (250, "2.0.0 Ok: queued as Q1"),
    ]
    assert [a["outcome"] for a in shown["attemptLog"]] == [
        "sender-refused",
        "data-refused",
        "sent",
    ]


def test_temporary_failures_give_up_after_max_attempts(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    smtp_server.fail_next("451 4.3.0 Local problem, try again", at="rcpt", count=5)
    job = delivery.add_invoice()

    result = delivery.deliver_once("--max-attempts", "2")

    assert result.code == 1
    shown = delivery.show(job)
    assert (shown["status"], shown["attempts"]) == ("failed", 2)
    assert "gave up after 2 attempts" in shown["failure"]


def test_a_permanent_refusal_fails_the_job_at_once(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    smtp_server.fail_next("550 5.1.1 No such user here", at="rcpt")
    refused = delivery.add_invoice("INV-1")
    fine = delivery.add_invoice("INV-2")

    result = delivery.deliver_once()

    assert result.code == 1
    shown = delivery.show(refused)
    assert (shown["status"], shown["attempts"]) == ("failed", 1)
    assert (shown["lastCode"], shown["lastReply"]) == (550, "5.1.1 No such user here")
    assert [(a["code"], a["reply"]) for a in shown["attemptLog"]] == [
        (550, "5.1.1 No such user here"),
    ]
    assert delivery.show(fine)["status"] == "sent"
    assert [m["Subject"] for m in smtp_server.messages] == ["Invoice INV-2 for account A-1001"]


def test_an_unusable_ca_file_stops_the_runner_before_any_job_fails(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    job = delivery.add_invoice()
    not_pem = write(tmp_path / "ca.pem", b"not a certificate")

    result = delivery.run("deliver", "--once", "--ca-file", not_pem)

    assert result.code == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: cannot load CA file {not_pem}: ")
    assert (delivery.show(job)["status"], delivery.show(job)["attempts"]) == ("queued", 0)
    assert smtp_server.sessions == []


def test_json_logs_are_one_object_per_line(delivery: Delivery) -> None:
    job = delivery.add_invoice()

    result = delivery.deliver_once("--log-format", "json")

    assert result.code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) >= 3
    events = [json.loads(line) for line in lines]
    assert all(isinstance(event, dict) for event in events)
    [attempt] = [e for e in events if e["event"] == "attempt"]
    assert (attempt["job"], attempt["status"], attempt["code"]) == (job, "sent", 250)


def test_on_a_terminal_once_shows_a_progress_line(delivery: Delivery) -> None:
    delivery.add_invoice("INV-1")
    delivery.add_invoice("INV-2")
    primary, secondary = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "reconciler", *delivery.deliver_args("--once")],
        cwd=delivery.cli.cwd,
        env={**delivery.cli.env, **delivery.vault_env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
    ) as runner:
        os.close(secondary)
        screen = read_all(primary)
        assert runner.wait(timeout=60) == 0, screen

    assert "\r\x1b[K1 processed: 1 sent" in screen
    assert "\r\x1b[K2 processed: 2 sent\r\n" in screen
    assert "\r\x1b[Kjob 2 (invoice) sent: 250" in screen


def read_all(fd: int) -> str:
    """Everything written to a pseudo-terminal until its last writer closes it."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()
