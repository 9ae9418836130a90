"""`--timeout` bounds whole replies, replies are capped in size, logins are UTF-8, and
server replies never carry the credentials back into errors."""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
import sys
import time
import uuid

import pytest

from reconciler.delivery.failures import DeliveryFailure
from reconciler.delivery.login import PasswordLogin
from reconciler.delivery.transport import SmtpConnection, SmtpEndpoint
from tests.delivery.conftest import NO_LOGIN, Delivery
from tests.delivery.fault_servers import (
    AuthEcho,
    Play,
    RawServer,
    byte_trickler,
    flooder,
    silent,
    trickler,
)

TIMEOUT = 1.0


def plain_endpoint(port: int, timeout: float = TIMEOUT) -> SmtpEndpoint:
    return SmtpEndpoint("127.0.0.1", port, start_tls_only=False, timeout=timeout)


@pytest.mark.parametrize(
    ("play", "step", "words"),
    [
        (silent, "timeout", "did not answer in time while connecting"),
        (trickler, "timeout", "did not answer in time while connecting"),
        (byte_trickler, "timeout", "did not answer in time while connecting"),
        (flooder, "connection-lost", "a reply of over 65536 octets"),
    ],
    ids=["tarpit", "trickler", "byte-trickler", "flooder"],
)
def test_a_greeting_that_never_ends_is_given_up_within_the_timeout(
    play: Play, step: str, words: str
) -> None:
    with RawServer(play) as server:
        started = time.monotonic()
        with pytest.raises(DeliveryFailure) as caught:
            SmtpConnection(plain_endpoint(server.port)).open()
        elapsed = time.monotonic() - started

    assert elapsed < TIMEOUT + 1
    assert caught.value.step == step
    assert words in str(caught.value)
    assert caught.value.temporary


def test_a_reply_line_over_512_octets_is_an_error() -> None:
    async def long_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 " + b"x" * 600 + b"\r\n")
        await writer.drain()

    with RawServer(long_line) as server, pytest.raises(DeliveryFailure) as caught:
        SmtpConnection(plain_endpoint(server.port)).open()

    assert "a reply line of over 512 octets" in str(caught.value)


def test_the_runner_gives_up_a_flood_in_bounded_time_and_memory(
    blank_delivery: Delivery,
) -> None:
    """The runner as a process: its peak RSS (VmHWM) is read as it exits."""
    with RawServer(flooder) as server:
        blank_delivery.apply(server, settings_spec=NO_LOGIN)
        job = blank_delivery.add(
            "--purpose",
            "notification",
            "--settings",
            "primary",
            "--to",
            "jane@customer.example",
            "--subject",
            "Hi",
            "--body",
            "Hello.",
        )
        report = (
            "import atexit, runpy, sys\n"
            "atexit.register(lambda: sys.stderr.write(next(line for line in"
            " open('/proc/self/status') if line.startswith('VmHWM'))))\n"
            "sys.argv = ['smtpcfg', *sys.argv[1:]]\n"
            "runpy.run_module('reconciler', run_name='__main__')\n"
        )
        args = blank_delivery.deliver_args(
            "--once", "--timeout", str(TIMEOUT), "--retry-base-delay", "60"
        )
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", report, *args],
            cwd=blank_delivery.cli.cwd,
            env={**blank_delivery.cli.env, **blank_delivery.vault_env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    peak_kib = int(result.stderr.rsplit("VmHWM:", 1)[1].split()[0])
    assert peak_kib < 150 * 1024
    shown = blank_delivery.show(job)
    assert shown["status"] == "retrying"
    assert "a reply of over 65536 octets" in shown["failure"]
    assert elapsed < 30  # the whole process, start-up included; unbounded, it never ends


def tls_endpoint(port: int, ca_file: str) -> SmtpEndpoint:
    return SmtpEndpoint(
        "127.0.0.1",
        port,
        start_tls_only=True,
        timeout=5.0,
        ca_file=ca_file,
        implicit_tls=True,
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_a_non_ascii_login_is_sent_as_utf8(
    mechanism: str, smtp_tls_context: ssl.SSLContext, smtp_ca_file: str
) -> None:
    username, password = "facturación", f"contraseña-ǂ-{uuid.uuid4().hex}-€"
    echo = AuthEcho(mechanism, username, password)
    with RawServer(echo, tls=smtp_tls_context) as server:
        connection = SmtpConnection(
            tls_endpoint(server.port, smtp_ca_file), PasswordLogin(username, lambda: password)
        )
        connection.open()
        connection.close()

    assert echo.logins == [(username, password)]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_a_refusal_that_echoes_the_login_is_scrubbed_of_it(
    mechanism: str, smtp_tls_context: ssl.SSLContext, smtp_ca_file: str
) -> None:
    username, password = "billing-bot", f"pässwörd-ǂ-{uuid.uuid4().hex}"
    echo = AuthEcho(mechanism, username, "another password")
    with RawServer(echo, tls=smtp_tls_context) as server:
        connection = SmtpConnection(
            tls_endpoint(server.port, smtp_ca_file), PasswordLogin(username, lambda: password)
        )
        with pytest.raises(DeliveryFailure) as caught:
            connection.open()

    failure = caught.value
    assert echo.logins == [(username, password)]  # the server had it, and echoed it
    assert failure.step == "authentication"
    assert "[redacted]" in str(failure)
    raw = password.encode()
    plain_blob = f"\0{username}\0{password}".encode()
    for form in (
        password,
        base64.b64encode(raw).decode(),
        base64.b64encode(plain_blob).decode(),
        "ǂ",
        "ä",
        "\\u01c2",
        "\\xe4",
    ):
        for text in (str(failure), failure.reply or "", repr(failure)):
            assert form not in text
