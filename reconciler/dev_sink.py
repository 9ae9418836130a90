"""`smtpcfg dev-sink`: a local SMTP server to try smtpcfg against, on loopback only.

It offers STARTTLS with a certificate from a CA it makes at start-up (the CA's PEM file
is what `test-email --ca-file` and `deliver --ca-file` take), accepts any login once TLS
is up, and prints every message it receives. It is for trying smtpcfg out, never for
real mail: it refuses to listen anywhere but loopback, and it never prints a password.

aiosmtpd and trustme come with the `dev` extra (`pip install 'smtpcfg[dev]'`); the test
suite's SMTP servers take their certificates from `loopback_tls_context` too.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import SmtpcfgError

if TYPE_CHECKING:
    import trustme
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

#: The names the certificate is valid for: what a settings' `host` may say to reach it.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def check_loopback(host: str) -> None:
    """Refuse any address but loopback: the sink accepts every login and every message."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SmtpcfgError(
            f"--host {host}: dev-sink listens on loopback only (127.0.0.1, ::1 or "
            "localhost): it accepts any login and is meant for trying smtpcfg out"
        )


def loopback_tls_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate from `ca` for every loopback name."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*LOOPBACK_NAMES).configure_cert(context)
    return context


@dataclass(frozen=True)
class Received:
    """One accepted message, and how it arrived."""

    number: int
    peer: str
    login: str | None
    mail_from: str
    rcpt_to: list[str]
    message: EmailMessage
    raw: bytes


class DevSink:
    """The server: `start()` listens (in a thread), `stop()` closes every connection.

    `on_message` is called on the server's thread for each message it accepts.
    """

    def __init__(
        self,
        host: str,
        port: int,
        ca_file: Path,
        on_message: Callable[[Received], None],
        on_problem: Callable[[str], None],
    ) -> None:
        import trustme
        from aiosmtpd.controller import Controller

        check_loopback(host)
        self.host, self.port, self.ca_file = host, port, ca_file
        ca = trustme.CA()
        ca_file.parent.mkdir(parents=True, exist_ok=True)
        ca.cert_pem.write_to_path(str(ca_file))
        self._handler = _Handler(on_message, on_problem, ca_file)
        # aiosmtpd logs a deprecation of its own at every login.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self._controller = Controller(
            self._handler,
            hostname=host,
            port=port,
            tls_context=loopback_tls_context(ca),
            require_starttls=True,
            authenticator=self._handler.authenticate,
            auth_require_tls=True,
            server_hostname="localhost",
        )

    def start(self) -> None:
        try:
            self._controller.start()
        except OSError as error:
            raise SmtpcfgError(
                f"dev-sink cannot listen on {self.host}:{self.port}: {error.strerror or error}"
            ) from None

    def stop(self) -> None:
        self._controller.stop()

    @property
    def received(self) -> int:
        with self._handler.lock:
            return self._handler.count


class _Handler:
    """aiosmtpd's handler: any login is accepted (its name kept, never its password)."""

    def __init__(
        self, on_message: Callable[[Received], None], on_problem: Callable[[str], None], ca: Path
    ) -> None:
        self.on_message = on_message
        self.on_problem = on_problem
        self.ca = ca
        self.lock = threading.Lock()
        self.count = 0

    async def handle_exception(self, error: Exception) -> str:
        """One line for a session that failed, instead of aiosmtpd's traceback: most
        often a client that was not given the CA file and so refused the certificate."""
        from aiosmtpd.smtp import TLSSetupException

        if isinstance(error, TLSSetupException):
            cause = error.__cause__ or error
            self.on_problem(
                f"dev-sink: a client's TLS handshake failed ({cause}); "
                f"give the client the CA file: --ca-file {self.ca.resolve()}"
            )
        else:
            self.on_problem(f"dev-sink: a session failed: {type(error).__name__}: {error}")
        return "421 4.3.0 dev-sink: the session failed, see the dev-sink's output"

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: LoginPassword,
    ) -> AuthResult:
        from aiosmtpd.smtp import AuthResult

        return AuthResult(success=True, auth_data=auth_data.login.decode("utf-8", "replace"))

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert envelope.original_content is not None
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.count += 1
            number = self.count
        peer: Any = session.peer  # (host, port, ...) for a TCP connection
        login: Any = session.auth_data
        self.on_message(
            Received(
                number,
                f"{peer[0]}:{peer[1]}",
                login if isinstance(login, str) else None,
                str(envelope.mail_from),
                [str(rcpt) for rcpt in envelope.rcpt_tos],
                message,
                envelope.original_content,
            )
        )
        return f"250 2.0.0 Ok: queued as DEV{number}"


def serve(sink: DevSink, on_ready: Callable[[], None]) -> int:
    """Run `sink` until SIGINT or SIGTERM; return how many messages it received."""
    stopping = threading.Event()
    previous = {
        number: signal.signal(number, lambda *_: stopping.set())
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        sink.start()
        try:
            on_ready()
            stopping.wait()
        finally:
            sink.stop()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return sink.received


def describe(received: Received) -> str:
    """A received message as dev-sink prints it: envelope, headers, text, attachments."""
    login = f"login {received.login}" if received.login else "no login"
    lines = [
        f"=== message {received.number} from {received.peer} (STARTTLS, {login})",
        f"MAIL FROM: <{received.mail_from}>",
        *(f"RCPT TO: <{rcpt}>" for rcpt in received.rcpt_to),
        *(f"{name}: {value}" for name, value in received.message.items()),
        "",
    ]
    for part in received.message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename is None and part.get_content_maintype() == "text":
            lines.append(str(part.get_content()).rstrip("\n"))
        else:
            size = len(part.get_payload(decode=True) or b"")
            lines.append(
                f"[attachment {filename or '(no name)'}, {part.get_content_type()}, {size} bytes]"
            )
    lines.append(f"=== end of message {received.number}")
    return "\n".join(lines)
