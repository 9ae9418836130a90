"""The wire form of a message: made once, byte for byte what the email library makes,
and sent through a real server with dots quoted."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.delivery.message import Attachment, build_message
from reconciler.delivery.wire import wire_bytes
from tests.delivery.conftest import Delivery, manifests
from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, SmtpSink


@pytest.mark.parametrize("size", [0, 1, 2, 56, 57, 58, 76, 1 << 20, 3 * (1 << 20) + 5])
def test_wire_bytes_are_what_the_email_library_makes(size: int) -> None:
    data = random.Random(size).randbytes(size)  # noqa: S311 - not a secret
    message = build_message(
        from_name="Acme",
        from_address="billing@acme.example",
        to=["jane@customer.example"],
        cc=[],
        subject="Invoice",
        body=".a line with a leading dot\nhello\n",
        attachments=[
            Attachment("a.pdf", "application/pdf", data),
            Attachment("b.csv", "text/csv", b".1;2\n3;4\n"),
        ],
        message_id_domain="acme.example",
    )

    wire = wire_bytes(message)

    assert wire == message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    assert [part.get_payload(decode=True) for part in message.iter_attachments()] == [
        data,
        b".1;2\n3;4\n",
    ]


@pytest.fixture
def roomy_server(smtp_server_factory: Callable[..., SmtpSink]) -> SmtpSink:
    """The usual server, without a SIZE limit."""
    return smtp_server_factory(
        tls=True, username=SERVER_USERNAME, password=SERVER_PASSWORD, auth_required=True
    )


@manifests("roomy_server")
def test_a_large_message_arrives_whole(
    delivery: Delivery, roomy_server: SmtpSink, tmp_path: Path
) -> None:
    """Sent in slices: lines starting with a dot, in the body and across slice ends."""
    data = b".dot line\r\n" * 300_000 + random.Random(1).randbytes(2_000_000)  # noqa: S311
    pdf = tmp_path / "INV-1.pdf"
    pdf.write_bytes(data)
    body = ".Hello\n..two dots\n."
    delivery.add(
        "--purpose",
        "invoice",
        "--template",
        "invoice",
        "--to",
        "jane@customer.example",
        "--account",
        "A-1",
        "--invoice",
        "INV-1",
        "--var",
        "name=Jane",
        "--body",
        body,
        "--attach",
        pdf,
    )

    assert delivery.deliver_once().code == 0

    [received] = roomy_server.messages
    [attachment] = received.iter_attachments()
    assert attachment.get_payload(decode=True) == data
    assert received.get_body().get_content().replace("\r\n", "\n") == body + "\n"
