"""XOAUTH2 logins over real SMTP servers (aiosmtpd) with tokens from a real endpoint."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from reconciler.delivery.failures import DeliveryFailure
from reconciler.delivery.login import OAuth2Login, PasswordLogin, xoauth2_response
from reconciler.delivery.oauth2 import OAuth2Tokens
from reconciler.delivery.token_endpoint import TokenRequest
from reconciler.delivery.transport import SmtpConnection
from reconciler.vault.secret import SecretValue
from tests.delivery.test_transport import endpoint as endpoint_of
from tests.delivery.test_transport import invoice
from tests.support.oauth2 import CLIENT_ID, CLIENT_SECRET, MAILBOX, SCOPE, TokenEndpoint
from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, SmtpSink


def oauth2_login(endpoint: TokenEndpoint, ca_file: str, secret: str = CLIENT_SECRET) -> OAuth2Login:
    request = TokenRequest(
        grant="client-credentials",
        token_url=endpoint.url,
        scope=SCOPE,
        secret_name="vault secret/smtp/test#clientSecret",
        secret=lambda: SecretValue(secret),
        client_id=CLIENT_ID,
    )
    return OAuth2Login(MAILBOX, OAuth2Tokens(request, ca_file=ca_file, timeout=5))


def failure_of(action: Callable[[], object]) -> DeliveryFailure:
    with pytest.raises(DeliveryFailure) as caught:
        action()
    return caught.value


def test_the_initial_response_is_user_and_bearer_token() -> None:
    assert xoauth2_response("a@b.example", "t0k") == "user=a@b.example\x01auth=Bearer t0k\x01\x01"


def test_xoauth2_logs_in_with_a_live_token_and_the_message_arrives(
    xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    login = oauth2_login(token_endpoint, smtp_ca_file)
    with SmtpConnection(endpoint_of(xoauth2_server), login) as connection:
        assert connection.send(invoice()).code == 250

    [session] = xoauth2_server.sessions
    assert session.verbs[:4] == ["EHLO", "STARTTLS", "EHLO", "AUTH"]
    assert [(a.username, a.succeeded, a.tls, a.mechanism) for a in session.auth] == [
        (MAILBOX, True, True, "XOAUTH2")
    ]
    assert len(xoauth2_server.messages) == 1
    assert len(token_endpoint.issued) == 1
    assert "tok-" not in repr(login) and CLIENT_SECRET not in repr(connection)


def test_a_token_reused_for_the_next_connection(
    xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    login = oauth2_login(token_endpoint, smtp_ca_file)
    for _ in range(2):
        with SmtpConnection(endpoint_of(xoauth2_server), login) as connection:
            connection.send(invoice())

    assert len(xoauth2_server.sessions) == 2
    assert len(token_endpoint.issued) == 1


def test_a_token_refused_with_535_is_replaced_once(
    xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    login = oauth2_login(token_endpoint, smtp_ca_file)
    login.tokens.token()
    token_endpoint.revoke_all()  # the cached token is dead, though not expired

    with SmtpConnection(endpoint_of(xoauth2_server), login) as connection:
        connection.send(invoice())

    [session] = xoauth2_server.sessions
    assert [a.succeeded for a in session.auth] == [False, True]
    assert len(token_endpoint.issued) == 2


def test_a_mailbox_the_server_never_accepts_fails_after_one_renewal(
    smtp_server_factory: Callable[..., SmtpSink], token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    server = smtp_server_factory(tls=True, auth_required=True, xoauth2=lambda user, token: False)
    connection = SmtpConnection(endpoint_of(server), oauth2_login(token_endpoint, smtp_ca_file))

    failure = failure_of(connection.open)

    assert (failure.step, failure.code, failure.permanent) == ("authentication", 535, True)
    [session] = server.sessions
    assert [a.succeeded for a in session.auth] == [False, False]
    assert len(token_endpoint.issued) == 2  # the first, and exactly one more
    assert all(token not in str(failure) for token in token_endpoint.tokens)


def test_a_server_without_xoauth2_is_a_clear_error_and_fetches_no_token(
    smtp_server: SmtpSink, token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    connection = SmtpConnection(
        endpoint_of(smtp_server), oauth2_login(token_endpoint, smtp_ca_file)
    )

    failure = failure_of(connection.open)

    assert (failure.step, failure.permanent) == ("authentication", True)
    assert str(failure) == (
        f"cannot talk to 127.0.0.1:{smtp_server.port} while logging in: the server does not "
        f"offer AUTH XOAUTH2 (it offers LOGIN PLAIN), which the OAuth2 token of {MAILBOX} needs"
    )
    assert token_endpoint.requests == []
    assert "AUTH" not in smtp_server.sessions[0].verbs


def test_xoauth2_never_crosses_plaintext(
    smtp_server_factory: Callable[..., SmtpSink], token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    server = smtp_server_factory(auth_over_plaintext=True, xoauth2=token_endpoint.is_live)
    connection = SmtpConnection(
        endpoint_of(server, start_tls_only=False), oauth2_login(token_endpoint, smtp_ca_file)
    )

    failure = failure_of(connection.open)

    assert failure.step == "no-starttls"
    assert str(failure) == (
        f"127.0.0.1:{server.port} does not offer STARTTLS: the OAuth2 token of {MAILBOX} is "
        "never sent over a plaintext connection, so nothing was sent"
    )
    assert server.sessions[0].verbs == ["EHLO", "QUIT"]
    assert token_endpoint.requests == []


def test_a_token_endpoint_failure_fails_the_login_with_its_reason(
    xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    connection = SmtpConnection(
        endpoint_of(xoauth2_server), oauth2_login(token_endpoint, smtp_ca_file, "wrong")
    )

    failure = failure_of(connection.open)

    assert (failure.step, failure.permanent) == ("oauth2-token", True)
    assert "invalid_client" in str(failure)
    assert "AUTH" not in xoauth2_server.sessions[0].verbs


def test_a_server_echoing_the_token_shows_it_redacted(
    smtp_server_factory: Callable[..., SmtpSink], token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    server = smtp_server_factory(tls=True, auth_required=True, xoauth2=lambda user, token: False)
    login = oauth2_login(token_endpoint, smtp_ca_file)
    token = login.tokens.token().reveal()
    blob = base64.b64encode(xoauth2_response(MAILBOX, token).encode()).decode()
    server.fail_next(f"535 5.7.8 bad token {token} in {blob}", at="auth", count=2)

    failure = failure_of(SmtpConnection(endpoint_of(server), login).open)

    assert token not in str(failure) and blob not in str(failure)
    assert "[redacted]" in str(failure)


def test_a_password_login_still_works_next_to_xoauth2(
    smtp_server_factory: Callable[..., SmtpSink], token_endpoint: TokenEndpoint
) -> None:
    server = smtp_server_factory(
        tls=True,
        username=SERVER_USERNAME,
        password=SERVER_PASSWORD,
        auth_required=True,
        xoauth2=token_endpoint.is_live,
    )
    login = PasswordLogin(SERVER_USERNAME, lambda: SERVER_PASSWORD)
    with SmtpConnection(endpoint_of(server), login) as connection:
        connection.send(invoice())

    assert [a.mechanism for a in server.sessions[0].auth] == ["PLAIN"]


def test_a_temporary_refusal_is_not_answered_with_a_new_token(
    xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    xoauth2_server.fail_next("454 4.7.0 Temporary authentication failure", at="auth")
    connection = SmtpConnection(
        endpoint_of(xoauth2_server), oauth2_login(token_endpoint, smtp_ca_file)
    )

    failure = failure_of(connection.open)

    assert (failure.step, failure.code, failure.temporary) == ("authentication", 454, True)
    assert len(token_endpoint.issued) == 1
