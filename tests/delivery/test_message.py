"""Building emails: headers, attachments, templates and header-injection refusals."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from reconciler.delivery.message import (
    Attachment,
    build_message,
    render_template,
    total_attachment_size,
)
from reconciler.errors import SmtpcfgError

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def message(**overrides: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "from_name": "Acme Billing",
        "from_address": "billing@acme.example",
        "to": ["jane@customer.example"],
        "cc": ["accounts@customer.example"],
        "subject": "Invoice INV-7 for March",
        "body": "Dear Jane,\nplease find your invoice attached.\n",
        "attachments": [],
        "message_id_domain": "acme.example",
    }
    return build_message(**{**fields, **overrides})


def on_the_wire(msg: EmailMessage) -> EmailMessage:
    """The message as a receiver parses it from its bytes."""
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def text(part: EmailMessage) -> str:
    """A text part's content with the wire's CRLF line ends as newlines."""
    return part.get_content().replace("\r\n", "\n")


def test_headers_name_sender_recipients_date_and_message_id() -> None:
    received = on_the_wire(message())

    [sender] = received["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Acme Billing", "billing@acme.example")
    assert [a.addr_spec for a in received["To"].addresses] == ["jane@customer.example"]
    assert [a.addr_spec for a in received["Cc"].addresses] == ["accounts@customer.example"]
    assert received["Subject"] == "Invoice INV-7 for March"
    assert received["Message-ID"].startswith("<")
    assert received["Message-ID"].endswith("@acme.example>")
    assert parsedate_to_datetime(received["Date"]).tzinfo is not None
    assert text(received) == "Dear Jane,\nplease find your invoice attached.\n"


def test_without_a_from_name_only_the_address_is_sent() -> None:
    received = on_the_wire(message(from_name=None, cc=[]))

    assert str(received["From"]) == "billing@acme.example"
    assert "Cc" not in received


def test_each_message_gets_its_own_message_id() -> None:
    assert message()["Message-ID"] != message()["Message-ID"]


def test_non_ascii_text_survives_and_the_wire_stays_7bit() -> None:
    msg = message(from_name="Bücher & Co", subject="Rechnung für März", body="Grüße, Jörg\n")

    assert msg.as_bytes().isascii()  # no 8BITMIME needed from the server
    received = on_the_wire(msg)
    assert received["From"].addresses[0].display_name == "Bücher & Co"
    assert received["Subject"] == "Rechnung für März"
    assert text(received) == "Grüße, Jörg\n"


def test_attachments_round_trip_byte_for_byte() -> None:
    attachments = [
        Attachment("INV-7.pdf", "application/pdf", PDF),
        Attachment("usage März.csv", "text/csv", b"day;calls\n1;42\n"),
    ]
    received = on_the_wire(message(attachments=attachments))

    parts = list(received.iter_attachments())
    assert [p.get_content_type() for p in parts] == ["application/pdf", "text/csv"]
    assert [p.get_filename() for p in parts] == ["INV-7.pdf", "usage März.csv"]
    assert [p.get_payload(decode=True) for p in parts] == [PDF, b"day;calls\n1;42\n"]
    body = received.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    assert text(body).startswith("Dear Jane")


def test_total_attachment_size_adds_up_all_files_before_encoding() -> None:
    attachments = [
        Attachment("a.pdf", "application/pdf", PDF),
        Attachment("b.pdf", "application/pdf", b"x" * 10),
    ]

    assert total_attachment_size(attachments) == len(PDF) + 10
    assert total_attachment_size([]) == 0


def test_attachment_repr_leaves_out_the_bytes() -> None:
    assert "PDF" not in repr(Attachment("a.pdf", "application/pdf", PDF))


def test_template_fills_placeholders() -> None:
    text = "Invoice ${invoice} for $account: $$${amount}"

    assert render_template(text, {"invoice": "INV-7", "account": "ACME", "amount": "12.50"}) == (
        "Invoice INV-7 for ACME: $12.50"
    )


def test_template_is_not_str_format() -> None:
    """Braces are text: a template cannot reach attributes of the values it is given."""
    text = "{invoice.__class__} {0} ${invoice}"

    assert render_template(text, {"invoice": "INV-7"}) == "{invoice.__class__} {0} INV-7"


def test_template_names_a_missing_placeholder() -> None:
    with pytest.raises(SmtpcfgError, match=r"\$\{due_date\} has no value"):
        render_template("Due ${due_date}", {"invoice": "INV-7"})


def test_template_refuses_a_malformed_placeholder() -> None:
    with pytest.raises(SmtpcfgError, match="malformed placeholder"):
        render_template("Pay $ now", {})


def test_a_value_that_would_inject_a_header_is_refused() -> None:
    subject = render_template("Invoice ${invoice}", {"invoice": "INV-7\r\nBcc: spy@evil.example"})

    with pytest.raises(SmtpcfgError, match="Subject contains the line break"):
        message(subject=subject)


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("from_name", "Acme\nBcc: spy@evil.example", "From name contains the line break"),
        ("from_name", "Acme\u2028Billing", r"From name contains the line break U\+2028"),
        (
            "from_address",
            "billing@acme.example\r\nBcc: spy@evil.example",
            "From contains the line break",
        ),
        ("to", ["jane@customer.example\nBcc: spy@evil.example"], "To contains the line break"),
        ("cc", ["a@b.example\rX: y"], "Cc contains the line break"),
        ("message_id_domain", "acme.example\n", "Message-ID domain contains the line break"),
        (
            "attachments",
            [Attachment("a.pdf\r\nBcc: spy@evil.example", "application/pdf", b"x")],
            "attachment filename contains the line break",
        ),
    ],
)
def test_cr_or_lf_in_any_header_value_is_refused(field: str, value: Any, complaint: str) -> None:
    with pytest.raises(SmtpcfgError, match=complaint):
        message(**{field: value})


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("to", [], "at least one To address"),
        ("to", ["jane"], r"To: 'jane' is not an email address"),
        ("to", ["jane@"], r"To: 'jane@' is not an email address"),
        ("cc", ["a@b@c.example"], r"Cc: 'a@b@c.example' is not an email address"),
        ("from_address", "Acme <billing@acme.example>", "From: .* is not an email address"),
        ("to", ["jörg@customer.example"], "not ASCII"),
        ("attachments", [Attachment("a.pdf", "pdf", b"x")], "'pdf' is not type/subtype"),
    ],
)
def test_invalid_input_is_refused_clearly(field: str, value: Any, complaint: str) -> None:
    with pytest.raises(SmtpcfgError, match=complaint):
        message(**{field: value})
