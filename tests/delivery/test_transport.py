"""Sending over real SMTP servers (aiosmtpd): TLS rules, login, refusals, reuse, failures."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme

from reconciler.delivery.failures import DeliveryFailure, classify
from reconciler.delivery.login import PasswordLogin
from reconciler.delivery.message import Attachment, build_message
from reconciler.delivery.transport import SmtpConnection, SmtpEndpoint
from reconciler.errors import SmtpcfgError
from reconciler.vault.secret import SecretValue
from tests.support.smtp import (
    SERVER_PASSWORD,
    SERVER_USERNAME,
    SIZE_LIMIT,
    AuthAttempt,
    SmtpSink,
    free_port,
)

TO = "jane@customer.example"
CC = "accounts@customer.example"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def endpoint(server: SmtpSink, **overrides: Any) -> SmtpEndpoint:
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "start_tls_only": True,
        "timeout": 10.0,
        "ca_file": server.ca_file,
    }
    return SmtpEndpoint(**{**fields, **overrides})


def password(value: str = SERVER_PASSWORD) -> PasswordLogin:
    return PasswordLogin(SERVER_USERNAME, SecretValue(value))


def invoice(number: int = 7, attachment: bytes = PDF) -> EmailMessage:
    return build_message(
        from_name="Acme Billing",
        from_address="billing@acme.example",
        to=[TO],
        cc=[CC],
        subject=f"Invoice INV-{number}",
        body="Dear Jane,\nyour invoice is attached.\n",
        attachments=[Attachment(f"INV-{number}.pdf", "application/pdf", attachment)],
        message_id_domain="acme.example",
    )


def failure_of(action: Callable[[], object]) -> DeliveryFailure:
    with pytest.raises(DeliveryFailure) as caught:
        action()
    return caught.value


def test_starttls_then_login_then_the_message_arrives_whole(smtp_server: SmtpSink) -> None:
    msg = invoice()
    with SmtpConnection(endpoint(smtp_server), password()) as connection:
        result = connection.send(msg)

    assert (result.code, result.reply_text) == (250, "2.0.0 Ok: queued as Q1")
    assert result.message_id == msg["Message-ID"]
    assert result.refused == {}
    [session] = smtp_server.sessions
    assert [c.verb for c in session.commands if not c.tls] == ["EHLO", "STARTTLS"]
    assert session.auth == [
        AuthAttempt(SERVER_USERNAME, succeeded=True, tls=True, mechanism="PLAIN")
    ]
    assert (session.mail_from, session.rcpt_to) == (["billing@acme.example"], [TO, CC])
    [received] = smtp_server.messages
    assert received["Message-ID"] == msg["Message-ID"]
    assert received["From"].addresses[0].display_name == "Acme Billing"
    [pdf] = received.iter_attachments()
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", "INV-7.pdf")
    assert pdf.get_payload(decode=True) == PDF


def test_implicit_tls_encrypts_from_the_first_byte(implicit_tls_server: SmtpSink) -> None:
    settings = endpoint(implicit_tls_server, host="localhost", implicit_tls=True)
    with SmtpConnection(
        settings, PasswordLogin(SERVER_USERNAME, lambda: SERVER_PASSWORD)
    ) as connection:
        connection.send(invoice())

    [session] = implicit_tls_server.sessions
    assert all(command.tls for command in session.commands)
    assert "STARTTLS" not in session.verbs
    assert session.auth == [
        AuthAttempt(SERVER_USERNAME, succeeded=True, tls=True, mechanism="PLAIN")
    ]
    assert len(implicit_tls_server.messages) == 1


@pytest.mark.parametrize(
    ("port", "implicit_tls", "expected"),
    [(465, None, True), (587, None, False), (25, True, True), (465, False, False)],
)
def test_port_465_means_implicit_tls_unless_told_otherwise(
    port: int, implicit_tls: bool | None, expected: bool
) -> None:
    settings = SmtpEndpoint("smtp.example.com", port, False, implicit_tls=implicit_tls)

    assert settings.uses_implicit_tls is expected


def test_start_tls_only_gives_a_server_without_starttls_nothing(
    plain_smtp_server: SmtpSink,
) -> None:
    connection = SmtpConnection(endpoint(plain_smtp_server), password())

    failure = failure_of(connection.open)

    assert failure.step == "no-starttls"
    assert failure.permanent
    assert str(failure) == (
        f"127.0.0.1:{plain_smtp_server.port} does not offer STARTTLS and startTlsOnly is set: "
        "no credentials or mail were sent"
    )
    [session] = plain_smtp_server.sessions
    assert session.verbs == ["EHLO", "QUIT"]
    assert session.auth == []
    assert plain_smtp_server.messages == []


def test_credentials_never_cross_plaintext_even_without_start_tls_only(
    plain_smtp_server: SmtpSink,
) -> None:
    connection = SmtpConnection(endpoint(plain_smtp_server, start_tls_only=False), password())

    failure = failure_of(connection.open)

    assert failure.step == "no-starttls"
    assert "never sent over a plaintext connection" in str(failure)
    [session] = plain_smtp_server.sessions
    assert session.verbs == ["EHLO", "QUIT"]
    assert session.auth == []


def test_without_credentials_or_start_tls_only_plaintext_delivery_is_allowed(
    plain_smtp_server: SmtpSink,
) -> None:
    settings = endpoint(plain_smtp_server, start_tls_only=False)
    with SmtpConnection(settings) as connection:
        assert connection.send(invoice()).code == 250

    [session] = plain_smtp_server.sessions
    assert not session.tls
    assert "AUTH" not in session.verbs
    assert len(plain_smtp_server.messages) == 1


def assert_no_login_and_no_mail(server: SmtpSink) -> None:
    for session in server.sessions:
        assert session.auth == []
        assert not {"AUTH", "MAIL"} & set(session.verbs)
    assert server.messages == []


def test_a_certificate_from_another_ca_is_refused(smtp_server: SmtpSink, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other_ca)
    connection = SmtpConnection(endpoint(smtp_server, ca_file=str(other_ca)), password())

    failure = failure_of(connection.open)

    assert failure.step == "certificate"
    assert failure.permanent
    assert str(failure).startswith(f"certificate verify failed for 127.0.0.1:{smtp_server.port}:")
    assert_no_login_and_no_mail(smtp_server)


def test_without_a_ca_file_the_system_store_is_used_and_a_private_ca_fails(
    smtp_server: SmtpSink,
) -> None:
    connection = SmtpConnection(endpoint(smtp_server, ca_file=None), password())

    assert failure_of(connection.open).step == "certificate"
    assert_no_login_and_no_mail(smtp_server)


def test_a_certificate_for_another_host_name_is_refused(
    smtp_server_factory: Callable[..., SmtpSink], smtp_ca: trustme.CA
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    smtp_ca.issue_cert("mail.elsewhere.example").configure_cert(context)
    server = smtp_server_factory(tls=context, username=SERVER_USERNAME, password=SERVER_PASSWORD)
    connection = SmtpConnection(endpoint(server), password())

    failure = failure_of(connection.open)

    assert failure.step == "certificate"
    assert "mismatch" in str(failure)
    assert_no_login_and_no_mail(server)


def test_a_wrong_password_is_a_permanent_authentication_failure_that_never_shows_it(
    smtp_server: SmtpSink,
) -> None:
    wrong = "hunter2-wrong-password"
    connection = SmtpConnection(endpoint(smtp_server), password(wrong))

    failure = failure_of(connection.open)

    assert failure.step == "authentication"
    assert failure.permanent
    assert (failure.code, failure.reply) == (535, "5.7.8 Authentication credentials invalid")
    assert str(failure) == (
        f"127.0.0.1:{smtp_server.port} refused the login: "
        "535 5.7.8 Authentication credentials invalid"
    )
    shown_anywhere = (
        str(failure),
        repr(failure),
        repr(failure.__cause__),
        repr(connection),
        repr(connection.endpoint),
    )
    for shown in shown_anywhere:
        assert wrong not in shown
        assert SERVER_PASSWORD not in shown
    [session] = smtp_server.sessions
    assert session.auth
    assert not any(attempt.succeeded for attempt in session.auth)
    assert "MAIL" not in session.verbs


def test_a_temporary_login_refusal_is_retryable(smtp_server: SmtpSink) -> None:
    # count=2: smtplib tries AUTH PLAIN, then AUTH LOGIN
    smtp_server.fail_next("454 4.7.0 Temporary authentication failure", at="auth", count=2)
    connection = SmtpConnection(endpoint(smtp_server), password())

    failure = failure_of(connection.open)

    assert (failure.step, failure.code, failure.temporary) == ("authentication", 454, True)


@pytest.mark.parametrize(
    ("at", "count", "reply", "step", "temporary"),
    [
        ("mail", 1, "451 4.3.0 Try again later", "sender-refused", True),
        ("mail", 1, "550 5.7.1 Sender not allowed", "sender-refused", False),
        ("rcpt", 2, "452 4.2.2 Mailbox full", "recipient-refused", True),
        ("rcpt", 2, "550 5.1.1 No such user", "recipient-refused", False),
        ("data", 1, "451 4.3.0 Queue full", "data-refused", True),
        ("data", 1, "554 5.6.0 Content rejected", "data-refused", False),
    ],
)
def test_a_refusal_says_which_step_and_whether_to_retry_and_keeps_the_session(
    smtp_server: SmtpSink, at: str, count: int, reply: str, step: str, temporary: bool
) -> None:
    smtp_server.fail_next(reply, at=at, count=count)  # type: ignore[arg-type]
    with SmtpConnection(endpoint(smtp_server), password()) as connection:
        failure = failure_of(lambda: connection.send(invoice()))
        connection.ensure_open()
        connection.send(invoice(8))

    code, text = reply.split(" ", 1)
    assert (failure.step, failure.temporary) == (step, temporary)
    assert (failure.code, failure.reply) == (int(code), text)
    assert text in str(failure)
    [session] = smtp_server.sessions
    assert "RSET" in session.verbs
    assert [m["Subject"] for m in smtp_server.messages] == ["Invoice INV-8"]


@pytest.mark.parametrize("at", ["mail", "rcpt", "data"])
def test_after_421_the_server_hangs_up_and_ensure_open_reconnects(
    smtp_server: SmtpSink, at: str
) -> None:
    smtp_server.fail_next("421 4.3.2 Shutting down", at=at)  # type: ignore[arg-type]
    with SmtpConnection(endpoint(smtp_server), password()) as connection:
        failure = failure_of(lambda: connection.send(invoice()))
        connection.ensure_open()
        connection.send(invoice(8))

    assert (failure.code, failure.temporary) == (421, True)
    assert len(smtp_server.sessions) == 2
    assert [m["Subject"] for m in smtp_server.messages] == ["Invoice INV-8"]


def test_a_partly_refused_message_reports_who_was_refused(smtp_server: SmtpSink) -> None:
    smtp_server.fail_next("550 5.1.1 No such user", at="rcpt")
    with SmtpConnection(endpoint(smtp_server), password()) as connection:
        result = connection.send(invoice())

    assert result.code == 250
    assert result.refused == {TO: (550, "5.1.1 No such user")}
    assert len(smtp_server.messages) == 1


def test_a_message_over_the_servers_size_is_not_attempted(smtp_server: SmtpSink) -> None:
    big = invoice(attachment=b"x" * SIZE_LIMIT)
    size = len(big.as_bytes())
    with SmtpConnection(endpoint(smtp_server), password()) as connection:
        failure = failure_of(lambda: connection.send(big))
        connection.send(invoice(8))

    assert (failure.step, failure.permanent) == ("size", True)
    assert f"{size} bytes" in str(failure)
    assert f"at most {SIZE_LIMIT} bytes" in str(failure)
    [session] = smtp_server.sessions
    assert session.verbs.count("MAIL") == session.verbs.count("DATA") == 1  # INV-8 only
    assert [m["Subject"] for m in smtp_server.messages] == ["Invoice INV-8"]


def test_size_is_checked_against_what_the_server_says_after_starttls(
    smtp_server_factory: Callable[..., SmtpSink],
) -> None:
    """Without a login nothing else asks for EHLO after STARTTLS, which advertises SIZE."""
    server = smtp_server_factory(tls=True, size_limit=SIZE_LIMIT)
    with SmtpConnection(endpoint(server)) as connection:
        failure = failure_of(lambda: connection.send(invoice(attachment=b"x" * SIZE_LIMIT)))

    assert failure.step == "size"
    assert "MAIL" not in server.sessions[0].verbs


def test_one_connection_carries_many_messages(smtp_server: SmtpSink) -> None:
    with SmtpConnection(endpoint(smtp_server), password()) as connection:
        results = [connection.send(invoice(number)) for number in (1, 2, 3)]

    assert [r.reply_text for r in results] == [f"2.0.0 Ok: queued as Q{n}" for n in (1, 2, 3)]
    assert len({r.message_id for r in results}) == 3
    [session] = smtp_server.sessions
    assert len(session.messages) == 3
    assert session.verbs.count("AUTH") == 1


def test_ensure_open_keeps_a_healthy_session_and_opens_a_closed_one(
    smtp_server: SmtpSink,
) -> None:
    connection = SmtpConnection(endpoint(smtp_server), password())
    connection.ensure_open()
    connection.ensure_open()
    connection.send(invoice())
    connection.close()

    [session] = smtp_server.sessions
    assert session.verbs.count("NOOP") == 1
    assert len(smtp_server.messages) == 1


def test_ensure_open_notices_a_dropped_session_and_reconnects(
    smtp_server_factory: Callable[..., SmtpSink],
) -> None:
    first = smtp_server_factory(tls=True)
    connection = SmtpConnection(endpoint(first))
    connection.open()
    first.stop()  # drops the idle session
    second = smtp_server_factory(tls=True, port=first.port)

    connection.ensure_open()
    connection.send(invoice())
    connection.close()

    assert len(second.messages) == 1
    [session] = second.sessions
    assert session.verbs[:2] == ["EHLO", "STARTTLS"]


def test_sending_without_a_connection_fails_temporarily(smtp_server: SmtpSink) -> None:
    connection = SmtpConnection(endpoint(smtp_server), password())

    failure = failure_of(lambda: connection.send(invoice()))

    assert (failure.step, failure.temporary) == ("connection-lost", True)
    assert smtp_server.sessions == []


def test_a_closed_port_is_a_refused_connection() -> None:
    port = free_port()
    settings = SmtpEndpoint("127.0.0.1", port, True)

    failure = failure_of(SmtpConnection(settings).open)

    assert (failure.step, failure.temporary) == ("connection-refused", True)
    assert str(failure).startswith(f"cannot connect to 127.0.0.1:{port}: connection refused")


def test_a_server_that_never_answers_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        port = silent.getsockname()[1]
        settings = SmtpEndpoint("127.0.0.1", port, True, timeout=0.2)

        failure = failure_of(SmtpConnection(settings).open)

    assert (failure.step, failure.temporary) == ("timeout", True)
    assert str(failure) == f"127.0.0.1:{port} did not answer in time while connecting"


@pytest.mark.parametrize(
    ("error", "temporary"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), False),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), True),
    ],
)
def test_dns_failures_are_named_as_such(error: socket.gaierror, temporary: bool) -> None:
    failure = classify(error, "smtp.example.invalid:587", "connect")

    assert (failure.step, failure.temporary) == ("dns", temporary)
    assert str(failure) == f"DNS lookup failed for smtp.example.invalid:587: {error.strerror}"


def test_an_unreadable_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    settings = SmtpEndpoint("smtp.example.com", 587, True, ca_file=str(missing))

    with pytest.raises(SmtpcfgError, match=f"cannot load CA file {missing}"):
        SmtpConnection(settings)
