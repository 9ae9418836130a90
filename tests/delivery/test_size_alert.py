"""The Max Size alert as the Notify User receives it: text/plain and text/html, sizes in
human units beside the bytes, each attachment, who it was for, and the manual steps."""

from __future__ import annotations

import html
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

from reconciler.formats import human_size
from tests.delivery.conftest import NOTIFY_ADDRESS, Delivery, manifests
from tests.support.smtp import SIZE_LIMIT, SmtpSink


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


class _Text(HTMLParser):
    """The text a mail client shows of an HTML part (entities decoded), and its tags."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parts(alert: EmailMessage) -> tuple[str, str, _Text]:
    assert alert.get_content_type() == "multipart/alternative"
    plain, page = alert.get_body(("plain",)), alert.get_body(("html",))
    assert plain is not None
    assert page is not None
    shown = _Text()
    shown.feed(page.get_content())
    return plain.get_content(), page.get_content(), shown


def the_alert(smtp_server: SmtpSink) -> EmailMessage:
    [alert] = [m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == NOTIFY_ADDRESS]
    return alert


@manifests(settings_spec={"maxAttachmentSize": "1MiB"})
def test_the_max_size_alert_tells_a_person_what_to_send_to_whom_and_how_to_record_it(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    pdf = write(tmp_path / "INV-9.pdf", b"p" * 1_400_000)
    # A file name with markup in it: shown as text, never as HTML.
    lines = write(tmp_path / "<script>lines & more.csv", b"c" * 100_000)
    job = delivery.add_invoice(
        "INV-9", "--cc", "cfo@customer.example", "--attach", pdf, "--attach", lines
    )

    assert delivery.deliver_once().code == 0

    alert = the_alert(smtp_server)
    assert alert["Subject"] == (
        "Not delivered: invoice INV-9 of account A-1001 is too large to email "
        "(1.4 MiB, over the 1 MiB limit)"
    )
    text, page, shown = parts(alert)
    resolve = f'smtpcfg outbox resolve {job} --note "sent by hand to jane@customer.example"'
    for fact in (
        "Invoice INV-9 of account A-1001 was not emailed: it is 1.4 MiB, over the 1 MiB limit.",
        "listed as delivered on the account",
        "Account:     A-1001",
        "Invoice:     INV-9",
        "To:          jane@customer.example",
        "Cc:          cfo@customer.example",
        "  - INV-9.pdf: 1.3 MiB (1400000 bytes)",
        "  - <script>lines & more.csv: 97.7 KiB (100000 bytes)",
        "  Total: 1.4 MiB (1500000 bytes)",
        "over the 1 MiB (1048576 bytes) Max Size of SmtpSettings/primary",
        f"smtpcfg outbox show {job} --save-attachments DIR",
        "several emails each under 1 MiB",
        resolve,
    ):
        assert fact in text, fact
    # The HTML says the same, escaped: the file name's markup is text, not tags.
    assert "<script>" not in page
    assert html.escape("<script>lines & more.csv") in page
    visible = "".join(shown.text)
    for fact in ("<script>lines & more.csv: 97.7 KiB (100000 bytes)", "A-1001", resolve):
        assert fact in visible, fact
    assert {"table", "ol", "li"} <= set(shown.tags)
    assert "script" not in shown.tags


def test_the_server_size_alert_names_the_servers_limit_in_human_units(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    job = delivery.add_invoice("INV-8", "--attach", write(tmp_path / "scan.pdf", b"x" * SIZE_LIMIT))

    assert delivery.deliver_once().code == 0

    text, _, shown = parts(the_alert(smtp_server))
    limit = human_size(SIZE_LIMIT)
    assert f"over the {limit} limit of the mail server" in text
    assert f"over the SIZE of {SIZE_LIMIT} bytes ({limit})" in text
    assert f"127.0.0.1:{smtp_server.port}" in text
    assert f"  - scan.pdf: {limit} ({SIZE_LIMIT} bytes)" in text
    assert f"smtpcfg outbox resolve {job}" in "".join(shown.text)
    assert delivery.show(job)["manualDelivery"][-1].endswith(
        f'smtpcfg outbox resolve {job} --note "sent by hand to jane@customer.example"'
    )


@manifests(settings_spec={"maxAttachmentSize": "1KiB"})
def test_other_mail_over_max_size_is_named_by_its_job(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    job = delivery.add(
        *("--purpose", "notification", "--settings", "primary", "--to", "ops@acme.example"),
        *("--subject", "Report", "--body", "attached", "--attach"),
        write(tmp_path / "report.csv", b"r" * 2048),
    )

    assert delivery.deliver_once().code == 0

    alert = the_alert(smtp_server)
    assert alert["Subject"] == (
        f"Not delivered: outbox job {job} is too large to email (2 KiB, over the 1 KiB limit)"
    )
    text, _, _ = parts(alert)
    assert f"Outbox job {job} was not emailed" in text
    assert "It must be sent another way." in text
    assert "Account:     -" in text
