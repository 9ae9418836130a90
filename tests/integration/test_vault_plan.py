"""plan and apply checking Vault references, against a real OpenBao server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.manifests import settings, user, vault_password, write_manifests
from tests.support.openbao import OpenBao
from tests.support.stores import is_empty


def mailer(name: str, path: str, **extra: object) -> dict:
    return settings(name, username="mailer", password=vault_password(path, **extra))


@pytest.fixture
def secret_path(openbao: OpenBao) -> str:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "first-value"})
    return f"secret/{path}"


def test_plan_checks_references_and_records_the_version(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str
) -> None:
    write_manifests(tmp_path / "m.yaml", [mailer("primary", secret_path)])
    result = cli("plan", "-f", "m.yaml", "--format", "json", env=openbao.env())
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["secrets"] == [
        {
            "resource": "SmtpSettings/primary",
            "field": "spec.password",
            "reference": f"vault {secret_path}#password",
            "version": 1,
            "recordedVersion": None,
        }
    ]
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    entry = json.loads(cli("history", "-o", "json").stdout)[0]
    assert entry["secrets"][0]["version"] == 1


def test_each_distinct_reference_is_read_once_per_plan(
    cli: Cli, tmp_path: Path, openbao: OpenBao
) -> None:
    paths = [openbao.fresh_path() for _ in range(3)]
    for path in paths:
        openbao.write(path, {"password": "p", "other": "o"})
    # 12 settings over 3 secrets; two keys of one secret share its read.
    documents = [mailer(f"s{i}", f"secret/{paths[i % 3]}") for i in range(12)]
    documents.append(mailer("other-key", f"secret/{paths[0]}", key="other"))
    write_manifests(tmp_path / "m.yaml", documents)
    result = cli("plan", "-f", "m.yaml", "--vault-concurrency", "4", env=openbao.env())
    assert result.code == 0, result.output
    assert [openbao.count_reads(f"secret/data/{path}") for path in paths] == [1, 1, 1]


def test_unreadable_references_name_file_line_and_resource(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str, store_url: str
) -> None:
    write_manifests(
        tmp_path / "m.yaml",
        [
            mailer("good", secret_path),
            mailer("no-path", "secret/smtp/does-not-exist"),
            mailer("no-key", secret_path, key="nope"),
            mailer("data-path", secret_path.replace("secret/", "secret/data/")),
        ],
    )
    result = cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env())
    assert result.code == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == "Error: 3 problems with Vault references; nothing was applied"
    by_resource = {line.split(": ")[1]: line for line in lines[:-1]}
    assert set(by_resource) == {
        "SmtpSettings/no-path",
        "SmtpSettings/no-key",
        "SmtpSettings/data-path",
    }
    assert by_resource["SmtpSettings/no-key"].startswith("m.yaml:")
    assert ": spec.password: vault " in by_resource["SmtpSettings/no-key"]
    assert "no key 'nope'" in by_resource["SmtpSettings/no-key"]
    assert "without data/" in by_resource["SmtpSettings/data-path"]
    assert is_empty(store_url)


def test_vault_down_and_permission_denied_are_plain_errors(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str, unreachable_vault: str
) -> None:
    write_manifests(tmp_path / "m.yaml", [mailer("primary", secret_path)])
    down = cli("plan", "-f", "m.yaml", env={**openbao.env(), "VAULT_ADDR": unreachable_vault})
    assert down.code == 1
    assert f"cannot reach Vault at {unreachable_vault}" in down.stderr
    denied_token = openbao.token_with_policy(
        'path "secret/data/other/*" { capabilities = ["read"] }'
    )
    denied = cli("plan", "-f", "m.yaml", env=openbao.env(token=denied_token))
    assert denied.code == 1
    assert "permission denied" in denied.stderr
    assert "Traceback" not in down.stderr + denied.stderr


def test_validate_stays_offline(cli: Cli, tmp_path: Path, unreachable_vault: str) -> None:
    write_manifests(tmp_path / "m.yaml", [mailer("primary", "secret/smtp/x")])
    result = cli("validate", "-f", "m.yaml", env={"VAULT_ADDR": unreachable_vault})
    assert result.code == 0, result.output


def test_changed_reference_and_rotation(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str
) -> None:
    other = openbao.fresh_path()
    openbao.write(other, {"password": "x"})
    write_manifests(tmp_path / "m.yaml", [mailer("a", secret_path), mailer("b", secret_path)])
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    openbao.write(secret_path.removeprefix("secret/"), {"password": "rotated"})
    write_manifests(tmp_path / "m.yaml", [mailer("a", secret_path), mailer("b", f"secret/{other}")])
    result = cli("plan", "-f", "m.yaml", "--detailed-exitcode", env=openbao.env())
    assert result.code == 2, result.output
    assert (
        f"~ spec.password: vault {secret_path}#password → vault secret/{other}#password"
        in result.stdout
    )
    assert (
        f"Note: SmtpSettings/a: vault {secret_path}#password was rotated in Vault since the"
        " last apply (version 1 → 2)"
    ) in result.stdout
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    after = cli("plan", "-f", "m.yaml", "--detailed-exitcode", env=openbao.env())
    assert after.code == 0 and "Note:" not in after.stdout


def test_pinned_version_must_exist(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str
) -> None:
    write_manifests(tmp_path / "m.yaml", [mailer("primary", secret_path, version=1)])
    assert cli("plan", "-f", "m.yaml", env=openbao.env()).code == 0
    write_manifests(tmp_path / "m.yaml", [mailer("primary", secret_path, version=7)])
    result = cli("plan", "-f", "m.yaml", env=openbao.env())
    assert result.code == 1
    assert "version 7" in result.stderr


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_no_vault_or_database_driver_is_imported_unless_needed(
    sqlite_cli: Cli, tmp_path: Path, command: str
) -> None:
    """Start-up stays fast: hvac and psycopg load only for Vault references and PostgreSQL."""
    write_manifests(tmp_path / "m.yaml", [user("ops"), settings("primary")])
    if command == "validate":
        write_manifests(tmp_path / "m.yaml", [user("ops"), mailer("primary", "secret/smtp/x")])
    probe = (
        f"import sys, runpy; sys.argv = ['smtpcfg', '{command}', '-f', 'm.yaml'];\n"
        "try:\n    runpy.run_module('reconciler', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('hvac', 'requests', 'psycopg')]\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=sqlite_cli.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_the_readme_least_privilege_policy_is_enough(
    cli: Cli, tmp_path: Path, openbao: OpenBao
) -> None:
    openbao.write("smtp/least-privilege", {"password": "p"})
    token = openbao.token_with_policy('path "secret/data/smtp/*" { capabilities = ["read"] }')
    write_manifests(tmp_path / "m.yaml", [mailer("primary", "secret/smtp/least-privilege")])
    result = cli("plan", "-f", "m.yaml", env=openbao.env(token=token))
    assert result.code == 0, result.output


def test_apply_records_a_rotation_without_other_changes(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str
) -> None:
    write_manifests(tmp_path / "m.yaml", [mailer("a", secret_path)])
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    openbao.write(secret_path.removeprefix("secret/"), {"password": "rotated"})
    planned = cli("plan", "-f", "m.yaml", "--detailed-exitcode", env=openbao.env())
    assert planned.code == 0 and "was rotated in Vault" in planned.stdout
    applied = cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env())
    assert applied.code == 0, applied.output
    history = json.loads(cli("history", "-o", "json").stdout)
    assert history[-1]["changes"] == [] and history[-1]["secrets"][0]["version"] == 2
    after = cli("plan", "-f", "m.yaml", env=openbao.env())
    assert "Note:" not in after.stdout
    assert (
        cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env())
        .stdout.strip()
        .endswith("Nothing to apply.")
    )
