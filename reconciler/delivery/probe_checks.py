"""What a probe's session record means: each step's outcome, and the findings.

Plain functions of what `SmtpConnection.open()` recorded (see `SessionRecord`) and the
failure it raised, if any, so every rule is testable without a server. Findings are
errors (unreachable, TLS or certificate failure, login refused, STARTTLS missing where
required, Max Size above the server's SIZE) or warnings (a certificate expiring soon, no
SIZE announced, AUTH offered before TLS, mail that would go in plaintext).
"""

from __future__ import annotations

import datetime
import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.delivery.failures import DeliveryFailure
from reconciler.delivery.transport import SessionRecord, SessionStep, SmtpEndpoint
from reconciler.delivery.wire import base64_size

ProbeStep = Literal["dns", "tcp", "greeting", "tls", "certificate", "ehlo", "size", "auth", "quit"]
#: The order a probe's steps are shown in.
PROBE_STEPS: tuple[ProbeStep, ...] = (
    "dns",
    "tcp",
    "greeting",
    "tls",
    "certificate",
    "ehlo",
    "size",
    "auth",
    "quit",
)
Status = Literal["ok", "warning", "error", "skipped"]
Level = Literal["error", "warning"]
_LEVELS: dict[Status, Level] = {"error": "error", "warning": "warning"}
_DAY = 86400.0


@dataclass(frozen=True)
class Finding:
    level: Level
    step: ProbeStep
    message: str


@dataclass(frozen=True)
class StepResult:
    """One step's outcome; `seconds` is None for checks that ask the server nothing."""

    step: ProbeStep
    status: Status
    detail: str
    seconds: float | None = None
    findings: tuple[Finding, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "status": self.status,
            "seconds": None if self.seconds is None else round(self.seconds, 6),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Observed:
    """Everything one probe saw: what to judge the steps by."""

    endpoint: SmtpEndpoint
    max_attachment_size: int | None
    record: SessionRecord
    failure: DeliveryFailure | None
    #: the login's username (the mailbox, for OAuth2); None without a login
    username: str | None
    #: why the password (or OAuth2 secret) could not be read from Vault
    password_error: str | None
    #: seconds since the epoch, for the certificate's days left
    now: float
    expiry_days: int
    #: what `password_error` could not read: "password", or "OAuth2 secret"
    secret: str = "password"  # noqa: S105 - a word, not a password


def assess(seen: Observed) -> list[StepResult]:
    """Every step's outcome, in PROBE_STEPS order."""
    failed = _failed_step(seen)
    judges = {
        "dns": _dns,
        "tcp": _tcp,
        "greeting": _greeting,
        "tls": _tls,
        "certificate": _certificate,
        "ehlo": _ehlo,
        "size": _size,
        "auth": _auth,
        "quit": _quit,
    }
    return [judges[step](seen, failed) for step in PROBE_STEPS]


def _session_order(endpoint: SmtpEndpoint) -> tuple[SessionStep, ...]:
    if endpoint.uses_implicit_tls:
        return ("dns", "tcp", "tls", "greeting", "ehlo", "auth")
    return ("dns", "tcp", "greeting", "ehlo", "tls", "auth")


def _failed_step(seen: Observed) -> ProbeStep | None:
    """The step the failure belongs to."""
    failure = seen.failure
    if failure is None:
        return None
    if failure.step == "certificate":
        return "certificate"
    if failure.step == "no-starttls":
        return "tls"
    if seen.record.failed is not None:
        return seen.record.failed
    # Failed between timed steps (e.g. a greeting other than 220, refused EHLO and HELO):
    # the first step that did not complete.
    done = seen.record.seconds
    return next((step for step in _session_order(seen.endpoint) if step not in done), "auth")


def _result(
    seen: Observed, step: ProbeStep, status: Status, detail: str, *, finding: bool = True
) -> StepResult:
    seconds = seen.record.seconds.get(step)  # none for certificate and size: no traffic
    level = _LEVELS.get(status) if finding else None
    findings = (Finding(level, step, detail),) if level is not None else ()
    return StepResult(step, status, detail, seconds, findings)


def _not_reached(seen: Observed, step: ProbeStep) -> StepResult:
    return _result(seen, step, "skipped", "not reached")


def _dns(seen: Observed, failed: ProbeStep | None) -> StepResult:
    if failed == "dns":
        return _result(seen, "dns", "error", str(seen.failure))
    return _result(seen, "dns", "ok", ", ".join(seen.record.addresses))


def _tcp(seen: Observed, failed: ProbeStep | None) -> StepResult:
    if failed == "tcp":
        return _result(seen, "tcp", "error", str(seen.failure))
    if seen.record.peer is None:
        return _not_reached(seen, "tcp")
    return _result(seen, "tcp", "ok", f"connected to {seen.record.peer}")


def _greeting(seen: Observed, failed: ProbeStep | None) -> StepResult:
    if failed == "greeting":
        return _result(seen, "greeting", "error", str(seen.failure))
    if seen.record.greeting is None:
        return _not_reached(seen, "greeting")
    return _result(seen, "greeting", "ok", seen.record.greeting)


def _tls(seen: Observed, failed: ProbeStep | None) -> StepResult:
    record, endpoint = seen.record, seen.endpoint
    how = f"implicit TLS (port {endpoint.port})" if endpoint.uses_implicit_tls else "STARTTLS"
    if failed == "tls":
        return _result(seen, "tls", "error", str(seen.failure))
    if failed == "certificate":
        # The handshake stopped at the certificate, which is that step's finding.
        return _result(seen, "tls", "error", f"{how}: handshake aborted", finding=False)
    if record.tls_version is not None:
        return _result(seen, "tls", "ok", f"{how}: {record.tls_version}, {record.cipher}")
    if record.features is None:
        return _not_reached(seen, "tls")
    return _result(
        seen,
        "tls",
        "warning",
        f"{endpoint.address} offers no STARTTLS, and startTlsOnly is false: "
        "mail to it would cross the network in plaintext",
    )


def _certificate(seen: Observed, failed: ProbeStep | None) -> StepResult:
    if failed == "certificate":
        return _result(seen, "certificate", "error", str(seen.failure))
    certificate = seen.record.certificate
    if certificate is None:
        return _result(seen, "certificate", "skipped", "no TLS")
    expires = ssl.cert_time_to_seconds(certificate["notAfter"])
    days = int((expires - seen.now) // _DAY)
    on = _date(certificate["notAfter"])
    names = ", ".join(_names(certificate)) or "no names"
    if days < seen.expiry_days:
        return _result(
            seen,
            "certificate",
            "warning",
            f"the certificate of {seen.endpoint.address} expires in {days} days, on {on} "
            f"(warning below {seen.expiry_days} days)",
        )
    return _result(
        seen,
        "certificate",
        "ok",
        f"verified for {seen.endpoint.host} ({names}); expires on {on}, in {days} days",
    )


def _ehlo(seen: Observed, failed: ProbeStep | None) -> StepResult:
    if failed == "ehlo":
        return _result(seen, "ehlo", "error", str(seen.failure))
    record = seen.record
    if record.features is None:
        return _not_reached(seen, "ehlo")
    shown = ", ".join(_capability(name, value) for name, value in record.features.items())
    before_tls = record.plaintext_features or {}
    if "auth" in before_tls:
        mechanisms = " ".join(before_tls["auth"].split()) or "no mechanism named"
        return StepResult(
            "ehlo",
            "warning",
            shown,
            record.seconds.get("ehlo"),
            (
                Finding(
                    "warning",
                    "ehlo",
                    f"{seen.endpoint.address} offers AUTH ({mechanisms}) before TLS: a client "
                    "that does not insist on TLS may send its password in plaintext",
                ),
            ),
        )
    return _result(seen, "ehlo", "ok", shown)


def _size(seen: Observed, failed: ProbeStep | None) -> StepResult:
    features = seen.record.features
    if features is None:
        return _not_reached(seen, "size")
    limit_text = features.get("size")
    if limit_text is None:
        return _result(
            seen,
            "size",
            "warning",
            f"{seen.endpoint.address} announces no SIZE: whether it takes a message "
            "of Max Size is known only once one is sent",
        )
    if not limit_text.strip().isdigit():
        return _result(seen, "size", "warning", f"SIZE {limit_text!r} is not a number")
    return _size_against(seen, int(limit_text))


def _size_against(seen: Observed, limit: int) -> StepResult:
    """The server's SIZE against Max Size as delivery sends it: base64-encoded."""
    maximum = seen.max_attachment_size
    if limit == 0:
        return _result(seen, "size", "ok", "SIZE 0: no fixed limit")
    if maximum is None:
        return _result(
            seen, "size", "ok", f"SIZE {limit} bytes; no maxAttachmentSize to check against it"
        )
    encoded = base64_size(maximum)
    if encoded > limit:
        return _result(
            seen,
            "size",
            "error",
            f"maxAttachmentSize is {maximum} bytes, {encoded} bytes as base64, over the SIZE "
            f"of {limit} bytes that {seen.endpoint.address} accepts: an invoice near Max Size "
            f"would be refused (at most {largest_attachment(limit)} bytes of attachments fit)",
        )
    return _result(
        seen,
        "size",
        "ok",
        f"SIZE {limit} bytes takes maxAttachmentSize {maximum} bytes ({encoded} as base64)",
    )


def largest_attachment(limit: int) -> int:
    """The most bytes of attachments whose base64 (`base64_size`) fits in `limit` bytes."""
    lines, rest = divmod(limit, 78)  # a full line: 57 bytes as 76 characters and CRLF
    return lines * 57 + max(0, (rest - 2) // 4 * 3)


def _auth(seen: Observed, failed: ProbeStep | None) -> StepResult:
    username = seen.username
    if seen.password_error is not None:
        return _result(
            seen, "auth", "error", f"the {seen.secret} could not be read: {seen.password_error}"
        )
    if failed == "auth":
        return _result(seen, "auth", "error", str(seen.failure))
    if username is None:
        return _result(seen, "auth", "skipped", "no username: no login")
    if seen.record.auth_mechanism is None:
        return _result(seen, "auth", "skipped", "not attempted: an earlier step failed")
    return _result(seen, "auth", "ok", f"{seen.record.auth_mechanism} as {username}")


def _quit(seen: Observed, failed: ProbeStep | None) -> StepResult:
    if "quit" not in seen.record.seconds:
        return _not_reached(seen, "quit")
    if seen.record.failed == "quit":
        return _result(seen, "quit", "ok", "the server hung up without answering", finding=False)
    return _result(seen, "quit", "ok", "closed")


def _capability(name: str, value: str) -> str:
    return " ".join([name.upper(), *value.split()])


def _names(certificate: dict[str, Any]) -> list[str]:
    """The names the certificate is for (its subjectAltName entries)."""
    return [str(value) for _, value in certificate.get("subjectAltName", ())]


def _date(not_after: str) -> str:
    """`Jun  1 12:00:00 2026 GMT` as `2026-06-01`."""
    moment = datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), tz=datetime.UTC)
    return moment.date().isoformat()
