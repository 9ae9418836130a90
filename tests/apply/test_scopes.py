"""Several repositories sharing one store, each owning its scope."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from reconciler.store.migrations import migrations
from tests.support.cli import Cli
from tests.support.manifests import settings, user, write_manifests
from tests.support.stores import POSTGRES_URL, backend, execute


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
        ("alice", "billing"),
        ("carol", "support"),
    }
    assert json.loads(
        cli("plan", "-f", "support.yaml", "--scope", "support", "--format", "json").stdout
    )["summary"] == {"create": 0, "update": 0, "replace": 0, "delete": 0}


def test_a_name_owned_by_another_scope_needs_take_over(cli: Cli, tmp_path: Path) -> None:
    _apply(cli, tmp_path, "billing", [user("alice")])
    write_manifests(tmp_path / "support.yaml", [user("alice")])
    refused = cli("plan", "-f", "support.yaml", "--scope", "support")
    assert refused.code == 1
    assert "User/alice is owned by scope 'billing'" in refused.stderr
    assert "--take-over" in refused.stderr
    planned = cli("plan", "-f", "support.yaml", "--scope", "support", "--take-over")
    assert '~ scope: "billing" → "support"' in planned.stdout
    assert (
        cli(
            "apply", "-f", "support.yaml", "--scope", "support", "--take-over", "--auto-approve"
        ).code
        == 0
    )
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
    names = [
        i["metadata"]["name"]
        for i in json.loads(cli("get", "--scope", "support", "-o", "json").stdout)["items"]
    ]
    assert names == ["carol"]
    assert [
        e["scope"] for e in json.loads(cli("history", "--scope", "billing", "-o", "json").stdout)
    ] == ["billing"]
    exported = cli("export", "--scope", "billing").stdout
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(exported)] == ["alice", "primary"]
    replan = cli("plan", "-f", "-", "--scope", "billing", "--detailed-exitcode", input=exported)
    assert replan.code == 0, replan.output


def test_deleting_what_another_scope_still_names_is_refused(cli: Cli, tmp_path: Path) -> None:
    _apply(cli, tmp_path, "billing", [user("ops"), settings("primary", notifyUser="ops")])
    _apply(cli, tmp_path, "identity", [user("ops")], "--take-over")
    write_manifests(tmp_path / "identity.yaml", [user("someone-else")])
    result = cli("plan", "-f", "identity.yaml", "--scope", "identity")
    assert result.code == 1
    assert (
        "SmtpSettings/primary: spec.notifyUser refers to User/ops, which would no longer exist"
    ) in result.stderr


def test_a_store_from_before_scopes_migrates_to_default(
    bare_cli: Cli, tmp_path: Path, new_store_url: str
) -> None:
    store_url = new_store_url
    if backend(store_url) == "sqlite":
        (tmp_path / "stores").mkdir()
    else:
        execute(POSTGRES_URL, [f"CREATE SCHEMA {store_url.rsplit('%3D', 1)[1]}"])
    cli = Cli(bare_cli.cwd, {**bare_cli.env, "SMTPCFG_STORE": store_url})
    dialect = backend(store_url)
    applied_at = "TEXT" if dialect == "sqlite" else "TIMESTAMPTZ"
    statements = [
        f"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
        f" applied_at {applied_at} NOT NULL)"
    ]
    for migration in migrations(dialect)[:2]:
        statements += [part for part in migration.sql.split(";") if part.strip()]
        statements.append(f"INSERT INTO schema_migrations VALUES ({migration.version}, '{THEN}')")
    statements += [
        "INSERT INTO store_info VALUES (1, 'old-store', 1)",
        "INSERT INTO resources VALUES ('User', 'old', 'u-1', 1, '{}', '{}',"
        f" '{{\"email\": \"old@example.com\"}}', '{{}}', '{THEN}', '{THEN}')",
        f"INSERT INTO audit_log VALUES (1, '{THEN}', 'me', 'src', 'sha256:x', '[]', '[]')",
    ]
    execute(store_url, statements)
    item = json.loads(cli("get", "user", "old", "-o", "json").stdout)
    assert item["metadata"]["scope"] == "default"
    assert json.loads(cli("history", "-o", "json").stdout)[0]["scope"] == "default"
    write_manifests(tmp_path / "m.yaml", [user("old")])
    assert cli("plan", "-f", "m.yaml", "--detailed-exitcode").code == 0


THEN = "2026-01-01T00:00:00.000000Z"
