"""A long-running runner outlives a PostgreSQL restart: a private cluster of the test's
own is stopped and started again under it (the shared server is never restarted)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.delivery.conftest import Delivery
from tests.delivery.reconnect import runner_outlives
from tests.support.private_postgres import PrivatePostgres
from tests.support.smtp import SmtpSink
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
    """This module's store: the private cluster (overrides the suite's two backends)."""
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
