"""`smtpcfg outbox add/list/show`: what is queued, what is refused, what is shown."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.delivery.conftest import Delivery
from tests.support.smtp import SmtpSink


def one_error_line(stderr: str) -> str:
    """The single line of a refused command, which must not be a traceback."""
    assert "Traceback" not in stderr
    [line] = stderr.splitlines()
    assert line.startswith("Error: ")
    return line


def test_add_prints_the_job_id_and_keeps_every_option(delivery: Delivery, tmp_path: Path) -> None:
    statement = tmp_path / "statement.pdf"
    statement.write_bytes(b"%PDF-1.4 statement")

    first = delivery.add_invoice("INV-1")
    second = delivery.add(
        "--purpose",
        "invoice",
        "--template",
        "invoice",
        "--to",
        "jane@customer.example",
        "--to",
        "ap@customer.example",
        "--cc",
        "cfo@customer.example",
        "--subject",
        "Your ${invoice}",
        "--body",
        "See attached.",
        "--var",
        "name=Jane",
        "--account",
        "A-2002",
        "--invoice",
        "INV-2",
        "--attach",
        statement,
    )

    assert second == first + 1
    shown = delivery.show(second)
    assert shown["purpose"] == "invoice"
    assert shown["template"] == "invoice"
    assert shown["to"] == ["jane@customer.example", "ap@customer.example"]
    assert shown["cc"] == ["cfo@customer.example"]
    assert (shown["account"], shown["invoice"]) == ("A-2002", "INV-2")
    assert (shown["status"], shown["attempts"], shown["invoiceStatus"]) == ("queued", 0, "pending")
    assert shown["attachments"] == [
        {
            "filename": "statement.pdf",
            "size": 18,
            "sha256": hashlib.sha256(b"%PDF-1.4 statement").hexdigest(),
        }
    ]
    assert shown["attachmentsPrunedAt"] is None
    assert shown["messageId"] is None
    assert shown["createdAt"] and shown["nextAttemptAt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "--purpose",
                "invoice",
                "--template",
                "invoice",
                "--to",
                "jane@customer.example",
                "--invoice",
                "INV-1",
            ],
            "an invoice needs its account and invoice ids",
        ),
        (
            [
                "--purpose",
                "invoice",
                "--template",
                "invoice",
                "--to",
                "jane@customer.example",
                "--account",
                "A-1",
            ],
            "an invoice needs its account and invoice ids",
        ),
        (
            ["--purpose", "notification", "--to", "jane@customer.example"],
            "give exactly one of a template or SMTP settings",
        ),
        (
            [
                "--purpose",
                "notification",
                "--settings",
                "primary",
                "--template",
                "invoice",
                "--to",
                "jane@customer.example",
            ],
            "give exactly one of a template or SMTP settings",
        ),
        (
            [
                "--purpose",
                "notification",
                "--settings",
                "primary",
                "--to",
                "jane@customer.example",
                "--subject",
                "Hi",
            ],
            "needs both a subject and a body",
        ),
        (
            [
                "--purpose",
                "notification",
                "--template",
                "no-such-template",
                "--to",
                "jane@customer.example",
            ],
            "EmailTemplate/no-such-template is not in the store",
        ),
        (
            [
                "--purpose",
                "notification",
                "--settings",
                "nope",
                "--to",
                "jane@customer.example",
                "--subject",
                "Hi",
                "--body",
                "Hello",
            ],
            "SmtpSettings/nope is not in the store",
        ),
        (
            ["--purpose", "notification", "--template", "invoice", "--to", "not-an-address"],
            "'not-an-address' is not an email address",
        ),
        (
            [
                "--purpose",
                "notification",
                "--template",
                "invoice",
                "--to",
                "jane@customer.example",
                "--account",
                "A-1",
                "--invoice",
                "INV-1",
                "--var",
                "name=Jane",
                "--attach",
                "missing.pdf",
            ],
            "cannot read attachment missing.pdf",
        ),
        (
            [
                "--purpose",
                "notification",
                "--settings",
                "primary",
                "--to",
                "jane@customer.example",
                "--subject",
                "Hi ${who}",
                "--body",
                "Hello",
            ],
            "the subject uses ${who} but no value is given: pass --var who=...",
        ),
        (
            [
                "--purpose",
                "notification",
                "--template",
                "invoice",
                "--to",
                "jane@customer.example",
                "--account",
                "A-1",
            ],
            "but no value is given: pass --var invoice=...",
        ),
    ],
)
def test_add_refuses_a_job_that_could_never_be_sent(
    delivery: Delivery, args: list[str], message: str
) -> None:
    result = delivery.run("outbox", "add", *args)

    assert result.code == 1
    assert message in one_error_line(result.stderr)
    assert result.stdout == ""
    assert delivery.jobs() == []


def test_add_refuses_a_variable_without_a_value(delivery: Delivery) -> None:
    result = delivery.run(
        "outbox",
        "add",
        "--purpose",
        "notification",
        "--template",
        "invoice",
        "--to",
        "jane@customer.example",
        "--var",
        "no-equals-sign",
    )

    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for --var: 'no-equals-sign' is not KEY=VALUE"
    )
    assert delivery.jobs() == []


def test_attachments_are_copied_into_the_store_when_queued(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    invoice = tmp_path / "INV-3.pdf"
    invoice.write_bytes(b"%PDF-1.4 original")
    packed = tmp_path / "INV-3-lines.csv.gz"
    packed.write_bytes(b"\x1f\x8b packed")
    delivery.add_invoice("INV-3", "--attach", invoice, "--attach", packed)
    invoice.unlink()
    packed.unlink()

    assert delivery.deliver_once().code == 0

    parts = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in smtp_server.messages[0].iter_attachments()
    ]
    assert parts == [
        ("INV-3.pdf", "application/pdf", b"%PDF-1.4 original"),
        # A compressed file is sent as bytes, not as the type of what it contains.
        ("INV-3-lines.csv.gz", "application/octet-stream", b"\x1f\x8b packed"),
    ]


def test_list_filters_by_status_and_account(delivery: Delivery, smtp_server: SmtpSink) -> None:
    smtp_server.fail_next("550 5.1.1 No such user here", at="rcpt")
    failed = delivery.add_invoice("INV-1")
    sent = delivery.add_invoice("INV-2")
    delivery.deliver_once()
    queued = delivery.add(
        "--purpose",
        "invoice",
        "--template",
        "invoice",
        "--to",
        "ap@other.example",
        "--account",
        "B-9",
        "--invoice",
        "INV-3",
        "--var",
        "name=Ann",
    )

    assert [job["id"] for job in delivery.jobs()] == [failed, sent, queued]
    assert [job["id"] for job in delivery.jobs("--status", "sent")] == [sent]
    assert [job["id"] for job in delivery.jobs("--status", "failed")] == [failed]
    assert [job["id"] for job in delivery.jobs("--account", "B-9")] == [queued]
    assert [job["id"] for job in delivery.jobs("--account", "A-1001", "--status", "queued")] == []
    by_id = {job["id"]: job for job in delivery.jobs()}
    assert by_id[sent]["invoiceStatus"] == "delivered"
    assert by_id[sent]["messageId"].startswith("<")
    assert (by_id[sent]["lastCode"], by_id[sent]["lastReply"]) == (250, "2.0.0 Ok: queued as Q1")
    assert by_id[sent]["finishedAt"] >= by_id[sent]["createdAt"]
    assert (by_id[failed]["status"], by_id[failed]["invoiceStatus"]) == ("failed", "undelivered")
    assert (by_id[queued]["status"], by_id[queued]["invoiceStatus"]) == ("queued", "pending")


def test_list_as_a_table(delivery: Delivery) -> None:
    job = delivery.add_invoice("INV-5")
    assert delivery.deliver_once().code == 0
    message_id = delivery.show(job)["messageId"]

    result = delivery.run("outbox", "list", "--status", "sent")

    assert result.code == 0, result.output
    header, row = result.stdout.splitlines()
    for column in ("ID", "STATUS", "ATTEMPTS", "LAST REPLY", "MESSAGE-ID", "UPDATED", "INVOICE"):
        assert column in header
    for cell in (
        str(job),
        "sent",
        "250 2.0.0 Ok: queued as Q1",
        message_id,
        "A-1001/INV-5 delivered",
    ):
        assert cell in row


def test_show_an_unknown_job_is_an_error(delivery: Delivery) -> None:
    result = delivery.run("outbox", "show", "999")

    assert result.code == 1
    assert one_error_line(result.stderr) == "Error: outbox job 999 not found"


def test_show_as_text_lists_attempts(delivery: Delivery, smtp_server: SmtpSink) -> None:
    smtp_server.fail_next("451 4.3.0 Local problem, try again", at="data")
    job = delivery.add_invoice("INV-6")
    delivery.deliver_once()

    result = delivery.run("outbox", "show", str(job))

    assert result.code == 0, result.output
    assert "status:         sent" in result.stdout
    assert "to:             jane@customer.example" in result.stdout
    assert "data-refused 451 4.3.0 Local problem, try again" in result.stdout
    assert "sent 250 2.0.0 Ok: queued as Q1" in result.stdout
    assert "manual delivery" not in result.stdout


INVOICE_ARGS = [
    "--purpose",
    "invoice",
    "--template",
    "invoice",
    "--to",
    "jane@customer.example",
    "--account",
    "A-1",
    "--invoice",
    "INV-1",
    "--var",
    "name=Jane",
]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--subject", "Your invoice\u2028Bcc: x@evil.example"],
            "--subject 'Your invoice\\u2028Bcc: x@evil.example': contains the line break U+2028"
            " (LINE SEPARATOR) at character 13",
        ),
        (
            ["--to", "ap@customer.example\x85"],
            "--to 'ap@customer.example\\x85': contains the line break U+0085 (NEXT LINE)",
        ),
        (
            ["--cc", "cfo@customer.example\x0b"],
            "--cc 'cfo@customer.example\\x0b': contains the line break U+000B (LINE TABULATION)",
        ),
        (["--account", "A-1\x1c"], "--account 'A-1\\x1c': contains the line break U+001C"),
        (["--invoice", "INV\u20291"], "--invoice 'INV\\u20291': contains the line break U+2029"),
        # ${name} is not in the default subject: give one that uses it.
        (
            ["--subject", "Hello ${name}", "--var", "name=Jane\u2028Doe"],
            "--var name: contains the line break U+2028 (LINE SEPARATOR) at character 5: a mail "
            "header must be one line (it fills the subject)",
        ),
    ],
    ids=["subject", "to", "cc", "account", "invoice", "var"],
)
def test_add_refuses_a_line_break_in_anything_that_reaches_a_header(
    delivery: Delivery, args: list[str], message: str
) -> None:
    result = delivery.run("outbox", "add", *INVOICE_ARGS, *args)

    assert result.code == 1
    assert message in one_error_line(result.stderr)
    assert delivery.jobs() == []


def test_a_line_break_in_a_body_variable_is_fine(delivery: Delivery) -> None:
    """Only header text must be one line: a body may hold an address block."""
    job = delivery.add(*INVOICE_ARGS[:-2], "--var", "name=Jane\nDoe")

    assert delivery.show(job)["status"] == "queued"


def test_add_refuses_an_attachment_name_with_a_line_break(
    delivery: Delivery, tmp_path: Path
) -> None:
    statement = tmp_path / "INV-1\u2028.pdf"
    statement.write_bytes(b"%PDF-1.4")

    result = delivery.run("outbox", "add", *INVOICE_ARGS, "--attach", statement)

    assert result.code == 1
    assert "--attach 'INV-1\\u2028.pdf': contains the line break U+2028" in one_error_line(
        result.stderr
    )
    assert delivery.jobs() == []


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_add_takes_regular_files_only_and_never_hangs(
    delivery: Delivery, tmp_path: Path, kind: str
) -> None:
    if kind == "fifo":
        path = tmp_path / "invoice.pdf"
        os.mkfifo(path)
        expected = "not a regular file (a FIFO)"
    elif kind == "device":
        path = Path("/dev/zero")
        expected = "not a regular file (a character device)"
    else:
        path = tmp_path / "invoices"
        path.mkdir()
        expected = "not a regular file (a directory)"

    # A FIFO without a writer would block an open() for ever: the timeout fails the test.
    result = delivery.cli.subprocess(
        "outbox", "add", *INVOICE_ARGS, "--attach", path, env=delivery.vault_env, timeout=20
    )

    assert result.code == 1
    assert f"Error: --attach {path}: {expected}" in one_error_line(result.stderr)
    assert delivery.jobs() == []
