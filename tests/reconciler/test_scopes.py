"""Several repositories sharing one store, each owning its scope."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml

from reconciler.store.migrations import migrations
from tests.support.cli import Cli
from tests.support.manifests import settings, user, write_manifests


def _apply(cli: Cli, tmp_path: Path, scope: str, documents: list[dict], *extra: str) -> str:
    write_manifests(tmp_path / f"{scope}.yaml", documents)
    result = cli("apply", "-f", f"{scope}.yaml", "--auto-approve", "--scope", scope, *extra)
    assert result.code == 0, result.output
    return result.stdout


def test_each_scope_creates_updates_and_deletes_only_its_own(cli: Cli, tmp_path: Path) -> None:
    _apply(cli, tmp_path, "billing", [user("alice"), user("bob")])
    _apply(cli, tmp_path, "support", [user("carol")])
    # billing drops bob; carol, owned by support, is not touched.
    planned = cli("plan", "-f", "billing.yaml", "--scope", "billing", "--format", "json")
    assert json.loads(planned.stdout)["summary"]["delete"] == 0
    _apply(cli, tmp_path, "billing", [user("alice")])
    items = json.loads(cli("get", "-o", "json").stdout)["items"]
    assert {(i["metadata"]["name"], i["metadata"]["scope"]) for i in items} == {
        ("alice", "billing"), ("carol", "support")}
    assert json.loads(cli("plan", "-f", "support.yaml", "--scope", "support", "--format",
                          "json").stdout)["summary"] == {
        "create": 0, "update": 0, "replace": 0, "delete": 0}


def test_a_name_owned_by_another_scope_needs_take_over(cli: Cli, tmp_path: Path) -> None:
    _apply(cli, tmp_path, "billing", [user("alice")])
    write_manifests(tmp_path / "support.yaml", [user("alice")])
    refused = cli("plan", "-f", "support.yaml", "--scope", "support")
    assert refused.code == 1
    assert "User/alice is owned by scope 'billing'" in refused.stderr
    assert "--take-over" in refused.stderr
    planned = cli("plan", "-f", "support.yaml", "--scope", "support", "--take-over")
    assert '~ scope: "billing" → "support"' in planned.stdout
    assert cli("apply", "-f", "support.yaml", "--scope", "support", "--take-over",
               "--auto-approve").code == 0
    owner = json.loads(cli("get", "user", "alice", "-o", "json").stdout)["metadata"]["scope"]
    assert owner == "support"


def test_env_variable_sets_the_scope(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [user("alice")])
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env={"SMTPCFG_SCOPE": "team-a"}).code == 0
    assert json.loads(cli("history", "-o", "json").stdout)[0]["scope"] == "team-a"
    bad = cli("plan", "-f", "m.yaml", "--scope", "Not A Scope")
    assert bad.code == 1 and "not a valid scope name" in bad.stderr


def test_reads_filter_by_scope_and_export_round_trips(cli: Cli, tmp_path: Path) -> None:
    _apply(cli, tmp_path, "billing", [user("alice"), settings("primary", notifyUser="alice")])
    _apply(cli, tmp_path, "support", [user("carol")])
    names = [i["metadata"]["name"]
             for i in json.loads(cli("get", "--scope", "support", "-o", "json").stdout)["items"]]
    assert names == ["carol"]
    assert [e["scope"] for e in json.loads(
        cli("history", "--scope", "billing", "-o", "json").stdout)] == ["billing"]
    exported = cli("export", "--scope", "billing").stdout
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(exported)] == ["primary", "alice"]
    replan = cli("plan", "-f", "-", "--scope", "billing", "--detailed-exitcode", input=exported)
    assert replan.code == 0, replan.output


def test_deleting_what_another_scope_still_names_is_refused(cli: Cli, tmp_path: Path) -> None:
    _apply(cli, tmp_path, "billing", [user("ops"), settings("primary", notifyUser="ops")])
    _apply(cli, tmp_path, "identity", [user("ops")], "--take-over")
    write_manifests(tmp_path / "identity.yaml", [user("someone-else")])
    result = cli("plan", "-f", "identity.yaml", "--scope", "identity")
    assert result.code == 1
    assert ("SmtpSettings/primary: spec.notifyUser refers to User/ops, which would no longer "
            "exist") in result.stderr


def test_a_store_from_before_scopes_migrates_to_default(cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                   " applied_at TEXT NOT NULL)")
        for migration in migrations("sqlite")[:2]:
            db.executescript(migration.sql)
            db.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (migration.version,))
        db.execute("INSERT INTO store_info VALUES (1, 'old-store', 1)")
        db.execute("INSERT INTO resources VALUES ('User', 'old', 'u-1', 1, '{}', '{}',"
                   " '{\"email\": \"old@example.com\"}', '{}', 't', 't')")
        db.execute("INSERT INTO audit_log VALUES (1, 't', 'me', 'src', 'sha256:x', '[]', '[]')")
    item = json.loads(cli("get", "user", "old", "-o", "json").stdout)
    assert item["metadata"]["scope"] == "default"
    assert json.loads(cli("history", "-o", "json").stdout)[0]["scope"] == "default"
    write_manifests(tmp_path / "m.yaml", [user("old")])
    assert cli("plan", "-f", "m.yaml", "--detailed-exitcode").code == 0
