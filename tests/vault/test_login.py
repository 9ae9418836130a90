"""Token, AppRole and JWT logins against a real OpenBao."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model import VaultReference
from reconciler.vault.client import VaultSettings
from reconciler.vault.resolver import VaultLookupError, VaultResolver
from tests.support.openbao import OpenBao


@pytest.fixture
def secret(openbao: OpenBao) -> VaultReference:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "login-pw"})
    return VaultReference(f"secret/{path}", "password")


def reads(settings: VaultSettings, reference: VaultReference) -> str:
    return VaultResolver(settings).resolve(reference).value.reveal()


def login_failure(settings: VaultSettings, reference: VaultReference) -> str:
    with pytest.raises(VaultLookupError) as caught:
        VaultResolver(settings).resolve(reference)
    assert caught.value.reason == "auth-failed"
    return str(caught.value)


def test_token_from_vault_token(openbao: OpenBao, secret: VaultReference) -> None:
    token = openbao.token_with_policy('path "secret/*" { capabilities = ["read"] }')
    assert reads(openbao.settings(token), secret) == "login-pw"


def test_token_from_the_token_file(
    openbao: OpenBao, secret: VaultReference, tmp_path: Path
) -> None:
    (tmp_path / ".vault-token").write_text(f"{openbao.root_token}\n", encoding="utf-8")
    assert reads(openbao.settings(token="", HOME=str(tmp_path)), secret) == "login-pw"


def test_vault_token_wins_over_the_token_file(
    openbao: OpenBao, secret: VaultReference, tmp_path: Path
) -> None:
    (tmp_path / ".vault-token").write_text("not-a-token", encoding="utf-8")
    assert reads(openbao.settings(HOME=str(tmp_path)), secret) == "login-pw"


def test_no_token_at_all(openbao: OpenBao, secret: VaultReference, tmp_path: Path) -> None:
    message = login_failure(openbao.settings(token="", HOME=str(tmp_path)), secret)
    assert "no Vault token: set VAULT_TOKEN" in message


def test_approle(openbao: OpenBao, secret: VaultReference) -> None:
    role_id, secret_id = openbao.enable_approle()
    settings = openbao.settings(
        token="", auth_method="approle", VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id
    )
    assert reads(settings, secret) == "login-pw"


def test_approle_at_another_mount(openbao: OpenBao, secret: VaultReference) -> None:
    role_id, secret_id = openbao.enable_approle(mount="ci-approle")
    settings = openbao.settings(
        token="",
        SMTPCFG_VAULT_AUTH="approle",
        SMTPCFG_VAULT_AUTH_MOUNT="ci-approle",
        VAULT_ROLE_ID=role_id,
        VAULT_SECRET_ID=secret_id,
    )
    assert reads(settings, secret) == "login-pw"


def test_approle_with_a_wrong_secret_id(openbao: OpenBao, secret: VaultReference) -> None:
    role_id, _ = openbao.enable_approle()
    settings = openbao.settings(
        token="", auth_method="approle", VAULT_ROLE_ID=role_id, VAULT_SECRET_ID="wrong-sid"
    )
    message = login_failure(settings, secret)
    assert "AppRole login at auth/approle failed: invalid role or secret ID" in message
    assert "wrong-sid" not in message


def test_approle_without_a_role_id(openbao: OpenBao, secret: VaultReference) -> None:
    message = login_failure(openbao.settings(token="", auth_method="approle"), secret)
    assert "AppRole login needs VAULT_ROLE_ID" in message


def test_login_happens_once_per_resolver(openbao: OpenBao, secret: VaultReference) -> None:
    role_id, secret_id = openbao.enable_approle()
    resolver = VaultResolver(
        openbao.settings(
            token="", auth_method="approle", VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id
        )
    )
    before = openbao.count_requests("auth/approle/login")

    resolver.resolve(secret)
    resolver.resolve_all([secret, VaultReference(secret.path, "password", version=1)])

    assert openbao.count_requests("auth/approle/login") - before == 1


def test_jwt_from_a_value(openbao: OpenBao, secret: VaultReference) -> None:
    role, jwt = openbao.enable_jwt()
    settings = openbao.settings(
        token="", auth_method="jwt", SMTPCFG_VAULT_JWT_ROLE=role, SMTPCFG_VAULT_JWT=jwt
    )
    assert reads(settings, secret) == "login-pw"


def test_jwt_from_a_file(openbao: OpenBao, secret: VaultReference, tmp_path: Path) -> None:
    role, jwt = openbao.enable_jwt()
    jwt_file = tmp_path / "id-token"
    jwt_file.write_text(f"{jwt}\n", encoding="utf-8")
    settings = openbao.settings(
        token="",
        auth_method="jwt",
        SMTPCFG_VAULT_JWT_ROLE=role,
        SMTPCFG_VAULT_JWT_FILE=str(jwt_file),
        SMTPCFG_VAULT_JWT="ignored-when-a-file-is-given",
    )
    assert reads(settings, secret) == "login-pw"


def test_jwt_with_a_bad_signature(openbao: OpenBao, secret: VaultReference) -> None:
    role, jwt = openbao.enable_jwt()
    header, payload, signature = jwt.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    settings = openbao.settings(
        token="", auth_method="jwt", SMTPCFG_VAULT_JWT_ROLE=role, SMTPCFG_VAULT_JWT=forged
    )
    message = login_failure(settings, secret)
    assert "JWT login at auth/jwt failed" in message
    assert forged not in message


def test_jwt_file_that_cannot_be_read(
    openbao: OpenBao, secret: VaultReference, tmp_path: Path
) -> None:
    settings = openbao.settings(
        token="", auth_method="jwt", SMTPCFG_VAULT_JWT_FILE=str(tmp_path / "missing")
    )
    message = login_failure(settings, secret)
    assert f"cannot read SMTPCFG_VAULT_JWT_FILE {tmp_path / 'missing'}" in message


def test_jwt_without_a_jwt(openbao: OpenBao, secret: VaultReference) -> None:
    message = login_failure(openbao.settings(token="", auth_method="jwt"), secret)
    assert "JWT login needs SMTPCFG_VAULT_JWT_FILE or SMTPCFG_VAULT_JWT" in message
