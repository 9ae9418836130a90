"""`outbox prune` and `deliver --prune-after`: attachment bytes of finished jobs go, the
audit (job, recipients, attachment names, sizes and SHA-256) stays."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.delivery.conftest import Delivery
from tests.delivery.test_outbox_cli import one_error_line
from tests.support.smtp import SmtpSink
from tests.support.stores import execute

LONG_AGO = "2020-01-01T00:00:00.000000Z"


def attach(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes((name.encode() * size)[:size])
    return path


def stored_bytes(store_url: str, job: int) -> list[int]:
    return [
        row[0]
        for row in execute(
            store_url,
            ["SELECT length(data) FROM outbox_attachments WHERE job_id = ? ORDER BY position"],
            [job],
        )
    ]


def age(store_url: str, *jobs: int) -> None:
    for job in jobs:
        execute(store_url, ["UPDATE outbox_jobs SET finished_at = ? WHERE id = ?"], [LONG_AGO, job])


def test_prune_keeps_the_audit_and_drops_the_bytes(
    delivery: Delivery, smtp_server: SmtpSink, store_url: str, tmp_path: Path
) -> None:
    pdf = attach(tmp_path, "INV-1.pdf", 3000)
    csv = attach(tmp_path, "INV-1.csv", 1000)
    smtp_server.fail_next("550 5.1.1 No such user here", at="rcpt")  # the first job's
    failed = delivery.add_invoice("INV-2", "--attach", attach(tmp_path, "INV-2.pdf", 500))
    sent = delivery.add_invoice("INV-1", "--attach", pdf, "--attach", csv)
    # Queued before checksums were kept: pruning computes its checksum first.
    execute(store_url, ["UPDATE outbox_attachments SET sha256 = NULL WHERE job_id = ?"], [failed])
    delivery.deliver_once()
    queued = delivery.add_invoice("INV-3", "--attach", attach(tmp_path, "INV-3.pdf", 700))
    assert [delivery.show(j)["status"] for j in (sent, failed)] == ["sent", "failed"]

    recent = delivery.run("outbox", "prune", "--older-than", "30d")
    assert (recent.code, recent.stdout) == (
        0,
        "Pruned 0 attachments (0 bytes) of 0 finished jobs\n",
    )
    age(store_url, sent, failed, queued)

    dry = delivery.run("outbox", "prune", "--older-than", "30d", "--dry-run")
    assert dry.stdout == "Would prune 3 attachments (4500 bytes) of 2 finished jobs\n"
    assert stored_bytes(store_url, sent) == [3000, 1000]
    assert delivery.show(sent)["attachmentsPrunedAt"] is None

    done = delivery.run("outbox", "prune", "--older-than", "30d")
    assert (done.code, done.stdout) == (0, "Pruned 3 attachments (4500 bytes) of 2 finished jobs\n")

    shown = delivery.show(sent)
    assert shown["status"] == "sent"
    assert shown["to"] == ["jane@customer.example"]
    assert shown["attachmentsPrunedAt"]
    assert shown["attachments"] == [
        {
            "filename": "INV-1.pdf",
            "size": 3000,
            "sha256": hashlib.sha256(pdf.read_bytes()).hexdigest(),
        },
        {
            "filename": "INV-1.csv",
            "size": 1000,
            "sha256": hashlib.sha256(csv.read_bytes()).hexdigest(),
        },
    ]
    assert (
        delivery.show(failed)["attachments"][0]["sha256"]
        == hashlib.sha256((tmp_path / "INV-2.pdf").read_bytes()).hexdigest()
    )
    assert stored_bytes(store_url, sent) == [0, 0]
    assert stored_bytes(store_url, failed) == [0]
    assert stored_bytes(store_url, queued) == [700]  # not finished: kept
    assert delivery.show(queued)["attachmentsPrunedAt"] is None

    text = delivery.run("outbox", "show", str(sent))
    assert "pruned at" in text.stdout
    refused = delivery.run("outbox", "show", str(sent), "--save-attachments", tmp_path / "out")
    assert refused.code == 1
    assert f"the attachments of outbox job {sent} were pruned at" in one_error_line(refused.stderr)
    again = delivery.run("outbox", "prune", "--older-than", "30d")
    assert again.stdout.startswith("Pruned 0 attachments")


def test_deliver_prunes_when_asked(delivery: Delivery, store_url: str, tmp_path: Path) -> None:
    old = delivery.add_invoice("INV-1", "--attach", attach(tmp_path, "INV-1.pdf", 900))
    delivery.deliver_once()
    age(store_url, old)
    new = delivery.add_invoice("INV-2", "--attach", attach(tmp_path, "INV-2.pdf", 900))

    result = delivery.deliver_once("--prune-after", "12h", "--log-format", "json")

    assert result.code == 0, result.output
    assert '"event": "prune"' in result.stderr
    assert "Pruned 1 attachments (900 bytes) of 1 finished jobs" in result.stderr
    assert delivery.show(old)["attachmentsPrunedAt"]
    assert delivery.show(new)["status"] == "sent"
    assert delivery.show(new)["attachmentsPrunedAt"] is None  # sent just now


def test_prune_refuses_a_duration_it_cannot_read(delivery: Delivery) -> None:
    result = delivery.run("outbox", "prune", "--older-than", "a month")

    assert result.code == 1
    assert "'a month' is not a duration" in result.stderr.splitlines()[-1]
