"""`smtpcfg test-email`: one message through the runner's code, failures in plain words."""

from __future__ import annotations

import pytest

from tests.delivery.conftest import SETTINGS_FROM, Delivery, manifests
from tests.support.smtp import SERVER_USERNAME, SmtpSink, free_port


def run_test_email(delivery: Delivery, *args: str, ca: bool = True) -> tuple[int, str, str]:
    ca_args = ["--ca-file", delivery.ca_file] if ca else []
    result = delivery.run("test-email", "primary", "--timeout", "10", *ca_args, *args)
    return result.code, result.stdout, result.stderr


def failure_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    [line] = stderr.splitlines()
    return line


def test_sends_one_message_with_the_stored_settings(
    delivery: Delivery, smtp_server: SmtpSink
) -> None:
    code, stdout, stderr = run_test_email(delivery, "--to", "ops@acme.example")

    assert code == 0, stderr
    [message] = smtp_server.messages
    assert stdout.strip() == (
        f"Sent a test email to ops@acme.example via 127.0.0.1:{smtp_server.port}, logged in as "
        f"{SERVER_USERNAME}: 250 2.0.0 Ok: queued as Q1 (Message-ID {message['Message-ID']})"
    )
    assert message["Subject"] == "smtpcfg test email: primary"
    assert message["From"].addresses[0].addr_spec == SETTINGS_FROM["address"]
    [session] = smtp_server.sessions
    assert [auth.succeeded for auth in session.auth] == [True]
    assert session.rcpt_to == ["ops@acme.example"]


def test_sends_to_a_users_address(delivery: Delivery, smtp_server: SmtpSink) -> None:
    code, stdout, stderr = run_test_email(delivery, "--user", "jane")

    assert code == 0, stderr
    assert stdout.startswith("Sent a test email to jane@customer.example")
    assert smtp_server.sessions[0].rcpt_to == ["jane@customer.example"]


@pytest.mark.parametrize("args", [[], ["--to", "a@b.example", "--user", "jane"]])
def test_needs_exactly_one_recipient(delivery: Delivery, args: list[str]) -> None:
    code, _, stderr = run_test_email(delivery, *args)

    assert code == 1
    assert stderr.splitlines()[-1] == "Error: give exactly one of --to ADDR or --user NAME"


def test_connection_refused(blank_delivery: Delivery, smtp_server: SmtpSink) -> None:
    closed = free_port()  # picked just before use: unlikely to be taken meanwhile
    blank_delivery.apply(smtp_server, settings_spec={"port": closed})

    code, stdout, stderr = run_test_email(blank_delivery, "--to", "ops@acme.example")

    assert (code, stdout) == (1, "")
    assert failure_line(stderr).startswith(
        f"Error: test email via 127.0.0.1:{closed} failed: connection refused: "
    )


@manifests("plain_smtp_server")
def test_no_starttls(delivery: Delivery, plain_smtp_server: SmtpSink) -> None:
    code, _, stderr = run_test_email(delivery, "--to", "ops@acme.example")

    assert code == 1
    assert failure_line(stderr).startswith(
        f"Error: test email via 127.0.0.1:{plain_smtp_server.port} failed: no STARTTLS: "
    )
    assert all("AUTH" not in s.verbs and "MAIL" not in s.verbs for s in plain_smtp_server.sessions)


def test_untrusted_certificate(delivery: Delivery, smtp_server: SmtpSink) -> None:
    code, _, stderr = run_test_email(delivery, "--to", "ops@acme.example", ca=False)

    assert code == 1
    line = failure_line(stderr)
    assert line.startswith(
        f"Error: test email via 127.0.0.1:{smtp_server.port} failed: certificate not trusted: "
    )
    assert "certificate verify failed" in line
    assert all("AUTH" not in session.verbs for session in smtp_server.sessions)


def test_authentication_rejected(delivery: Delivery, smtp_server: SmtpSink) -> None:
    delivery.set_password("not the password")

    code, _, stderr = run_test_email(delivery, "--to", "ops@acme.example")

    assert code == 1
    line = failure_line(stderr)
    assert line.startswith(
        f"Error: test email via 127.0.0.1:{smtp_server.port} failed: authentication rejected: "
    )
    assert "535" in line
    assert "the password in Vault" in line
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("stage", "reply", "expected"),
    [
        (
            "mail",
            "553 5.7.1 Sender address not allowed",
            "sender refused: {server} refused the sender <billing@acme.example>: "
            "553 5.7.1 Sender address not allowed",
        ),
        (
            "rcpt",
            "550 5.1.1 No such user here",
            "recipient refused: {server} refused the recipients: <nobody@acme.example> "
            "550 5.1.1 No such user here",
        ),
    ],
)
def test_sender_or_recipient_refused(
    delivery: Delivery, smtp_server: SmtpSink, stage: str, reply: str, expected: str
) -> None:
    smtp_server.fail_next(reply, at=stage)  # type: ignore[arg-type]

    code, _, stderr = run_test_email(delivery, "--to", "nobody@acme.example")

    assert code == 1
    server = f"127.0.0.1:{smtp_server.port}"
    assert failure_line(stderr).startswith(
        f"Error: test email via {server} failed: {expected.format(server=server)}"
    )


def test_unknown_settings(delivery: Delivery) -> None:
    result = delivery.run("test-email", "nope", "--to", "ops@acme.example")

    assert result.code == 1
    assert failure_line(result.stderr).startswith("Error: SmtpSettings/nope not found in ")
