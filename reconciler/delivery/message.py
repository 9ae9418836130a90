"""Building the emails the runner sends: headers, body, attachments, `${placeholder}`s."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime, make_msgid

from reconciler.delivery.wire import Base64Attachment
from reconciler.errors import SmtpcfgError
from reconciler.header_text import header_text_problem

# policy.SMTP (CRLF line ends, RFC 2047 encoded headers) with 7bit transfer encodings:
# a non-ASCII body goes out quoted-printable, so a server without 8BITMIME takes it too.
_POLICY = policy.SMTP.clone(cte_type="7bit")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "type/subtype", e.g. "application/pdf"
    data: bytes = field(repr=False)


def total_attachment_size(attachments: Iterable[Attachment]) -> int:
    """Bytes of all attachments of one email together, before encoding: what Max Size limits."""
    return sum(len(attachment.data) for attachment in attachments)


def render_template(text: str, variables: Mapping[str, str]) -> str:
    """Fill in `${placeholder}` (or `$placeholder`); `$$` is a literal `$`.

    string.Template, never str.format: a template can only name values, not reach their
    attributes or items.
    """
    try:
        return string.Template(text).substitute(variables)
    except KeyError as exc:
        raise SmtpcfgError(f"template placeholder ${{{exc.args[0]}}} has no value") from None
    except ValueError as exc:
        raise SmtpcfgError(f"template has a malformed placeholder: {exc}") from None


def literal(text: str) -> str:
    """`text` as a template that renders to itself: every `$` doubled."""
    return text.replace("$", "$$")


def build_message(
    *,
    from_name: str | None,
    from_address: str,
    to: list[str],
    cc: list[str],
    subject: str,
    body: str,
    attachments: list[Attachment],
    message_id_domain: str,
    message_id: str | None = None,
    date: str | None = None,
    html: str | None = None,
) -> EmailMessage:
    """The email as it goes on the wire: plain-text body, attachments, Date, Message-ID.

    `message_id` and `date` are a job's, fixed at its first attempt; new ones otherwise.
    `html`, if given, is an HTML alternative of the body (multipart/alternative).

    Refuses (SmtpcfgError) a header value with a line break, which could smuggle in extra
    headers such as Bcc, an address that does not parse or is not ASCII, and an email
    without a To address.
    """
    if not to:
        raise SmtpcfgError("an email needs at least one To address")
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = _address("From", from_address, from_name)
    msg["To"] = [_address("To", address) for address in to]
    if cc:
        msg["Cc"] = [_address("Cc", address) for address in cc]
    msg["Subject"] = _one_line("Subject", subject)
    msg["Date"] = date or format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(
        domain=_one_line("Message-ID domain", message_id_domain)
    )
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if not maintype or not subtype:
            raise SmtpcfgError(
                f"attachment {attachment.filename!r}: content type "
                f"{attachment.content_type!r} is not type/subtype"
            )
        msg.add_attachment(
            b"",
            maintype=maintype,
            subtype=subtype,
            filename=_one_line("attachment filename", attachment.filename),
        )
        part = msg.get_payload(-1)
        assert isinstance(part, Message)  # the part add_attachment appended
        # Kept raw, and encoded only onto the wire (see delivery/wire.py).
        Base64Attachment.adopt(part, attachment.data)
    return msg


def check_address(header: str, addr_spec: str) -> None:
    """Raise SmtpcfgError unless `addr_spec` can be a `header` address of an email."""
    _address(header, addr_spec)


def _address(header: str, addr_spec: str, display_name: str | None = None) -> Address:
    _one_line(header, addr_spec)
    _one_line(f"{header} name", display_name or "")
    if not addr_spec.isascii():
        raise SmtpcfgError(
            f"{header}: {addr_spec!r} is not ASCII; internationalized addresses "
            "(SMTPUTF8) are not supported"
        )
    local, _, domain = addr_spec.rpartition("@")
    if not local or not domain:
        raise SmtpcfgError(f"{header}: {addr_spec!r} is not an email address (local@domain)")
    try:
        return Address(display_name=display_name or "", addr_spec=addr_spec)
    except (ValueError, HeaderParseError) as exc:  # parse defects are ValueErrors too
        raise SmtpcfgError(f"{header}: {addr_spec!r} is not an email address: {exc}") from None


def _one_line(what: str, value: str) -> str:
    problem = header_text_problem(value)
    if problem:
        raise SmtpcfgError(f"{what} {problem}")
    return value
