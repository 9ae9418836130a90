"""plan and apply check OAuth2 secrets (client secrets, service account keys) in Vault as
they check passwords, against a real OpenBao server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.manifests import settings, vault_password, write_manifests
from tests.support.openbao import OpenBao
from tests.support.stores import is_empty

TENANT = "contoso.onmicrosoft.com"


def m365(name: str, path: str, **reference: object) -> dict:
    return settings(
        name,
        username="invoices@contoso.com",
        oauth2={
            "provider": "microsoft",
            "tenantId": TENANT,
            "clientId": "8c1e5f2a",
            "clientSecret": vault_password(path, "clientSecret", **reference),
        },
    )


def workspace(name: str, path: str) -> dict:
    return settings(
        name,
        username="billing@example.com",
        oauth2={"provider": "google", "serviceAccountKey": vault_password(path, "key.json")},
    )


@pytest.fixture
def secret_path(openbao: OpenBao) -> str:
    path = openbao.fresh_path()
    openbao.write(path, {"clientSecret": "first", "key.json": "{}"})
    return f"secret/{path}"


def test_plan_reads_each_oauth2_secret_and_shows_references_never_values(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str
) -> None:
    write_manifests(tmp_path / "m.yaml", [m365("m365", secret_path), workspace("gws", secret_path)])

    text = cli("plan", "-f", "m.yaml", env=openbao.env())
    planned = cli("plan", "-f", "m.yaml", "--format", "json", env=openbao.env())

    assert text.code == 0, text.output
    assert f"+ spec.oauth2.clientSecret: vault {secret_path}#clientSecret" in text.stdout
    assert (
        f'+ spec.oauth2.tokenUrl: "https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"'
    ) in text.stdout
    assert '+ spec.oauth2.scope: "https://mail.google.com/"' in text.stdout
    assert "first" not in text.stdout + planned.stdout
    assert json.loads(planned.stdout)["secrets"] == [
        {
            "resource": "SmtpSettings/m365",
            "field": "spec.oauth2.clientSecret",
            "reference": f"vault {secret_path}#clientSecret",
            "version": 1,
            "recordedVersion": None,
        },
        {
            "resource": "SmtpSettings/gws",
            "field": "spec.oauth2.serviceAccountKey",
            "reference": f"vault {secret_path}#key.json",
            "version": 1,
            "recordedVersion": None,
        },
    ]


def test_an_unreadable_client_secret_names_file_line_and_field(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str, store_url: str
) -> None:
    write_manifests(tmp_path / "m.yaml", [m365("m365", secret_path.replace("secret/", "secret/x"))])

    result = cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env())

    assert result.code == 1
    first, last = result.stderr.splitlines()
    assert first.startswith("m.yaml:")
    assert ": SmtpSettings/m365: spec.oauth2.clientSecret: vault secret/x" in first
    assert last == "Error: 1 problem with Vault references; nothing was applied"
    assert is_empty(store_url)


def test_rotation_of_a_client_secret_is_noted_and_recorded(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str
) -> None:
    write_manifests(tmp_path / "m.yaml", [m365("m365", secret_path)])
    assert cli("plan", "-f", "m.yaml", "--out", "plan.json", env=openbao.env()).code == 0
    applied = cli("apply", "plan.json", env=openbao.env())  # a saved plan's secrets verify
    assert applied.code == 0, applied.output
    openbao.write(secret_path.removeprefix("secret/"), {"clientSecret": "second"})

    noted = cli("plan", "-f", "m.yaml", "--detailed-exitcode", env=openbao.env())

    assert noted.code == 0, noted.output
    assert (
        f"Note: SmtpSettings/m365: vault {secret_path}#clientSecret was rotated in Vault since "
        "the last apply (version 1 → 2)"
    ) in noted.stdout
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    history = json.loads(cli("history", "-o", "json").stdout)
    assert history[-1]["secrets"][0]["field"] == "spec.oauth2.clientSecret"
    assert history[-1]["secrets"][0]["version"] == 2
    after = cli("plan", "-f", "m.yaml", env=openbao.env())
    assert "Note:" not in after.stdout


def test_a_changed_client_secret_reference_is_a_reviewed_change(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str
) -> None:
    write_manifests(tmp_path / "m.yaml", [m365("m365", secret_path)])
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    write_manifests(tmp_path / "m.yaml", [m365("m365", secret_path, version=1)])

    result = cli("plan", "-f", "m.yaml", "--detailed-exitcode", env=openbao.env())

    assert result.code == 2, result.output
    assert (
        f"~ spec.oauth2.clientSecret: vault {secret_path}#clientSecret → "
        f"vault {secret_path}#clientSecret@v1"
    ) in result.stdout


def test_moving_from_a_password_to_oauth2_is_one_update(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str
) -> None:
    password = settings(
        "m365",
        username="invoices@contoso.com",
        password=vault_password(secret_path, "clientSecret"),
    )
    write_manifests(tmp_path / "m.yaml", [password])
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    write_manifests(tmp_path / "m.yaml", [m365("m365", secret_path)])

    result = cli("plan", "-f", "m.yaml", "--detailed-exitcode", env=openbao.env())

    assert result.code == 2, result.output
    assert f"- spec.password: vault {secret_path}#clientSecret" in result.stdout
    assert '+ spec.oauth2.provider: "microsoft"' in result.stdout
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in result.stdout


def test_exported_oauth2_settings_plan_as_no_changes(
    cli: Cli, tmp_path: Path, openbao: OpenBao, secret_path: str
) -> None:
    write_manifests(tmp_path / "m.yaml", [m365("m365", secret_path), workspace("gws", secret_path)])
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0

    exported = cli("export", "-o", "exported/")
    again = cli("plan", "-f", "exported/", "--detailed-exitcode", env=openbao.env())
    listed = cli("get", "smtpsettings")

    assert exported.code == 0, exported.output
    assert again.code == 0, again.output
    assert "smtp.example.com:587 oauth2:microsoft" in listed.stdout
    assert "smtp.example.com:587 oauth2:google" in listed.stdout
