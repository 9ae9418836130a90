"""Many delivery runners on one PostgreSQL store: every job delivered, at least once,
duplicates only inside the documented window (the message in flight when a runner dies)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.delivery.enqueue import enqueue
from reconciler.store.jobs import JobFilter
from reconciler.store.open import open_store
from tests.support.cli import Cli, clean_environment
from tests.support.manifests import settings, write_manifests
from tests.support.smtp import SmtpSink
from tests.support.stores import postgres_schema

JOBS = 1_000
RUNNERS = 4
LEASE_SECONDS = 5


@pytest.fixture
def shared(tmp_path: Path, plain_smtp_server: SmtpSink) -> Iterator[tuple[Cli, str]]:
    with postgres_schema() as url:
        home = tmp_path / "home"
        home.mkdir()
        env = clean_environment(home)
        env["SMTPCFG_STORE"] = url
        cli = Cli(tmp_path, env)
        write_manifests(
            tmp_path / "m.yaml", [settings("relay", host="127.0.0.1", port=plain_smtp_server.port)]
        )
        assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
        store = open_store(url, create=True)
        try:
            for number in range(JOBS):
                enqueue(
                    store,
                    purpose="notification",
                    settings="relay",
                    to=[f"user{number}@example.com"],
                    subject=f"job-{number}",
                    body=".",
                )
        finally:
            store.close()
        yield cli, url


def _runners(cli: Cli) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "deliver",
                "--poll-interval",
                "0.2",
                "--lease",
                str(LEASE_SECONDS),
                "--batch-size",
                "10",
                "--runner-id",
                f"r{n}",
            ],
            cwd=cli.cwd,
            env=cli.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(RUNNERS)
    ]


def _received(sink: SmtpSink) -> Counter[str]:
    return Counter(str(message["Subject"]) for message in sink.messages)


def _wait_until(condition: Callable[[], bool], limit: float) -> bool:
    """Poll, bounded: a test that would hang fails instead."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(timeout=60)


def _sent(url: str) -> int:
    store = open_store(url, create=False)
    try:
        return len(store.jobs(JobFilter(statuses=("sent",))))
    finally:
        store.close()


def test_four_runners_deliver_every_job_exactly_once(
    shared: tuple[Cli, str], plain_smtp_server: SmtpSink
) -> None:
    cli, url = shared
    processes = _runners(cli)
    try:
        assert _wait_until(lambda: len(_received(plain_smtp_server)) == JOBS, 180)
    finally:
        _stop(processes)
    received = _received(plain_smtp_server)
    assert set(received) == {f"job-{n}" for n in range(JOBS)}
    assert max(received.values()) == 1  # no runner crashed, so no job may arrive twice
    assert _sent(url) == JOBS
    assert len({session.peer for session in plain_smtp_server.sessions}) >= 2


def test_a_killed_runner_loses_nothing(
    shared: tuple[Cli, str], plain_smtp_server: SmtpSink
) -> None:
    cli, url = shared
    processes = _runners(cli)
    try:
        assert _wait_until(lambda: len(plain_smtp_server.messages) >= JOBS // 5, 120)
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(timeout=30)
        # Its claims expire after the lease; the others take them over.
        assert _wait_until(lambda: len(_received(plain_smtp_server)) == JOBS, 180)
        assert _wait_until(lambda: _sent(url) == JOBS, 60)
    finally:
        _stop(processes)
    received = _received(plain_smtp_server)
    assert set(received) == {f"job-{n}" for n in range(JOBS)}
    # The documented window: only the message the killed runner had in flight (sent, but
    # its result not yet recorded) can be delivered twice.
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates <= 1, received.most_common(3)
