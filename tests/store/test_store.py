"""The store's file, schema and versions, and what `get` reads back from it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from reconciler.store.migrations import migrations
from tests.support.cli import Cli
from tests.support.manifests import settings, template, user, write_manifests
from tests.support.stores import backend, execute


@pytest.fixture
def applied(cli: Cli, tmp_path: Path) -> Cli:
    write_manifests(
        tmp_path / "m.yaml",
        [
            user("ops"),
            settings("primary", notifyUser="ops", startTlsOnly=True),
            template("invoice", "primary"),
        ],
    )
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    return cli


def test_store_is_versioned(applied: Cli, store_url: str) -> None:
    versions = [row[0] for row in execute(store_url, ["SELECT version FROM schema_migrations"])]
    [(store_id, revision)] = execute(store_url, ["SELECT store_id, revision FROM store_info"])
    assert versions == [migration.version for migration in migrations(backend(store_url))]
    assert len(store_id) == 36 and revision == 1


def test_sqlite_file_is_private(sqlite_cli: Cli, tmp_path: Path) -> None:
    assert sqlite_cli("init", "--store", f"sqlite:///{tmp_path / 'new.db'}").code == 0
    write_manifests(tmp_path / "m.yaml", [user("ops")])
    assert (
        sqlite_cli(
            "apply", "-f", "m.yaml", "--auto-approve", "--store", f"sqlite:///{tmp_path / 'new.db'}"
        ).code
        == 0
    )
    assert stat.S_IMODE((tmp_path / "new.db").stat().st_mode) == 0o600


def test_store_from_a_newer_smtpcfg_is_refused(applied: Cli, store_url: str) -> None:
    execute(store_url, ["INSERT INTO schema_migrations VALUES (999, ?)"], ["2099-01-01T00:00:00Z"])
    result = applied("get")
    assert result.code == 1
    assert "has schema version 999, newer than this smtpcfg knows" in result.stderr


def test_corrupt_sqlite_store_is_a_clear_error(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "store.db").write_bytes(b"this is not a database" * 100)
    result = sqlite_cli("get")
    assert result.code == 1
    assert result.stderr.startswith("Error: cannot open store sqlite:///")
    assert "Traceback" not in result.stderr


def test_unsupported_store_url(cli: Cli) -> None:
    result = cli("get", "--store", "mysql://user:hunter2@db/x")
    assert result.code == 1
    assert "unsupported store URL 'mysql://user:***@db/x'" in result.stderr
    assert "hunter2" not in result.stderr


def test_get_in_every_format(applied: Cli) -> None:
    table = applied("get").stdout.splitlines()
    assert table[0].split() == ["KIND", "NAME", "SCOPE", "GENERATION", "UPDATED", "SUMMARY"]
    assert any(
        line.split()[:2] == ["SmtpSettings", "primary"]
        and line.endswith("smtp.example.com:587 starttls-only")
        for line in table
    )
    one = yaml.safe_load(applied("get", "SmtpSettings", "primary", "-o", "yaml").stdout)
    assert one["metadata"]["generation"] == 1 and len(one["metadata"]["uid"]) == 36
    assert one["spec"]["notifyUser"] == "ops"
    users = json.loads(applied("get", "users", "-o", "json").stdout)["items"]
    assert [u["metadata"]["name"] for u in users] == ["ops"]
    missing = applied("get", "user", "nobody")
    assert missing.code == 1 and "User/nobody not found" in missing.stderr
    bad_kind = applied("get", "mailbox")
    assert bad_kind.code == 1 and "unknown kind 'mailbox'" in bad_kind.stderr


def test_generation_and_timestamps_move_on_update(applied: Cli, tmp_path: Path) -> None:
    first = json.loads(applied("get", "user", "ops", "-o", "json").stdout)["metadata"]
    write_manifests(
        tmp_path / "m.yaml",
        [
            user("ops", displayName="Ops"),
            settings("primary", notifyUser="ops", startTlsOnly=True),
            template("invoice", "primary"),
        ],
    )
    assert applied("apply", "-f", "m.yaml", "--auto-approve").code == 0
    second = json.loads(applied("get", "user", "ops", "-o", "json").stdout)["metadata"]
    assert second["generation"] == 2 and second["uid"] == first["uid"]
    assert second["createdAt"] == first["createdAt"] < second["updatedAt"]
