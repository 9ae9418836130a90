"""A billing system's delivery side, set up for end-to-end tests through the real CLI.

`delivery` applies manifests whose SmtpSettings point at a real SMTP server, with the
password in the session's OpenBao, and runs `outbox`, `deliver` and `test-email` in
subprocesses. The manifests are for `smtp_server` unless the test says otherwise with
`@manifests(...)`; `blank_delivery` applies nothing, for tests that apply their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.support.cli import Cli, Result
from tests.support.manifests import settings, template, user, vault_password, write_manifests
from tests.support.openbao import OpenBao
from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME

NOTIFY_ADDRESS = "billing-ops@acme.example"
SETTINGS_FROM = {"name": "Acme Billing", "address": "billing@acme.example"}
TEMPLATE_FROM = {"name": "Acme Invoices", "address": "invoices@acme.example"}
INVOICE_SUBJECT = "Invoice ${invoice} for account ${account}"
INVOICE_BODY = "Hello ${name},\n\nplease find invoice ${invoice} attached.\n"
#: Settings for tests/delivery/fault_servers.py, which speak plaintext and want no login.
NO_LOGIN = {"startTlsOnly": False, "username": None, "password": None}


class Listening(Protocol):
    """A test server: an SmtpSink, or one of tests/delivery/fault_servers.py."""

    port: int


class Delivery:
    """One test's store, Vault secret and manifests, and the commands run against them."""

    def __init__(self, cli: Cli, openbao: OpenBao, ca_file: str, workdir: Path) -> None:
        self.cli = cli
        self.openbao = openbao
        self.ca_file = ca_file
        self.workdir = workdir
        self.vault_path = openbao.fresh_path()
        self.vault_env = {k: v for k, v in openbao.env().items() if k.startswith("VAULT_")}
        self.set_password(SERVER_PASSWORD)

    def set_password(self, value: str) -> None:
        self.openbao.write(self.vault_path, {"password": value})

    def documents(
        self,
        server: Listening,
        *,
        settings_spec: dict[str, Any] | None = None,
        template_spec: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """A Notify User, SmtpSettings `primary` for `server`, and EmailTemplate `invoice`.

        The specs given override the defaults field by field; a None value removes one.
        """
        settings_fields = {
            "host": "127.0.0.1",
            "port": server.port,
            "startTlsOnly": True,
            "from": SETTINGS_FROM,
            "username": SERVER_USERNAME,
            "password": vault_password(f"secret/{self.vault_path}"),
            "notifyUser": "billing-ops",
            **(settings_spec or {}),
        }
        template_fields = {
            "from": TEMPLATE_FROM,
            "subject": INVOICE_SUBJECT,
            "body": INVOICE_BODY,
            **(template_spec or {}),
        }
        return [
            user("billing-ops", NOTIFY_ADDRESS, displayName="Billing Ops"),
            user("jane", "jane@customer.example"),
            settings("primary", **_present(settings_fields)),
            template("invoice", "primary", **_present(template_fields)),
        ]

    def apply(self, server: Listening, **changes: dict[str, Any] | None) -> None:
        path = write_manifests(
            self.workdir / "manifests" / "smtp.yaml", self.documents(server, **changes)
        )
        result = self.cli("apply", "-f", path, "--auto-approve", env=self.vault_env)
        assert result.code == 0, result.output

    def run(self, *args: str | Path) -> Result:
        return self.cli(*args, env=self.vault_env)

    def add(self, *args: str | Path) -> int:
        """`outbox add ARGS`; the new job's id."""
        result = self.run("outbox", "add", *args)
        assert result.code == 0, result.output
        return int(result.stdout)

    def add_invoice(self, number: str = "INV-7", *extra: str | Path) -> int:
        return self.add(
            "--purpose",
            "invoice",
            "--template",
            "invoice",
            "--to",
            "jane@customer.example",
            "--account",
            "A-1001",
            "--invoice",
            number,
            "--var",
            "name=Jane",
            *extra,
        )

    def deliver_args(self, *extra: str) -> list[str]:
        return [
            "deliver",
            "--ca-file",
            self.ca_file,
            "--timeout",
            "10",
            "--retry-base-delay",
            "0",
            *extra,
        ]

    def deliver_once(self, *extra: str) -> Result:
        return self.run(*self.deliver_args("--once", *extra))

    def show(self, job_id: int) -> dict[str, Any]:
        result = self.run("outbox", "show", str(job_id), "-o", "json")
        assert result.code == 0, result.output
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def jobs(self, *args: str) -> list[dict[str, Any]]:
        result = self.run("outbox", "list", "-o", "json", *args)
        assert result.code == 0, result.output
        documents: list[dict[str, Any]] = json.loads(result.stdout)
        return documents

    def start_runner(self, *extra: str, store: str | None = None) -> subprocess.Popen[str]:
        """`deliver` (no --once) in the background, on `store` if given; stdout and stderr
        go to files."""
        log = (self.workdir / "runner.log").open("w")
        return subprocess.Popen(
            [sys.executable, "-m", "reconciler", *self.deliver_args(*extra)],
            cwd=self.cli.cwd,
            env={**self.cli.env, **self.vault_env, **({"SMTPCFG_STORE": store} if store else {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @property
    def runner_log(self) -> str:
        return (self.workdir / "runner.log").read_text()


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Poll until `condition()` is true; fail naming `what` if it never becomes so."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def manifests(server: str = "smtp_server", **changes: dict[str, Any]) -> pytest.MarkDecorator:
    """Have `delivery` apply its manifests for the server fixture named `server`, with
    `changes` (see `Delivery.documents`), instead of the defaults for `smtp_server`."""
    return pytest.mark.parametrize(
        "delivery", [{"server": server, **changes}], indirect=True, ids=["manifests"]
    )


@pytest.fixture
def blank_delivery(cli: Cli, openbao: OpenBao, smtp_ca_file: str, tmp_path: Path) -> Delivery:
    """Nothing applied yet: for tests that apply manifests of their own."""
    return Delivery(cli, openbao, smtp_ca_file, tmp_path)


@pytest.fixture
def delivery(blank_delivery: Delivery, request: pytest.FixtureRequest) -> Delivery:
    """Manifests applied to this test's store: the defaults for `smtp_server`, or what
    the test's `@manifests(...)` says."""
    changes = dict(getattr(request, "param", {}))
    server = request.getfixturevalue(changes.pop("server", "smtp_server"))
    blank_delivery.apply(server, **changes)
    return blank_delivery


@pytest.fixture
def runners() -> Iterator[list[subprocess.Popen[str]]]:
    """Background runners a test starts; killed at teardown if still alive."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
