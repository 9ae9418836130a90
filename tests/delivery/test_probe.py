"""The probe over real SMTP servers (aiosmtpd, trustme certificates): every step and
finding, and what the servers saw: never MAIL, never AUTH before TLS."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import Callable
from typing import Any

import pytest
import trustme

from reconciler.delivery.failures import DeliveryFailure
from reconciler.delivery.login import PasswordLogin
from reconciler.delivery.options import ProbeOptions
from reconciler.delivery.probe import ProbeResult, probe_one, probe_settings
from reconciler.delivery.probe_checks import PROBE_STEPS, Observed, assess, largest_attachment
from reconciler.delivery.transport import SessionRecord, SmtpEndpoint
from reconciler.delivery.wire import base64_size
from reconciler.model import Resource, ResourceKey
from reconciler.vault.secret import SecretValue
from tests.delivery.fault_servers import Play, RawServer, silent
from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, SIZE_LIMIT, SmtpSink, free_port

KEY = ResourceKey("SmtpSettings", "primary")


def probe(
    server: SmtpSink | RawServer | None,
    *,
    password: str | None = SERVER_PASSWORD,
    vault_error: str | None = None,
    max_size: int | None = None,
    expiry_days: int = 21,
    **overrides: Any,
) -> ProbeResult:
    username = overrides.pop("username", SERVER_USERNAME)
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port if server else free_port(),
        "start_tls_only": True,
        "timeout": 5.0,
        "ca_file": getattr(server, "ca_file", None),
        **overrides,
    }
    endpoint = SmtpEndpoint(**fields)
    given: PasswordLogin | str | None = vault_error
    if username is not None and password is not None:
        given = PasswordLogin(username, SecretValue(password))
    options = ProbeOptions(timeout=5.0, ca_file=endpoint.ca_file, expiry_days=expiry_days)
    return probe_one(KEY, endpoint, max_size, given, options)


def status(result: ProbeResult) -> dict[str, str]:
    return {step.step: step.status for step in result.steps}


def detail(result: ProbeResult, step: str) -> str:
    return next(s.detail for s in result.steps if s.step == step)


def findings(result: ProbeResult) -> list[tuple[str, str]]:
    return [(finding.level, finding.step) for finding in result.findings]


def assert_no_mail_and_no_plaintext_auth(server: SmtpSink) -> None:
    for session in server.sessions:
        assert "MAIL" not in session.verbs
        assert "RCPT" not in session.verbs and "DATA" not in session.verbs
        assert all(c.tls for c in session.commands if c.verb == "AUTH"), session.commands
        assert all(attempt.tls for attempt in session.auth)
    assert server.messages == []


@pytest.fixture
def certificate_server(
    smtp_ca: trustme.CA, smtp_server_factory: Callable[..., SmtpSink]
) -> Callable[..., SmtpSink]:
    """A STARTTLS server with a certificate the test CA issues with `issue_cert(**how)`."""

    def start(*identities: str, **how: Any) -> SmtpSink:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        smtp_ca.issue_cert(*(identities or ("localhost", "127.0.0.1")), **how).configure_cert(
            context
        )
        return smtp_server_factory(
            tls=context, username=SERVER_USERNAME, password=SERVER_PASSWORD, size_limit=SIZE_LIMIT
        )

    return start


def test_starttls_login_and_a_size_that_fits_pass_every_step(smtp_server: SmtpSink) -> None:
    fits = largest_attachment(SIZE_LIMIT)

    result = probe(smtp_server, max_size=fits)

    assert [step.step for step in result.steps] == list(PROBE_STEPS)
    assert status(result) == dict.fromkeys(PROBE_STEPS, "ok")
    assert result.findings == []
    assert detail(result, "dns") == "127.0.0.1"
    assert detail(result, "tcp") == f"connected to 127.0.0.1:{smtp_server.port}"
    assert detail(result, "greeting").startswith("220 ")
    assert detail(result, "tls").startswith("STARTTLS: TLSv1.")
    assert detail(result, "certificate").startswith(
        "verified for 127.0.0.1 (localhost, 127.0.0.1, "
    )
    assert f"SIZE {SIZE_LIMIT}" in detail(result, "ehlo")
    assert detail(result, "size") == (
        f"SIZE {SIZE_LIMIT} bytes takes maxAttachmentSize {fits} bytes "
        f"({base64_size(fits)} as base64)"
    )
    assert detail(result, "auth").endswith(f" as {SERVER_USERNAME}")
    timed = {s.step for s in result.steps if s.seconds is not None}
    assert timed == {"dns", "tcp", "greeting", "tls", "ehlo", "auth", "quit"}
    [session] = smtp_server.sessions
    assert session.verbs == ["EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"]
    assert [a.succeeded for a in session.auth] == [True]
    assert_no_mail_and_no_plaintext_auth(smtp_server)


def test_max_size_whose_base64_exceeds_the_server_size_is_an_error(smtp_server: SmtpSink) -> None:
    too_big = largest_attachment(SIZE_LIMIT) + 1  # raw, it is still under SIZE

    result = probe(smtp_server, max_size=too_big)

    assert too_big < SIZE_LIMIT < base64_size(too_big)
    assert findings(result) == [("error", "size")]
    assert detail(result, "size") == (
        f"maxAttachmentSize is {too_big} bytes, {base64_size(too_big)} bytes as base64, over "
        f"the SIZE of {SIZE_LIMIT} bytes that 127.0.0.1:{smtp_server.port} accepts: an invoice "
        f"near Max Size would be refused (at most {too_big - 1} bytes of attachments fit)"
    )
    assert status(result)["auth"] == "ok"  # the other steps still ran
    assert_no_mail_and_no_plaintext_auth(smtp_server)


@pytest.mark.parametrize("limit", [1, 77, 78, 79, 80, 81, 1000, 65536, 10 * 2**20])
def test_largest_attachment_is_the_largest_that_fits(limit: int) -> None:
    largest = largest_attachment(limit)

    assert base64_size(largest) <= limit < base64_size(largest + 1)


def test_start_tls_only_without_starttls_is_refused_and_nothing_is_sent(
    plain_smtp_server: SmtpSink,
) -> None:
    result = probe(plain_smtp_server, max_size=1000)

    assert findings(result) == [("error", "tls"), ("warning", "ehlo"), ("warning", "size")]
    assert detail(result, "tls") == (
        f"127.0.0.1:{plain_smtp_server.port} does not offer STARTTLS and startTlsOnly is set: "
        "no credentials or mail were sent"
    )
    assert status(result)["certificate"] == "skipped"
    assert (status(result)["auth"], detail(result, "auth")) == (
        "skipped",
        "not attempted: an earlier step failed",
    )
    [warning] = [f for f in result.findings if f.step == "ehlo"]
    assert "offers AUTH (" in warning.message and "before TLS" in warning.message
    assert "announces no SIZE" in detail(result, "size")
    [session] = plain_smtp_server.sessions
    assert session.verbs == ["EHLO", "QUIT"]
    assert_no_mail_and_no_plaintext_auth(plain_smtp_server)


def test_plaintext_without_login_or_start_tls_only_is_a_warning(
    smtp_server_factory: Callable[..., SmtpSink],
) -> None:
    server = smtp_server_factory(size_limit=SIZE_LIMIT)  # no TLS, no AUTH

    result = probe(server, password=None, username=None, start_tls_only=False)

    assert findings(result) == [("warning", "tls")]
    assert "offers no STARTTLS" in detail(result, "tls") and "plaintext" in detail(result, "tls")
    assert (status(result)["auth"], detail(result, "auth")) == ("skipped", "no username: no login")
    assert (
        detail(result, "size")
        == f"SIZE {SIZE_LIMIT} bytes; no maxAttachmentSize to check against it"
    )
    assert_no_mail_and_no_plaintext_auth(server)


def test_auth_offered_before_starttls_is_a_warning(
    smtp_server_factory: Callable[..., SmtpSink],
) -> None:
    server = smtp_server_factory(
        tls=True, username=SERVER_USERNAME, password=SERVER_PASSWORD, auth_over_plaintext=True
    )

    result = probe(server)

    assert findings(result) == [("warning", "ehlo"), ("warning", "size")]
    assert status(result)["auth"] == "ok"
    assert_no_mail_and_no_plaintext_auth(server)


def test_a_refused_login_is_an_error_that_never_shows_the_password(smtp_server: SmtpSink) -> None:
    wrong = "wrong-pässword-8d1f"

    result = probe(smtp_server, password=wrong)

    assert findings(result) == [("error", "auth")]
    assert "refused the login: 535" in detail(result, "auth")
    assert all(wrong not in step.detail for step in result.steps)
    assert [a.succeeded for s in smtp_server.sessions for a in s.auth] == [False, False]
    assert_no_mail_and_no_plaintext_auth(smtp_server)


def test_a_password_vault_did_not_give_is_an_error_and_no_login_is_tried(
    smtp_server: SmtpSink,
) -> None:
    result = probe(
        smtp_server, password=None, vault_error="vault secret/smtp/x#password: permission denied"
    )

    assert findings(result) == [("error", "auth")]
    assert detail(result, "auth") == (
        "the password could not be read: vault secret/smtp/x#password: permission denied"
    )
    assert status(result)["tls"] == "ok"
    assert "AUTH" not in smtp_server.sessions[0].verbs


def test_a_certificate_expiring_in_five_days_is_a_warning(
    certificate_server: Callable[..., SmtpSink],
) -> None:
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=5, hours=1)
    server = certificate_server(not_after=soon)

    result = probe(server)
    quiet = probe(server, expiry_days=5)

    assert findings(result) == [("warning", "certificate")]
    assert detail(result, "certificate") == (
        f"the certificate of 127.0.0.1:{server.port} expires in 5 days, on "
        f"{soon.date().isoformat()} (warning below 21 days)"
    )
    assert findings(quiet) == []
    assert_no_mail_and_no_plaintext_auth(server)


def test_a_certificate_for_another_host_name_is_an_error_and_gets_no_password(
    certificate_server: Callable[..., SmtpSink],
) -> None:
    server = certificate_server("mail.other.example")

    result = probe(server)

    assert findings(result) == [("error", "certificate")]
    assert "certificate verify failed" in detail(result, "certificate")
    assert "mismatch" in detail(result, "certificate").lower()
    assert (status(result)["tls"], detail(result, "tls")) == (
        "error",
        "STARTTLS: handshake aborted",
    )
    assert status(result)["auth"] == "skipped"
    assert all(not s.auth for s in server.sessions)
    assert_no_mail_and_no_plaintext_auth(server)


def test_a_certificate_from_an_unknown_ca_is_an_error(smtp_server: SmtpSink) -> None:
    result = probe(smtp_server, ca_file=None)

    assert findings(result) == [("error", "certificate")]
    assert "certificate verify failed" in detail(result, "certificate")


def test_implicit_tls_encrypts_every_step(implicit_tls_server: SmtpSink) -> None:
    result = probe(implicit_tls_server, implicit_tls=True)

    assert findings(result) == [("warning", "size")]  # this server announces no SIZE
    assert detail(result, "tls").startswith(
        f"implicit TLS (port {implicit_tls_server.port}): TLSv1."
    )
    assert status(result)["certificate"] == "ok"
    assert status(result)["auth"] == "ok"
    [session] = implicit_tls_server.sessions
    assert all(command.tls for command in session.commands)
    assert "STARTTLS" not in session.verbs
    assert_no_mail_and_no_plaintext_auth(implicit_tls_server)


def test_a_name_that_does_not_resolve_fails_at_dns() -> None:
    result = probe(None, host="no-such-host.invalid")

    assert findings(result) == [("error", "dns")]
    assert detail(result, "dns").startswith("DNS lookup failed for no-such-host.invalid:")
    assert all(
        s.status == "skipped" for s in result.steps if s.step not in ("dns", "certificate", "auth")
    )
    assert next(s for s in result.steps if s.step == "dns").seconds is not None


def test_nothing_listening_fails_at_tcp() -> None:
    result = probe(None)

    assert findings(result) == [("error", "tcp")]
    assert "connection refused" in detail(result, "tcp")
    assert status(result)["dns"] == "ok"


def test_settings_are_probed_in_parallel_in_their_order(
    smtp_server: SmtpSink, plain_smtp_server: SmtpSink, smtp_ca_file: str
) -> None:
    def settings(name: str, server: SmtpSink) -> Resource:
        spec = {"host": "127.0.0.1", "port": server.port, "startTlsOnly": True}
        return Resource(ResourceKey("SmtpSettings", name), spec)

    resources = [settings(f"s{i}", s) for i, s in enumerate([smtp_server, plain_smtp_server] * 3)]

    report = probe_settings(
        resources,
        lambda: pytest.fail("no password: Vault is not asked"),  # type: ignore[arg-type,return-value]
        ProbeOptions(timeout=5.0, ca_file=smtp_ca_file, parallel=2),
    )

    assert [r.key.name for r in report.results] == [f"s{i}" for i in range(6)]
    assert [status(r)["tls"] for r in report.results] == ["ok", "error"] * 3
    assert (report.errors, report.warnings) == (3, 6)
    assert len(smtp_server.sessions) == len(plain_smtp_server.sessions) == 3


def play(*replies: bytes, after_quit: bool = True) -> Play:
    """A server that sends `replies[0]` as its greeting and each next one to each command;
    without `after_quit`, it hangs up on QUIT without a word."""

    async def conversation(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(replies[0])
        await writer.drain()
        for reply in replies[1:]:
            command = await reader.readline()
            if not command or (command.upper().startswith(b"QUIT") and not after_quit):
                return
            writer.write(reply)
            await writer.drain()

    return conversation


def raw_probe(server: RawServer, **overrides: Any) -> ProbeResult:
    fields = {"start_tls_only": False, "username": None, "password": None, **overrides}
    return probe(server, **fields)  # type: ignore[arg-type]


def test_a_refused_greeting_is_an_error_at_the_greeting() -> None:
    with RawServer(play(b"554 5.3.2 go away\r\n")) as server:
        result = raw_probe(server)

    assert findings(result) == [("error", "greeting")]
    assert "554" in detail(result, "greeting")
    assert status(result)["ehlo"] == "skipped"


def test_a_server_that_never_greets_times_out_at_the_greeting() -> None:
    with RawServer(silent) as server:
        result = raw_probe(server, timeout=0.3)

    assert findings(result) == [("error", "greeting")]
    assert "did not answer in time" in detail(result, "greeting")
    seconds = next(s.seconds for s in result.steps if s.step == "greeting")
    assert seconds is not None and 0.2 < seconds < 2


def test_refused_ehlo_and_helo_are_an_error_at_ehlo() -> None:
    refusal = b"502 5.5.1 no\r\n"
    with RawServer(play(b"220 hi\r\n", refusal, refusal, b"221 bye\r\n")) as server:
        result = raw_probe(server)

    assert findings(result) == [("error", "ehlo")]


@pytest.mark.parametrize(
    ("size", "level", "text"),
    [(b"0", "ok", "SIZE 0: no fixed limit"), (b"lots", "warning", "SIZE 'lots' is not a number")],
)
def test_size_zero_means_no_limit_and_a_size_that_is_no_number_warns(
    size: bytes, level: str, text: str
) -> None:
    ehlo = b"250-hi\r\n250-SIZE " + size + b"\r\n250 8BITMIME\r\n"
    with RawServer(play(b"220 hi\r\n", ehlo, after_quit=False)) as server:
        result = raw_probe(server, max_size=1000)

    assert (status(result)["size"], detail(result, "size")) == (level, text)
    assert detail(result, "quit") == "the server hung up without answering"
    assert status(result)["quit"] == "ok"


def test_implicit_tls_to_a_plaintext_server_fails_the_handshake(smtp_server: SmtpSink) -> None:
    result = probe(smtp_server, implicit_tls=True)

    assert findings(result) == [("error", "tls")]
    assert detail(result, "tls").startswith("TLS handshake with 127.0.0.1:")
    assert status(result)["certificate"] == "skipped"


@pytest.mark.parametrize(
    ("implicit", "done", "failed"),
    [
        (False, ["dns", "tcp", "greeting", "ehlo"], "tls"),
        (True, ["dns", "tcp"], "tls"),
        (True, ["dns", "tcp", "tls", "greeting", "ehlo"], "auth"),
    ],
)
def test_a_failure_between_steps_belongs_to_the_first_step_not_done(
    implicit: bool, done: list[str], failed: str
) -> None:
    record = SessionRecord(seconds=dict.fromkeys(done, 0.001))
    seen = Observed(
        endpoint=SmtpEndpoint("smtp.example.com", 2525, False, implicit_tls=implicit),
        max_attachment_size=None,
        record=record,
        failure=DeliveryFailure("internal", "unexpected error", temporary=False),
        username=None,
        password_error=None,
        now=0.0,
        expiry_days=21,
    )

    steps = {step.step: step for step in assess(seen)}

    assert (steps[failed].status, steps[failed].detail) == ("error", "unexpected error")


def test_no_more_servers_than_parallel_are_probed_at_once() -> None:
    busy = {"now": 0, "most": 0}

    async def slow_greeting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        busy["now"] += 1  # the server's event loop runs one play at a time
        busy["most"] = max(busy["most"], busy["now"])
        try:
            await asyncio.sleep(0.2)
            await play(b"220 hi\r\n", b"250 hi\r\n", b"221 bye\r\n")(reader, writer)
        finally:
            busy["now"] -= 1

    with RawServer(slow_greeting) as server:
        spec = {"host": "127.0.0.1", "port": server.port, "startTlsOnly": False}
        resources = [Resource(ResourceKey("SmtpSettings", f"s{i}"), spec) for i in range(6)]
        report = probe_settings(
            resources,
            lambda: pytest.fail("no password: Vault is not asked"),  # type: ignore[arg-type,return-value]
            ProbeOptions(timeout=5.0, parallel=2),
        )

    assert server.connections == 6
    assert busy["most"] == 2
    assert [r.key.name for r in report.results] == [f"s{i}" for i in range(6)]
