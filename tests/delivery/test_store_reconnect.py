"""A long-running runner outlives a PostgreSQL restart: a private cluster of the test's
own is stopped and started again under it (the shared server is never restarted)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.delivery.conftest import Delivery, wait_for
from tests.delivery.reconnect import runner_outlives
from tests.delivery.status_probe import probe
from tests.support.private_postgres import PrivatePostgres
from tests.support.smtp import SmtpSink, free_port
from tests.support.stores import initialised


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def store_url(private_postgres: PrivatePostgres) -> str:
    """This module's store: the private cluster (overrides the suite's two backends),
    initialised as `smtpcfg init` does."""
    return initialised(private_postgres.url)


def test_runner_outlives_a_postgresql_restart(
    delivery: Delivery,
    smtp_server: SmtpSink,
    runners: list[subprocess.Popen[str]],
    private_postgres: PrivatePostgres,
) -> None:
    def restart() -> None:
        private_postgres.stop()
        smtp_server.release()  # the runner records this message while the server is down
        time.sleep(2)  # long enough for several tries
        private_postgres.start()

    runner_outlives(delivery, smtp_server, runners, restart)
    assert "try 2" in delivery.runner_log


def test_readyz_says_not_ready_while_postgresql_is_down_and_healthz_stays_ok(
    delivery: Delivery,
    runners: list[subprocess.Popen[str]],
    private_postgres: PrivatePostgres,
) -> None:
    port = free_port()
    runners.append(
        delivery.start_runner(
            *("--metrics-addr", f"127.0.0.1:{port}", "--poll-interval", "0.1"),
            *("--readiness-interval", "0.2", "--lease", "2"),
        )
    )
    wait_for(lambda: probe(port, "/readyz")[0] == 200, "ready")

    private_postgres.stop()
    try:
        wait_for(lambda: probe(port, "/readyz")[0] == 503, "not ready while the store is down")
        assert probe(port, "/readyz")[1]["store"]["error"]
        # Longer than the stuck bound (lease + poll): the reconnecting loop is not stuck.
        time.sleep(3)
        assert probe(port, "/healthz")[0] == 200
    finally:
        private_postgres.start()
    wait_for(lambda: probe(port, "/readyz")[0] == 200, "ready again", timeout=60)
    job = delivery.add_invoice()
    wait_for(lambda: delivery.show(job)["status"] == "sent", "the runner to send again", 60)
    runners[-1].terminate()
    assert runners[-1].wait(timeout=30) == 0
