"""`deliver --metrics-addr`: /metrics scraped during a real run and checked against what
the SMTP server received; /healthz and /readyz flipping as the loop, the store and Vault
stop answering; a taken address refused at once."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.delivery.conftest import NOTIFY_ADDRESS, Delivery, manifests, wait_for
from tests.delivery.status_probe import get, probe, sample, scrape
from tests.support.cli import Cli
from tests.support.openbao import OpenBao, start_openbao
from tests.support.smtp import SmtpSink, free_port


@pytest.fixture(autouse=True)
def stopped_gently(runners: list[subprocess.Popen[str]]) -> Iterator[None]:
    """Stop this module's runners with SIGTERM, as a supervisor does (and so that their
    coverage is written), before the `runners` fixture kills what is left."""
    yield
    for runner in runners:
        if runner.poll() is None:
            runner.terminate()
            runner.wait(timeout=30)


@pytest.fixture
def sqlite_delivery(
    openbao: OpenBao, smtp_ca_file: str, sqlite_cli: Cli, smtp_server: SmtpSink
) -> Delivery:
    """`delivery` on a SQLite store only: for faults of the file (a lock, a rename)."""
    delivery = Delivery(sqlite_cli, openbao, smtp_ca_file, sqlite_cli.cwd)
    delivery.apply(smtp_server)
    return delivery


def start(delivery: Delivery, runners: list[subprocess.Popen[str]], *extra: str) -> int:
    """A runner serving its status on a free port; the port, once it answers."""
    port = free_port()
    runner = delivery.start_runner(
        "--metrics-addr",
        f"127.0.0.1:{port}",
        "--poll-interval",
        "0.1",
        "--readiness-interval",
        "0.2",
        *extra,
    )
    runners.append(runner)
    wait_for(lambda: get(port, "/healthz")[0] == 200 or runner.poll() is not None, "the listener")
    assert runner.poll() is None, delivery.runner_log
    return port


@manifests(settings_spec={"maxAttachmentSize": "10KiB"})
def test_metrics_count_what_the_server_received(
    delivery: Delivery,
    smtp_server: SmtpSink,
    runners: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    started = time.time()
    smtp_server.hold_after(0)  # the first message waits in DATA: the queue builds up
    port = start(delivery, runners)
    invoices = [delivery.add_invoice(f"INV-{n}") for n in range(1, 5)]
    wait_for(lambda: smtp_server.held == 1, "the first message to be in flight")
    wait_for(
        lambda: sample(scrape(port), "smtpcfg_outbox_due_jobs") == 4,
        "the queue depth to show the four invoices (one in flight)",
    )
    during = scrape(port)
    assert sample(during, "smtpcfg_outbox_jobs", status="queued") == 4
    assert sample(during, "smtpcfg_outbox_oldest_due_age_seconds") > 0

    smtp_server.fail_next("550 5.1.1 No such user here", at="rcpt")
    refused = delivery.add_invoice("INV-5")
    big = tmp_path / "big.pdf"
    big.write_bytes(b"x" * 20000)
    oversized = delivery.add_invoice("INV-6", "--attach", big)
    smtp_server.release()
    jobs = [*invoices, refused, oversized]
    wait_for(
        lambda: (
            all(delivery.show(j)["status"] not in ("queued", "retrying") for j in jobs)
            and len(smtp_server.messages) == 5
        ),
        "every job and the alert to be done",
    )
    wait_for(lambda: sample(scrape(port), "smtpcfg_outbox_jobs", status="queued") == 0, "a turn")
    samples = scrape(port)

    received = smtp_server.messages
    assert len(received) == 5  # four invoices and the Max Size alert
    assert sum(1 for m in received if m["To"].addresses[0].addr_spec == NOTIFY_ADDRESS) == 1
    sent = sum(
        value
        for (name, labels), value in samples.items()
        if name == "smtpcfg_delivery_attempts_total" and ("status", "sent") in labels
    )
    assert sent == len(received)
    attempts = "smtpcfg_delivery_attempts_total"
    assert sample(samples, attempts, purpose="invoice", status="sent", outcome="sent") == 4
    assert sample(samples, attempts, purpose="notification", status="sent", outcome="sent") == 1
    assert (
        sample(samples, attempts, purpose="invoice", status="failed", outcome="recipient-refused")
        == 1
    )
    assert (
        sample(
            samples, attempts, purpose="invoice", status="size-exceeded", outcome="size-exceeded"
        )
        == 1
    )
    assert sample(samples, "smtpcfg_size_exceeded_total", limit="max-size") == 1
    assert sample(samples, "smtpcfg_size_exceeded_total", limit="server-size") == 0
    assert sample(samples, "smtpcfg_outbox_jobs", status="sent") == 5
    assert sample(samples, "smtpcfg_outbox_jobs", status="failed") == 1
    assert sample(samples, "smtpcfg_outbox_jobs", status="size-exceeded") == 1
    assert sample(samples, "smtpcfg_outbox_due_jobs") == 0
    assert sample(samples, "smtpcfg_delivery_send_duration_seconds_count", settings="primary") == 7
    assert sample(samples, "smtpcfg_last_success_timestamp_seconds", settings="primary") > started
    assert sample(samples, "smtpcfg_vault_errors_total", reason="unreachable") == 0
    # No label carries an address, a subject or a secret.
    values = {value for _, labels in samples for _, value in labels}
    assert not [v for v in values if "@" in v or "INV-" in v or "Invoice" in v], values
    assert "correct horse" not in get(port, "/metrics")[1]


def test_a_vault_error_is_counted_by_reason(
    delivery: Delivery, runners: list[subprocess.Popen[str]]
) -> None:
    delivery.openbao.admin.secrets.kv.v2.delete_metadata_and_all_versions(delivery.vault_path)
    job = delivery.add_invoice()
    port = start(delivery, runners)
    wait_for(lambda: delivery.show(job)["attempts"] >= 1, "the attempt")
    wait_for(
        lambda: sample(scrape(port), "smtpcfg_vault_errors_total", reason="no-such-path") == 1,
        "the Vault error to be counted",
    )


def test_readyz_follows_the_store(
    sqlite_delivery: Delivery, sqlite_cli: Cli, runners: list[subprocess.Popen[str]]
) -> None:
    delivery = sqlite_delivery
    port = start(delivery, runners)
    wait_for(lambda: probe(port, "/readyz")[0] == 200, "ready")
    path = Path(sqlite_cli.env["SMTPCFG_STORE"].removeprefix("sqlite:///"))

    path.rename(path.with_suffix(".away"))
    wait_for(lambda: probe(port, "/readyz")[0] == 503, "not ready once the store is gone")
    report = probe(port, "/readyz")[1]
    assert report["status"] == "not ready"
    assert (
        "does not exist" in report["store"]["error"] or "smtpcfg init" in report["store"]["error"]
    )
    assert probe(port, "/healthz")[0] == 200  # the loop still turns

    path.with_suffix(".away").rename(path)
    wait_for(lambda: probe(port, "/readyz")[0] == 200, "ready again")


def test_readyz_follows_vault(
    cli: Cli,
    smtp_ca_file: str,
    smtp_server: SmtpSink,
    runners: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    private = start_openbao(tmp_path / "bao")
    try:
        delivery = Delivery(cli, private, smtp_ca_file, tmp_path)
        delivery.apply(smtp_server)
        port = start(delivery, runners)
        wait_for(lambda: probe(port, "/readyz")[0] == 200, "ready")
        assert probe(port, "/readyz")[1]["vault"]["ok"] is True

        private.stop()
        wait_for(lambda: probe(port, "/readyz")[0] == 503, "not ready once Vault is gone")
        report = probe(port, "/readyz")[1]
        assert report["store"]["ok"] is True
        assert private.addr in report["vault"]["error"]
        assert probe(port, "/healthz")[0] == 200
    finally:
        private.stop()


def test_healthz_reports_a_loop_stuck_longer_than_a_lease(
    sqlite_delivery: Delivery, sqlite_cli: Cli, runners: list[subprocess.Popen[str]]
) -> None:
    delivery = sqlite_delivery
    port = start(delivery, runners, "--lease", "1")
    assert probe(port, "/healthz")[1]["stuckAfterSeconds"] == 1.1
    path = sqlite_cli.env["SMTPCFG_STORE"].removeprefix("sqlite:///")

    # Another writer holds the store's write lock: the runner's next claim waits for it.
    with sqlite3.connect(path, isolation_level=None) as writer:
        writer.execute("BEGIN IMMEDIATE")
        wait_for(lambda: probe(port, "/healthz")[0] == 503, "the loop to be reported stuck")
        assert probe(port, "/healthz")[1]["status"] == "stuck"
        writer.execute("ROLLBACK")
    wait_for(lambda: probe(port, "/healthz")[0] == 200, "the loop to turn again")


def test_a_taken_address_fails_at_once(delivery: Delivery) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = delivery.cli.subprocess(
            *delivery.deliver_args("--metrics-addr", f"127.0.0.1:{port}"), timeout=30
        )
    assert time.monotonic() - started < 10
    assert result.code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: --metrics-addr 127.0.0.1:{port}: cannot listen there: Address already in use"
    ]


def test_unknown_paths_are_404(delivery: Delivery, runners: list[subprocess.Popen[str]]) -> None:
    port = start(delivery, runners)
    assert get(port, "/")[0] == 404


def test_the_listener_takes_an_ipv6_address(
    delivery: Delivery, runners: list[subprocess.Popen[str]]
) -> None:
    with socket.socket(socket.AF_INET6) as probe_socket:
        probe_socket.bind(("::1", 0))
        port = probe_socket.getsockname()[1]
    runners.append(delivery.start_runner("--metrics-addr", f"[::1]:{port}"))
    wait_for(lambda: "serving /metrics" in delivery.runner_log, "the listener")
    assert f"http://[::1]:{port}" in delivery.runner_log
    with socket.create_connection(("::1", port), timeout=5) as connection:
        connection.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        assert connection.recv(64).startswith(b"HTTP/1.0 200")
