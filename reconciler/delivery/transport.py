"""Connecting to an SMTP server and sending over it, by the delivery rules of DESIGN.md.

- Port 465 speaks TLS from the first byte; any other port connects in plaintext and
  upgrades with STARTTLS whenever the server offers it.
- Certificates and host names are always verified (system store, or `ca_file`).
- Credentials never cross a plaintext connection. With `start_tls_only`, neither does
  mail: a server without STARTTLS gets nothing but EHLO and QUIT.
- The endpoint's timeout bounds connecting with the greeting, every whole reply (not each
  read: a server trickling bytes cannot stretch it) and sending each command or message;
  replies are capped in size (`MAX_REPLY_LINE`, `MAX_REPLY`). A `deadline` given to
  `ensure_open`/`send` bounds the whole message on top of that.
- A login (reconciler.delivery.login) is a password, sent with the mechanism smtplib picks,
  or an OAuth2 bearer token, sent with XOAUTH2 only; a token the server refuses with 535
  is replaced by a new one once (`_Session.log_in`).
- Credentials are sent as UTF-8, and every server reply is cleaned of what the session
  sent to log in before anything reads it (see `_Session.scrub`).
- Each opening keeps a `SessionRecord`: every step's time and what the server showed
  (addresses, greeting, EHLO capabilities, TLS and certificate, AUTH mechanism). Delivery
  ignores it; `smtpcfg probe` reads it, so the probe runs exactly the code delivery does.
"""

from __future__ import annotations

import base64
import hmac
import io
import smtplib
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any, Literal, overload

from reconciler.delivery.failures import (
    DeliveryFailure,
    Phase,
    SizeLimitExceeded,
    classify,
    unexpected,
)
from reconciler.delivery.login import (
    Login,
    OAuth2Login,
    PasswordLogin,
    Revealable,
    xoauth2_response,
)
from reconciler.delivery.wire import StreamingData, wire_bytes
from reconciler.errors import SmtpcfgError

if TYPE_CHECKING:
    # The types smtplib's stubs use for these overrides' arguments.
    from _socket import _Address as _SourceAddress

    from _typeshed import ReadableBuffer

IMPLICIT_TLS_PORT = 465
#: RFC 5321 4.5.3.1.5: a reply line, code and CRLF included, is at most 512 octets.
MAX_REPLY_LINE = 512
#: A multi-line reply (EHLO's is the longest real one, about 1 KiB) larger than this is an
#: error: without a cap, a server sending continuation lines for ever fills the memory.
MAX_REPLY = 64 * 1024
#: How often a server may answer AUTH with a challenge (LOGIN needs 2).
_MAX_CHALLENGES = 5
REDACTED = "[redacted]"


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

    @classmethod
    def from_spec(
        cls, spec: Mapping[str, Any], *, timeout: float, ca_file: str | None
    ) -> SmtpEndpoint:
        """The endpoint an SmtpSettings spec (normalized, as stored) describes."""
        return cls(
            host=spec["host"],
            port=spec["port"],
            start_tls_only=spec["startTlsOnly"],
            timeout=timeout,
            ca_file=ca_file,
        )


#: The timed steps of opening a session (and of closing it: quit).
SessionStep = Literal["dns", "tcp", "tls", "greeting", "ehlo", "auth", "quit"]


@dataclass
class SessionRecord:
    """What opening one session showed, step by step.

    `seconds` holds each step's time (summed when a step repeats: EHLO is sent again
    after STARTTLS), failed steps included; `failed` is the step under way when the
    session failed. `plaintext_features` are the EHLO capabilities offered before TLS
    (None on implicit TLS); `features` those that count (after TLS, if any).
    `certificate` is the server's verified certificate as `getpeercert()` gives it.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    failed: SessionStep | None = None
    addresses: list[str] = field(default_factory=list)
    peer: str | None = None
    greeting: str | None = None
    plaintext_features: dict[str, str] | None = None
    features: dict[str, str] | None = None
    tls_version: str | None = None
    cipher: str | None = None
    certificate: dict[str, Any] | None = None
    auth_mechanism: str | None = None

    @contextmanager
    def timed(self, step: SessionStep) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        except BaseException:
            if self.failed is None:
                self.failed = step
            raise
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + time.monotonic() - started

    def secured(self, sock: socket.socket) -> None:
        """Note the TLS session of `sock`, which has just completed its handshake."""
        if isinstance(sock, ssl.SSLSocket):
            self.tls_version = sock.version()
            cipher = sock.cipher()
            self.cipher = cipher[0] if cipher else None
            self.certificate = sock.getpeercert() or None


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


class ReplyTooLarge(smtplib.SMTPServerDisconnected):
    """The server's reply broke the size caps; the connection was closed."""


class _DeadlineReader(io.RawIOBase):
    """The socket as a file whose every read waits only until the session's reply deadline.

    smtplib reads replies through `sock.makefile()`, where the socket timeout applies to
    each recv: a server sending a byte a second never times out.
    """

    def __init__(self, session: _Session) -> None:
        super().__init__()
        self._session = session
        self._sock = session.sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._session.reply_deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


class _Session(StreamingData, smtplib.SMTP):
    """smtplib.SMTP with bounded replies, a per-message deadline, UTF-8 credentials,
    replies scrubbed of credentials and DATA streamed without copies (StreamingData).
    Mixed in before SMTP or SMTP_SSL."""

    sock: socket.socket
    _host: str  # set by smtplib: the name certificates are verified against
    user: str
    password: str
    _auth_challenge_count: int

    def __init__(
        self,
        *args: Any,
        deadline: float | None = None,
        record: SessionRecord | None = None,
        **kwargs: Any,
    ) -> None:
        #: monotonic time by which the message in hand must be done; None between messages
        self.deadline = deadline
        self.record = record or SessionRecord()
        self.reply_deadline = 0.0
        self.last_data_reply: tuple[int, bytes] = (0, b"")
        self._connect_deadline: float | None = None
        self._secrets: set[bytes] = set()
        super().__init__(*args, **kwargs)

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: _SourceAddress | None = None
    ) -> tuple[int, bytes]:
        """smtplib's, but connecting and the greeting together take at most one timeout,
        and the greeting is a step of its own in the record. smtpcfg binds no source
        address: `source_address` is not used."""
        self._connect_deadline = time.monotonic() + self.timeout
        try:
            sys.audit("smtplib.connect", self, host, port)
            self.sock = self._get_socket(host, port, self.timeout)
            self.file = None
            with self.record.timed("greeting"):
                code, message = self.getreply()
            self.record.greeting = f"{code} {message.decode('utf-8', 'replace')}"
            if code != 220 and self.record.failed is None:  # smtplib refuses it next
                self.record.failed = "greeting"
            return code, message
        finally:
            self._connect_deadline = None

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        """socket.create_connection, in two recorded steps, within the connect deadline."""
        with self.record.timed("dns"):
            found = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        self.record.addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        with self.record.timed("tcp"):
            sock = self._connect_first(found)
        peer_host, peer_port = sock.getpeername()[:2]
        self.record.peer = (
            f"[{peer_host}]:{peer_port}" if ":" in peer_host else f"{peer_host}:{peer_port}"
        )
        return sock

    def _connect_first(self, found: list[Any]) -> socket.socket:
        """A connected socket to the first of `found` (getaddrinfo's) that answers."""
        error: OSError | None = None
        for family, kind, proto, _, address in found:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(max(self._deadline() - time.monotonic(), 0.001))
                sock.connect(address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            return sock
        raise error or OSError("getaddrinfo returned no address")

    def _deadline(self) -> float:
        deadline = time.monotonic() + self.timeout
        for limit in (self._connect_deadline, self.deadline):
            if limit is not None:
                deadline = min(deadline, limit)
        return deadline

    def send(self, s: ReadableBuffer | str) -> None:
        if self.sock:
            # sendall's timeout is the total for all the data (since Python 3.5).
            self.sock.settimeout(max(self._deadline() - time.monotonic(), 0.001))
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        """smtplib's, but the whole reply must arrive within the timeout (and the deadline),
        with lines of at most MAX_REPLY_LINE and at most MAX_REPLY in all."""
        self.reply_deadline = self._deadline()
        if self.file is None:
            self.file = io.BufferedReader(_DeadlineReader(self))
        lines: list[bytes] = []
        size = 0
        code = -1
        while True:
            try:
                line = self.file.readline(MAX_REPLY_LINE + 1)
            except OSError as exc:
                self.close()
                raise smtplib.SMTPServerDisconnected(
                    f"Connection unexpectedly closed: {exc}"
                ) from exc
            if not line:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            size += len(line)
            if len(line) > MAX_REPLY_LINE or size > MAX_REPLY:
                self.close()
                limit = (
                    f"a reply line of over {MAX_REPLY_LINE} octets"
                    if len(line) > MAX_REPLY_LINE
                    else f"a reply of over {MAX_REPLY} octets"
                )
                raise ReplyTooLarge(f"the server sent {limit}; hung up")
            lines.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                code = -1
                break
            if line[3:4] != b"-":
                break
        return code, self.scrub(b"\n".join(lines))

    # sendmail() passes data() bytes only (it encodes a str message itself), and
    # StreamingData needs bytes; smtplib's stub allows any buffer or str.
    def data(self, msg: bytes | bytearray) -> tuple[int, bytes]:  # type: ignore[override]
        """Keeps the reply to DATA, which sendmail() drops; the outbox records it."""
        self.last_data_reply = super().data(msg)
        return self.last_data_reply

    def ehlo(self, name: str = "") -> tuple[int, bytes]:
        """smtplib's, recording the capabilities offered (before TLS, and those that count)."""
        with self.record.timed("ehlo"):
            reply = super().ehlo(name)
        if reply[0] == 250:
            features = dict(self.esmtp_features)
            if not isinstance(self.sock, ssl.SSLSocket):
                self.record.plaintext_features = features
            self.record.features = features
        return reply

    def helo(self, name: str = "") -> tuple[int, bytes]:
        """smtplib's, for servers that refuse EHLO: a refusal here ends the session."""
        with self.record.timed("ehlo"):
            reply = super().helo(name)
        if reply[0] != 250 and self.record.failed is None:  # smtplib raises next
            self.record.failed = "ehlo"
        elif reply[0] == 250:
            self.record.features = {}  # a server without extensions: no SIZE, no AUTH
        return reply

    def log_in(self, login: Login) -> None:
        """Log in with a password (the mechanism smtplib picks from those offered) or,
        for OAuth2, with XOAUTH2 alone. A token refused with 535 (revoked, or expired
        early) is replaced by a new one, once."""
        if isinstance(login, PasswordLogin):
            self.login(login.username, login.reveal_password())
            return
        self._require_mechanism("XOAUTH2", login)
        token = login.tokens.token()
        try:
            self._xoauth2(login, token)
        except smtplib.SMTPAuthenticationError as refusal:
            if refusal.smtp_code != 535:
                raise
            self._xoauth2(login, login.tokens.renew(token))

    def _require_mechanism(self, mechanism: str, login: OAuth2Login) -> None:
        offered = self.esmtp_features.get("auth", "").upper().split()
        if mechanism not in offered:
            others = f"it offers {' '.join(offered)}" if offered else "it offers no AUTH"
            raise smtplib.SMTPNotSupportedError(
                f"the server does not offer AUTH {mechanism} ({others}), "
                f"which the {login.credential} of {login.username} needs"
            )

    def _xoauth2(self, login: OAuth2Login, token: Revealable) -> None:
        value = token.reveal()
        self._remember(value.encode())
        response = xoauth2_response(login.username, value)
        # After a refusal the server sends a 334 with an error in JSON; the client answers
        # with an empty line and the server ends with 535 (Google's and Microsoft's way).
        self.auth("XOAUTH2", lambda challenge=None: response if challenge is None else "")

    def login(
        self, user: str, password: str, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        self._remember(password.encode())
        return super().login(user, password, initial_response_ok=initial_response_ok)

    def quit(self) -> tuple[int, bytes]:
        with self.record.timed("quit"):
            return super().quit()

    def auth(
        self,
        mechanism: str,
        authobject: Callable[..., str | None],
        *,
        initial_response_ok: bool = True,
    ) -> tuple[int, bytes]:
        """smtplib's AUTH exchange, with responses encoded as UTF-8 (RFC 4954 and 4616
        allow it) where smtplib encodes ASCII and fails on any other password."""
        mechanism = mechanism.upper()
        initial = authobject() if initial_response_ok else None
        if initial is not None:
            code, reply = self.docmd("AUTH", f"{mechanism} {self._encoded(initial)}")
            self._auth_challenge_count = 1
        else:
            code, reply = self.docmd("AUTH", mechanism)
            self._auth_challenge_count = 0
        while code == 334:
            self._auth_challenge_count += 1
            if self._auth_challenge_count > _MAX_CHALLENGES:
                raise smtplib.SMTPAuthenticationError(code, b"the server keeps asking for more")
            response = authobject(base64.decodebytes(reply)) or ""
            code, reply = self.docmd(self._encoded(response))
        if code in (235, 503):
            self.record.auth_mechanism = mechanism
            return code, reply
        raise smtplib.SMTPAuthenticationError(code, reply)

    @overload
    def auth_cram_md5(self, challenge: None = None) -> None: ...
    @overload
    def auth_cram_md5(self, challenge: ReadableBuffer) -> str: ...
    def auth_cram_md5(self, challenge: ReadableBuffer | None = None) -> str | None:
        """smtplib's, keyed with the UTF-8 password (smtplib's takes ASCII only)."""
        if challenge is None:
            return None
        return f"{self.user} {hmac.HMAC(self.password.encode(), challenge, 'md5').hexdigest()}"

    def _encoded(self, response: str) -> str:
        raw = response.encode()
        self._remember(raw)
        return base64.b64encode(raw).decode("ascii")

    def _remember(self, secret: bytes) -> None:
        """Scrub `secret`, as sent and base64-encoded, from every later reply."""
        if secret:
            self._secrets.update((secret, base64.b64encode(secret)))

    def scrub(self, text: bytes) -> bytes:
        """`text` without anything this session sent to log in (longest first)."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED.encode())
        return text


class _SMTP(_Session):
    pass


class _SMTP_SSL(_Session, smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        """TLS from the first byte, the handshake a step of its own (as SMTP_SSL's)."""
        sock = super()._get_socket(host, port, timeout)
        with self.record.timed("tls"):
            try:
                secured = self.context.wrap_socket(sock, server_hostname=self._host)
            except BaseException:
                sock.close()
                raise
        self.record.secured(secured)
        return secured


class SmtpConnection:
    """One SMTP session, kept open across many messages.

    `open()` (or `with`) connects, secures and logs in; `send()` sends one message;
    `ensure_open()` before each message reconnects if the server dropped an idle
    session or hung up with 421. Every problem is raised as a DeliveryFailure.
    """

    def __init__(
        self,
        endpoint: SmtpEndpoint,
        login: Login | None = None,
        *,
        context: ssl.SSLContext | None = None,
    ) -> None:
        """`login`: how to log in (reconciler.delivery.login), None for no AUTH.
        `context`: a `tls_context(endpoint.ca_file)` to share (loading the CAs takes
        tens of milliseconds); by default the connection makes its own."""
        self.endpoint = endpoint
        self._login = login
        self._context = context or tls_context(endpoint.ca_file)
        self._smtp: _Session | None = None
        #: what the last `open()` saw, step by step, failed or not (see SessionRecord)
        self.record: SessionRecord | None = None

    def __repr__(self) -> str:
        return f"SmtpConnection({self.endpoint!r}, open={self._smtp is not None})"

    def __enter__(self) -> SmtpConnection:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self, deadline: float | None = None) -> None:
        """Connect, secure the session and log in; a no-op when already open.

        `deadline` (a time.monotonic() value) bounds it all, on top of the timeout.
        """
        if self._smtp is not None:
            return
        endpoint = self.endpoint
        smtp: _Session | None = None
        phase: Phase = "connect"
        record = self.record = SessionRecord()
        try:
            # Host and port go to the constructor: smtplib verifies the certificate
            # against the host name given there.
            if endpoint.uses_implicit_tls:
                smtp = _SMTP_SSL(
                    endpoint.host,
                    endpoint.port,
                    timeout=endpoint.timeout,
                    context=self._context,
                    deadline=deadline,
                    record=record,
                )
            else:
                smtp = _SMTP(
                    endpoint.host,
                    endpoint.port,
                    timeout=endpoint.timeout,
                    deadline=deadline,
                    record=record,
                )
            # SMTP is request/response: without this, Nagle's algorithm holds each
            # command's last segment for the server's delayed ACK, on every message.
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo_or_helo_if_needed()
            if not endpoint.uses_implicit_tls:
                phase = "tls"
                self._start_tls(smtp)
            if self._login is not None:
                phase = "auth"
                self._log_in(smtp, self._login)
        except SmtpcfgError:  # worded already: a DeliveryFailure, a secret Vault refused
            _hang_up(smtp)
            raise
        except (smtplib.SMTPException, OSError) as exc:
            _hang_up(smtp)
            raise classify(exc, endpoint.address, phase) from exc
        except Exception as exc:  # e.g. a bug: the session's state is unknown
            _hang_up(smtp)
            raise unexpected(exc, endpoint.address, phase, self._scrubber(smtp)) from None
        self._smtp = smtp

    def _log_in(self, smtp: _Session, login: Login) -> None:
        """AUTH: the one login delivery, test-email and `probe` all use (a password, or
        XOAUTH2 with a token). Timed here as the record's `auth` step, token fetches
        included; `_Session.auth` records the mechanism that succeeded."""
        with smtp.record.timed("auth"):
            smtp.log_in(login)

    def _start_tls(self, smtp: _Session) -> None:
        endpoint = self.endpoint
        if smtp.has_extn("starttls"):
            # A failed upgrade is never retried in plaintext: a network attacker could
            # cause it to read the mail.
            with smtp.record.timed("tls"):
                smtp.starttls(context=self._context)
            smtp.record.secured(smtp.sock)
            # RFC 3207: what the server said in plaintext is void; ask again (SIZE, AUTH).
            smtp.ehlo_or_helo_if_needed()
        elif endpoint.start_tls_only:
            raise DeliveryFailure(
                "no-starttls",
                f"{endpoint.address} does not offer STARTTLS and startTlsOnly is set: "
                "no credentials or mail were sent",
                temporary=False,
            )
        elif self._login is not None:
            raise DeliveryFailure(
                "no-starttls",
                f"{endpoint.address} does not offer STARTTLS: the {self._login.credential} "
                f"of {self._login.username} is never sent over a plaintext connection, so "
                "nothing was sent",
                temporary=False,
            )

    def ensure_open(self, deadline: float | None = None) -> None:
        """Probe an open session with NOOP and reconnect if it is gone; open it otherwise.

        `deadline` bounds this and the next `send()`.
        """
        if self._smtp is not None:
            self._smtp.deadline = deadline
            try:
                alive = self._smtp.noop()[0] == 250
            except (smtplib.SMTPException, OSError):
                alive = False
            if alive:
                return
            self.close()
        self.open(deadline)

    def send(self, msg: EmailMessage, recipients: Sequence[str] | None = None) -> SendResult:
        """Send one message: MAIL FROM its From address, RCPT TO each of `recipients`
        (default: every To and Cc), DATA.

        A message larger than the SIZE the server advertises (RFC 1870) is not
        attempted. After a refusal the session stays usable (smtplib sends RSET); after
        a 421 or a lost connection it is closed, and `ensure_open()` reconnects.
        """
        smtp = self._smtp
        address = self.endpoint.address
        if smtp is None:
            raise DeliveryFailure("connection-lost", f"not connected to {address}", temporary=True)
        sender, envelope = _envelope(msg)
        data = wire_bytes(msg)
        _check_size(smtp, len(data), address)
        try:
            refused = smtp.sendmail(sender, list(recipients or envelope), data)
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc, address, "send") from exc
        except Exception as exc:  # e.g. a bug: the session's state is unknown
            scrub = self._scrubber(smtp)
            self.close()
            raise unexpected(exc, address, "send", scrub) from None
        finally:
            smtp.deadline = None
        code, reply = smtp.last_data_reply
        return SendResult(
            message_id=str(msg.get("Message-ID", "")),
            code=code,
            reply_text=reply.decode("utf-8", "replace"),
            refused={rcpt: (c, r.decode("utf-8", "replace")) for rcpt, (c, r) in refused.items()},
        )

    def _scrubber(self, smtp: _Session | None) -> Callable[[str], str]:
        """Removes the credentials `smtp` sent, and the password, from a text."""
        login = self._login
        secrets = [login.reveal_password()] if isinstance(login, PasswordLogin) else []

        def scrub(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, REDACTED)
            if smtp is not None:
                text = smtp.scrub(text.encode()).decode("utf-8", "replace")
            return text

        return scrub

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
        raise SizeLimitExceeded(size, int(limit), address)


def _hang_up(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:  # the constructor failed: nothing was connected
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
