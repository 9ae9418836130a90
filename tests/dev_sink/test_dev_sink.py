"""`smtpcfg dev-sink` in its own process, as a newcomer runs it: test-email and deliver
send to it with the CA file it prints, it prints each message, and signals stop it."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from reconciler.dev_sink import Received, describe
from tests.delivery.conftest import Delivery
from tests.support.cli import Cli
from tests.support.openbao import OpenBao
from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, free_port


class SinkProcess:
    """`python -m reconciler dev-sink ...`, its output read line by line as it comes."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "dev-sink", "--port", str(self.port), *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.process.stdout is not None
        stdout = self.process.stdout
        threading.Thread(
            target=lambda: [self.lines.put(line) for line in stdout], daemon=True
        ).start()

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Everything printed so far, once a line containing `text` has been printed."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            try:
                self.seen.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"dev-sink printed no {text!r}; so far: {''.join(self.seen)}")
        return "".join(self.seen)

    def stop(self, signal_number: int) -> tuple[int, str]:
        self.process.send_signal(signal_number)
        code = self.process.wait(timeout=30)
        return code, self.wait_for("dev-sink: stopped")


@pytest.fixture
def start_sink(tmp_path: Path) -> Iterator[type[SinkProcess]]:
    started: list[SinkProcess] = []

    class Started(SinkProcess):
        def __init__(self, *args: str) -> None:
            super().__init__(tmp_path, *args)
            started.append(self)

    yield Started
    for sink in started:
        if sink.process.poll() is None:
            sink.process.kill()
            sink.process.wait()


@dataclass
class _Port:
    port: int


def test_test_email_and_an_invoice_arrive_and_are_printed(
    cli: Cli, openbao: OpenBao, tmp_path: Path, start_sink: type[SinkProcess]
) -> None:
    sink = start_sink("--save", "mail")
    banner = sink.wait_for("Ctrl-C stops it.")
    match = re.search(r"^CA file: (.+)$", banner, re.MULTILINE)
    assert match, banner
    ca_file = match.group(1)
    assert f"dev-sink: listening on 127.0.0.1:{sink.port} (STARTTLS required" in banner
    assert ca_file.startswith("/") and Path(ca_file).read_text().startswith("-----BEGIN")

    delivery = Delivery(cli, openbao, ca_file, tmp_path)
    delivery.apply(_Port(sink.port))  # startTlsOnly, a username, the password in Vault
    sent = delivery.run("test-email", "primary", "--user", "jane", "--ca-file", ca_file)
    assert sent.code == 0, sent.output
    printed = sink.wait_for("=== end of message 1")
    assert f"(STARTTLS, login {SERVER_USERNAME})" in printed
    assert "RCPT TO: <jane@customer.example>" in printed
    assert "Subject: smtpcfg test email: primary" in printed
    assert "This is a test email sent by smtpcfg with the SMTP settings primary" in printed

    (tmp_path / "INV-7.pdf").write_bytes(b"%PDF-1.4 " + b"x" * 1000)
    delivery.add_invoice("INV-7", "--attach", tmp_path / "INV-7.pdf")
    assert delivery.deliver_once().code == 0
    printed = sink.wait_for("=== end of message 2")
    assert "Subject: Invoice INV-7 for account A-1001" in printed
    assert "[attachment INV-7.pdf, application/pdf, 1009 bytes]" in printed

    code, printed = sink.stop(signal.SIGINT)
    assert code == 0
    assert "dev-sink: stopped; 2 messages received." in printed
    assert SERVER_PASSWORD not in printed
    assert "Traceback" not in printed
    saved = sorted((tmp_path / "mail").iterdir())
    assert [path.name for path in saved] == ["001.eml", "002.eml"]
    assert b"Subject: smtpcfg test email: primary" in saved[0].read_bytes()


def test_sigterm_stops_it_cleanly(start_sink: type[SinkProcess]) -> None:
    sink = start_sink()
    sink.wait_for("Ctrl-C stops it.")
    code, printed = sink.stop(signal.SIGTERM)
    assert code == 0
    assert "dev-sink: stopped; 0 messages received." in printed


# Refused before anything binds: S104 (binding to every interface) is what is tested.
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.com"])  # noqa: S104
def test_only_loopback_is_allowed(bare_cli: Cli, host: str) -> None:
    result = bare_cli("dev-sink", "--host", host)
    assert result.code == 1
    assert result.stderr == (
        f"Error: --host {host}: dev-sink listens on loopback only (127.0.0.1, ::1 or "
        "localhost): it accepts any login and is meant for trying smtpcfg out\n"
    )


def test_a_port_in_use_is_a_clear_error(start_sink: type[SinkProcess], tmp_path: Path) -> None:
    first = start_sink()
    first.wait_for("Ctrl-C stops it.")
    second = subprocess.run(
        [sys.executable, "-m", "reconciler", "dev-sink", "--port", str(first.port)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert f"Error: dev-sink cannot listen on 127.0.0.1:{first.port}: " in second.stderr
    assert "Traceback" not in second.stderr


def test_without_the_dev_extra_it_says_what_to_install(tmp_path: Path) -> None:
    """aiosmtpd made unimportable, as in an install without `smtpcfg[dev]`."""
    program = (
        "import sys; sys.modules['aiosmtpd'] = None; "
        "from reconciler.cli.main import run; sys.exit(run(['dev-sink']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: dev-sink needs aiosmtpd, from the dev extra: pip install 'smtpcfg[dev]'\n"
    )


def test_a_message_is_described_with_its_parts() -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message["Subject"] = "Hi"
    message.set_content("Hello.\n")
    message.add_attachment(b"\x00" * 10, maintype="application", subtype="octet-stream")
    raw = message.as_bytes()  # as it arrives: with its boundary
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    received = Received(3, "127.0.0.1:1", None, "a@example.com", ["b@example.com"], parsed, raw)
    lines = describe(received).splitlines()
    assert lines[6].startswith("Content-Type: multipart/mixed; boundary=")
    assert lines[:6] + lines[7:] == [
        "=== message 3 from 127.0.0.1:1 (STARTTLS, no login)",
        "MAIL FROM: <a@example.com>",
        "RCPT TO: <b@example.com>",
        "From: a@example.com",
        "Subject: Hi",
        "MIME-Version: 1.0",
        "",
        "Hello.",
        "[attachment (no name), application/octet-stream, 10 bytes]",
        "=== end of message 3",
    ]


def test_a_client_without_the_ca_file_gets_one_line_not_a_traceback(
    cli: Cli, openbao: OpenBao, tmp_path: Path, start_sink: type[SinkProcess]
) -> None:
    sink = start_sink()
    banner = sink.wait_for("Ctrl-C stops it.")
    match = re.search(r"^CA file: (.+)$", banner, re.MULTILINE)
    assert match, banner
    delivery = Delivery(cli, openbao, match.group(1), tmp_path)
    delivery.apply(_Port(sink.port))

    refused = delivery.run("test-email", "primary", "--user", "jane")  # no --ca-file

    assert refused.code == 1
    assert "certificate not trusted" in refused.stderr
    printed = sink.wait_for("dev-sink: a client's TLS handshake failed")
    assert f"give the client the CA file: --ca-file {match.group(1)}" in printed
    code, printed = sink.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in printed
