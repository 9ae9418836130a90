"""Why a delivery failed, in plain words, and whether trying again later can help."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Literal

from reconciler.errors import SmtpcfgError

Step = Literal[
    "dns",
    "connection-refused",
    "timeout",
    "tls-handshake",
    "certificate",
    "no-starttls",
    "authentication",
    "oauth2-token",
    "sender-refused",
    "recipient-refused",
    "data-refused",
    "size",
    "connection-lost",
    "protocol",
    "internal",
]
# What the connection was doing when something went wrong; the same exception means
# different things at different moments (a bare SSLError is a handshake failure while
# connecting, a dropped line once mail is flowing).
Phase = Literal["connect", "tls", "auth", "send"]

_DOING: dict[Phase, str] = {
    "connect": "connecting",
    "tls": "starting TLS",
    "auth": "logging in",
    "send": "sending",
}


class DeliveryFailure(SmtpcfgError):
    """One failed step of talking to an SMTP server, as a one-line message.

    `temporary` failures (4xx replies, refused or lost connections, timeouts) are worth
    retrying later; permanent ones (5xx replies, certificate and TLS problems, a missing
    STARTTLS, an oversized message) need a person to change something first.
    """

    def __init__(
        self,
        step: Step,
        message: str,
        *,
        temporary: bool,
        code: int | None = None,
        reply: str | None = None,
        replies: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.temporary = temporary
        self.code = code
        self.reply = reply
        #: for a refusal of every recipient: address -> (code, reply)
        self.replies: Mapping[str, tuple[int, str]] = replies or {}

    @property
    def permanent(self) -> bool:
        return not self.temporary

    def __repr__(self) -> str:
        return (
            f"DeliveryFailure(step={self.step!r}, code={self.code!r}, "
            f"temporary={self.temporary!r}, message={str(self)!r})"
        )


class SizeLimitExceeded(DeliveryFailure):
    """The message is larger than the SIZE the server announced (RFC 1870); not attempted."""

    def __init__(self, size: int, limit: int, server: str) -> None:
        super().__init__(
            "size",
            f"the message is {size} bytes but {server} accepts at most {limit} bytes: "
            "not attempted",
            temporary=False,
        )
        self.size = size
        self.limit = limit
        self.server = server


def classify(exc: smtplib.SMTPException | OSError, server: str, phase: Phase) -> DeliveryFailure:
    """Turn what smtplib, socket or ssl raised during `phase` into a DeliveryFailure.

    `server` is `host:port`, as the messages name it.
    """
    doing = _DOING[phase]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _recipients_refused(exc, server)
    if isinstance(exc, smtplib.SMTPResponseException):
        step, what = _response_step(exc, phase)
        code, reply = exc.smtp_code, _text(exc.smtp_error)
        return DeliveryFailure(
            step,
            f"{server} {what}: {code} {reply}",
            temporary=_is_temporary(code),
            code=code,
            reply=reply,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read that timed out as a disconnection; the timeout is
        # the exception it was handling.
        if isinstance(exc.__context__, TimeoutError):
            return _os_failure(exc.__context__, server, phase)
        return DeliveryFailure(
            "connection-lost",
            f"connection to {server} lost while {doing}: {exc}",
            temporary=True,
        )
    if isinstance(exc, smtplib.SMTPException):
        # e.g. the server offers no AUTH, or no mechanism smtplib knows
        return DeliveryFailure(
            "authentication" if phase == "auth" else "protocol",
            f"cannot talk to {server} while {doing}: {exc}",
            temporary=False,
        )
    return _os_failure(exc, server, phase)


def unexpected(
    exc: Exception, server: str, phase: Phase, scrub: Callable[[str], str]
) -> DeliveryFailure:
    """Anything else raised while talking to `server` (a library's surprise, a bug): a
    permanent failure whose text went through `scrub`, the session's credential filter."""
    return DeliveryFailure(
        "internal",
        scrub(f"unexpected error while {_DOING[phase]} with {server}: {type(exc).__name__}: {exc}"),
        temporary=False,
    )


def _os_failure(exc: OSError, server: str, phase: Phase) -> DeliveryFailure:
    doing = _DOING[phase]
    if isinstance(exc, socket.gaierror):
        # EAI_AGAIN is the resolver failing to answer; anything else is a name that
        # does not resolve, which waiting will not fix.
        return DeliveryFailure(
            "dns",
            f"DNS lookup failed for {server}: {exc.strerror}",
            temporary=exc.errno == socket.EAI_AGAIN,
        )
    if isinstance(exc, TimeoutError):
        return DeliveryFailure(
            "timeout", f"{server} did not answer in time while {doing}", temporary=True
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryFailure(
            "certificate",
            f"certificate verify failed for {server}: {exc.verify_message}",
            temporary=False,
        )
    if isinstance(exc, ssl.SSLError) and phase in ("connect", "tls"):
        return DeliveryFailure(
            "tls-handshake",
            f"TLS handshake with {server} failed: {exc.reason or exc}",
            temporary=False,
        )
    if phase == "connect":
        reason = (
            "connection refused (nothing listens on that port, or a firewall rejects it)"
            if isinstance(exc, ConnectionRefusedError)
            else exc.strerror or str(exc)
        )
        return DeliveryFailure(
            "connection-refused", f"cannot connect to {server}: {reason}", temporary=True
        )
    return DeliveryFailure(
        "connection-lost", f"connection to {server} lost while {doing}: {exc}", temporary=True
    )


def _response_step(exc: smtplib.SMTPResponseException, phase: Phase) -> tuple[Step, str]:
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return "sender-refused", f"refused the sender <{_text(exc.sender)}>"
    if isinstance(exc, smtplib.SMTPDataError):
        return "data-refused", "refused the message"
    if isinstance(exc, smtplib.SMTPAuthenticationError) or phase == "auth":
        return "authentication", "refused the login"
    if phase == "tls":
        return "tls-handshake", "refused STARTTLS"
    return "protocol", f"answered unexpectedly while {_DOING[phase]}"


def _recipients_refused(exc: smtplib.SMTPRecipientsRefused, server: str) -> DeliveryFailure:
    replies = {rcpt: (code, _text(reply)) for rcpt, (code, reply) in exc.recipients.items()}
    code, reply = next(iter(replies.values()))
    listed = "; ".join(f"<{rcpt}> {c} {r}" for rcpt, (c, r) in replies.items())
    return DeliveryFailure(
        "recipient-refused",
        f"{server} refused the recipients: {listed}",
        # Retrying helps only if every refusal was temporary.
        temporary=all(_is_temporary(c) for c, _ in replies.values()),
        code=code,
        reply=reply,
        replies=replies,
    )


def _is_temporary(code: int) -> bool:
    return 400 <= code < 500


def _text(reply: bytes | str) -> str:
    """A server reply as one line of text (multi-line replies joined)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.splitlines())
