"""SmtpSettings manifests for real servers, with the password in the session's OpenBao,
and the CLI to probe them with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler import schemas
from tests.support.cli import Cli, Result
from tests.support.manifests import settings, vault_password, write_manifests
from tests.support.openbao import OpenBao
from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, SmtpSink


class Probing:
    def __init__(self, cli: Cli, openbao: OpenBao, ca_file: str, workdir: Path) -> None:
        self.cli = cli
        self.openbao = openbao
        self.ca_file = ca_file
        self.manifests = workdir / "m.yaml"
        self.vault_path = openbao.fresh_path()
        self.env = {k: v for k, v in openbao.env().items() if k.startswith("VAULT_")}
        self.set_password(SERVER_PASSWORD)

    def set_password(self, value: str) -> int | None:
        return self.openbao.write(self.vault_path, {"password": value})

    def settings(self, name: str, server: SmtpSink | None, **spec: Any) -> dict[str, Any]:
        """SmtpSettings `name` for `server`, logging in with the password in Vault."""
        fields: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": server.port if server is not None else 25,
            "startTlsOnly": True,
            "username": SERVER_USERNAME,
            "password": vault_password(f"secret/{self.vault_path}"),
            **spec,
        }
        return settings(name, **{k: v for k, v in fields.items() if v is not None})

    def write(self, *documents: dict[str, Any]) -> Path:
        return write_manifests(self.manifests, list(documents))

    def run(self, *args: str | Path) -> Result:
        return self.cli(*args, env=self.env)

    def probe(self, *args: str | Path) -> Result:
        return self.run("probe", "--ca-file", self.ca_file, "--timeout", "5", *args)

    def plan(self, *args: str | Path) -> Result:
        return self.run(
            "plan", "-f", self.manifests, "--probe-ca-file", self.ca_file,
            "--probe-timeout", "5", *args,
        )  # fmt: skip


def probe_json(result: Result, schema: str = "probe.schema.json") -> dict[str, Any]:
    """The JSON a probe printed, checked against its published schema."""
    document: dict[str, Any] = json.loads(result.stdout)
    assert list(schemas.errors(schema, document)) == []
    return document


def findings(report: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Settings name -> its findings as (level, step)."""
    return {
        entry["name"]: [(f["level"], f["step"]) for f in entry["findings"]]
        for entry in report["settings"]
    }


def assert_no_mail_and_no_plaintext_auth(*servers: SmtpSink) -> None:
    for server in servers:
        for session in server.sessions:
            assert "MAIL" not in session.verbs
            assert all(c.tls for c in session.commands if c.verb == "AUTH"), session.commands
        assert server.messages == []


@pytest.fixture
def probing(sqlite_cli: Cli, openbao: OpenBao, smtp_ca_file: str, tmp_path: Path) -> Probing:
    """For what does not depend on the store's backend (SQLite)."""
    return Probing(sqlite_cli, openbao, smtp_ca_file, tmp_path)


@pytest.fixture
def stored_probing(cli: Cli, openbao: OpenBao, smtp_ca_file: str, tmp_path: Path) -> Probing:
    """On both backends, for settings read from the store."""
    return Probing(cli, openbao, smtp_ca_file, tmp_path)
