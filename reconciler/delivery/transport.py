"""Connecting to an SMTP server and sending over it, by the delivery rules of DESIGN.md.

- Port 465 speaks TLS from the first byte; any other port connects in plaintext and
  upgrades with STARTTLS whenever the server offers it.
- Certificates and host names are always verified (system store, or `ca_file`).
- Credentials never cross a plaintext connection. With `start_tls_only`, neither does
  mail: a server without STARTTLS gets nothing but EHLO and QUIT.
- Every socket operation has the endpoint's timeout.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Protocol, runtime_checkable

from reconciler.delivery.failures import DeliveryFailure, Phase, classify
from reconciler.delivery.wire import StreamingData, wire_bytes
from reconciler.errors import SmtpcfgError

IMPLICIT_TLS_PORT = 465


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where and how to connect: everything but the password.

    `implicit_tls`: None (the default) decides by port, TLS from the first byte on 465
    and STARTTLS elsewhere; True or False forces it, which tests use to reach an
    implicit-TLS server without binding port 465.
    """

    host: str
    port: int
    start_tls_only: bool
    username: str | None
    timeout: float = 30.0
    ca_file: str | None = None
    implicit_tls: bool | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def uses_implicit_tls(self) -> bool:
        if self.implicit_tls is None:
            return self.port == IMPLICIT_TLS_PORT
        return self.implicit_tls


@runtime_checkable
class Revealable(Protocol):
    """A secret that hands out its value only when asked (e.g. one read from Vault)."""

    def reveal(self) -> str: ...


# Asked for only at login, so the value never sits in the connection's repr or fields.
Password = Revealable | Callable[[], str]


@dataclass(frozen=True)
class SendResult:
    """The server's reply to DATA, which usually carries its queue id.

    `refused` lists recipients the server turned down while accepting the message for the
    others: address -> (code, reply).
    """

    message_id: str
    code: int
    reply_text: str
    refused: Mapping[str, tuple[int, str]] = field(default_factory=dict)


class _KeepsDataReply(StreamingData):
    """smtplib's sendmail() drops the reply to DATA; the outbox records it."""

    last_data_reply: tuple[int, bytes] = (0, b"")

    def data(self, msg: bytes) -> tuple[int, bytes]:
        self.last_data_reply = super().data(msg)  # type: ignore[misc]
        return self.last_data_reply


class _SMTP(_KeepsDataReply, smtplib.SMTP):
    pass


class _SMTP_SSL(_KeepsDataReply, smtplib.SMTP_SSL):
    pass


class SmtpConnection:
    """One SMTP session, kept open across many messages.

    `open()` (or `with`) connects, secures and logs in; `send()` sends one message;
    `ensure_open()` before each message reconnects if the server dropped an idle
    session or hung up with 421. Every problem is raised as a DeliveryFailure.
    """

    def __init__(self, endpoint: SmtpEndpoint, password: Password | None = None) -> None:
        if (endpoint.username is None) != (password is None):
            raise SmtpcfgError(
                f"SMTP login for {endpoint.address} needs both a username and a password"
            )
        self.endpoint = endpoint
        self._password = password
        self._context = tls_context(endpoint.ca_file)
        self._smtp: _SMTP | _SMTP_SSL | None = None

    def __repr__(self) -> str:
        return f"SmtpConnection({self.endpoint!r}, open={self._smtp is not None})"

    def __enter__(self) -> SmtpConnection:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect, secure the session and log in; a no-op when already open."""
        if self._smtp is not None:
            return
        endpoint = self.endpoint
        smtp: _SMTP | _SMTP_SSL | None = None
        phase: Phase = "connect"
        try:
            # Host and port go to the constructor: smtplib verifies the certificate
            # against the host name given there.
            if endpoint.uses_implicit_tls:
                smtp = _SMTP_SSL(
                    endpoint.host, endpoint.port, timeout=endpoint.timeout, context=self._context
                )
            else:
                smtp = _SMTP(endpoint.host, endpoint.port, timeout=endpoint.timeout)
            # SMTP is request/response: without this, Nagle's algorithm holds each
            # command's last segment for the server's delayed ACK, ~40 ms a message.
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo_or_helo_if_needed()
            if not endpoint.uses_implicit_tls:
                phase = "tls"
                self._start_tls(smtp)
            if endpoint.username is not None and self._password is not None:
                phase = "auth"
                smtp.login(endpoint.username, _reveal(self._password))
        except DeliveryFailure:
            _hang_up(smtp)
            raise
        except (smtplib.SMTPException, OSError) as exc:
            _hang_up(smtp)
            raise classify(exc, endpoint.address, phase) from exc
        self._smtp = smtp

    def _start_tls(self, smtp: smtplib.SMTP) -> None:
        endpoint = self.endpoint
        if smtp.has_extn("starttls"):
            # A failed upgrade is never retried in plaintext: a network attacker could
            # cause it to read the mail.
            smtp.starttls(context=self._context)
            # RFC 3207: what the server said in plaintext is void; ask again (SIZE, AUTH).
            smtp.ehlo_or_helo_if_needed()
        elif endpoint.start_tls_only:
            raise DeliveryFailure(
                "no-starttls",
                f"{endpoint.address} does not offer STARTTLS and startTlsOnly is set: "
                "no credentials or mail were sent",
                temporary=False,
            )
        elif endpoint.username is not None:
            raise DeliveryFailure(
                "no-starttls",
                f"{endpoint.address} does not offer STARTTLS: the password of "
                f"{endpoint.username} is never sent over a plaintext connection, so "
                "nothing was sent",
                temporary=False,
            )

    def ensure_open(self) -> None:
        """Probe an open session with NOOP and reconnect if it is gone; open it otherwise."""
        if self._smtp is not None:
            try:
                alive = self._smtp.noop()[0] == 250
            except (smtplib.SMTPException, OSError):
                alive = False
            if alive:
                return
            self.close()
        self.open()

    def send(self, msg: EmailMessage) -> SendResult:
        """Send one message: MAIL FROM its From address, RCPT TO each To and Cc, DATA.

        A message larger than the SIZE the server advertises (RFC 1870) is not
        attempted. After a refusal the session stays usable (smtplib sends RSET); after
        a 421 or a lost connection it is closed, and `ensure_open()` reconnects.
        """
        smtp = self._smtp
        address = self.endpoint.address
        if smtp is None:
            raise DeliveryFailure("connection-lost", f"not connected to {address}", temporary=True)
        sender, recipients = _envelope(msg)
        data = wire_bytes(msg)
        _check_size(smtp, len(data), address)
        try:
            refused = smtp.sendmail(sender, recipients, data)
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc, address, "send") from exc
        code, reply = smtp.last_data_reply
        return SendResult(
            message_id=str(msg.get("Message-ID", "")),
            code=code,
            reply_text=reply.decode("utf-8", "replace"),
            refused={rcpt: (c, r.decode("utf-8", "replace")) for rcpt, (c, r) in refused.items()},
        )

    def close(self) -> None:
        """Say QUIT and drop the connection; safe to call more than once."""
        if self._smtp is not None:
            _hang_up(self._smtp)
            self._smtp = None


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A client context that verifies certificates and host names: the system's CAs, or
    those in `ca_file`."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except OSError as exc:  # a missing file, or one without a PEM certificate
        raise SmtpcfgError(f"cannot load CA file {ca_file}: {exc}") from None


def _envelope(msg: EmailMessage) -> tuple[str, list[str]]:
    """MAIL FROM and RCPT TO addresses: the From address; every To and Cc address."""
    senders = getaddresses(msg.get_all("From", []))
    if not senders:
        raise SmtpcfgError("the message has no From address")
    recipients = getaddresses([*msg.get_all("To", []), *msg.get_all("Cc", [])])
    if not recipients:
        raise SmtpcfgError("the message has no To or Cc address")
    return senders[0][1], [address for _, address in recipients]


def _check_size(smtp: smtplib.SMTP, size: int, address: str) -> None:
    limit = smtp.esmtp_features.get("size", "").strip()
    if limit.isdigit() and 0 < int(limit) < size:  # SIZE 0 means "no fixed limit"
        raise DeliveryFailure(
            "size",
            f"the message is {size} bytes but {address} accepts at most {limit} bytes: "
            "not attempted",
            temporary=False,
        )


def _reveal(password: Password) -> str:
    return password.reveal() if isinstance(password, Revealable) else password()


def _hang_up(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:  # the constructor failed: nothing was connected
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
