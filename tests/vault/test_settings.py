"""VaultSettings.from_environment reads the variables Vault's CLI reads, and ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SmtpcfgError
from reconciler.vault.client import VaultSettings


@pytest.fixture
def ca_file(tmp_path: Path) -> str:
    """A file to name in VAULT_CACERT (these tests make no connection)."""
    path = tmp_path / "ca.pem"
    path.write_text("not read here\n", encoding="utf-8")
    return str(path)


def test_defaults_follow_vaults_cli(tmp_path: Path) -> None:
    settings = VaultSettings.from_environment({"HOME": str(tmp_path)})

    assert settings.addr == "https://127.0.0.1:8200"
    assert settings.token is None
    assert settings.token_file == tmp_path / ".vault-token"
    assert settings.namespace is None
    assert settings.verify is True
    assert settings.timeout == 60
    assert settings.auth_method == "token"


def test_the_token_files_and_vault_token(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    sink = str(tmp_path / "agent-sink")

    from_env = VaultSettings.from_environment({**home, "VAULT_TOKEN": "env-token"})
    from_sink = VaultSettings.from_environment(
        {**home, "VAULT_TOKEN": "env-token", "SMTPCFG_VAULT_TOKEN_FILE": sink}
    )

    # VAULT_TOKEN wins over ~/.vault-token; a token file named for smtpcfg wins over both.
    assert from_env.token is not None
    assert from_env.token.reveal() == "env-token"
    assert (from_sink.token, from_sink.token_file) == (None, tmp_path / "agent-sink")


def test_vault_addr_set_or_not() -> None:
    assert VaultSettings.from_environment({}).addr_is_default
    assert not VaultSettings.from_environment({"VAULT_ADDR": "https://v:8200"}).addr_is_default


def test_empty_variables_count_as_unset() -> None:
    settings = VaultSettings.from_environment(
        {"VAULT_ADDR": "", "VAULT_TOKEN": "", "VAULT_NAMESPACE": "", "VAULT_SKIP_VERIFY": ""}
    )
    assert (settings.addr, settings.token, settings.namespace, settings.skip_verify) == (
        "https://127.0.0.1:8200",
        None,
        None,
        False,
    )


def test_everything_is_read_from_the_mapping_given(ca_file: str) -> None:
    settings = VaultSettings.from_environment(
        {
            "VAULT_ADDR": "https://vault.example:8200/",
            "VAULT_TOKEN": "s.token-value",
            "VAULT_NAMESPACE": "billing",
            "VAULT_CACERT": ca_file,
            "VAULT_CLIENT_TIMEOUT": "2m",
        }
    )
    assert settings.addr == "https://vault.example:8200"
    assert settings.token is not None
    assert settings.token.reveal() == "s.token-value"
    assert settings.namespace == "billing"
    assert settings.verify == ca_file
    assert settings.timeout == 120


@pytest.mark.parametrize(
    ("value", "skip"),
    [("1", True), ("true", True), ("T", True), ("0", False), ("false", False), ("F", False)],
)
def test_skip_verify_parses_like_go(value: str, skip: bool, ca_file: str) -> None:
    settings = VaultSettings.from_environment({"VAULT_SKIP_VERIFY": value, "VAULT_CACERT": ca_file})
    assert settings.skip_verify is skip
    assert settings.verify == (False if skip else ca_file)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("VAULT_SKIP_VERIFY", "yes", "VAULT_SKIP_VERIFY must be true or false, not 'yes'"),
        ("VAULT_ADDR", "vault:8200", "VAULT_ADDR must start with http:// or https://"),
        ("VAULT_CLIENT_TIMEOUT", "soon", "VAULT_CLIENT_TIMEOUT must be a positive duration"),
        ("VAULT_CLIENT_TIMEOUT", "0", "VAULT_CLIENT_TIMEOUT must be a positive duration"),
        ("VAULT_CACERT", "/no/such/ca.pem", "VAULT_CACERT names no file: /no/such/ca.pem"),
        (
            "SMTPCFG_VAULT_AUTH",
            "ldap",
            "unknown Vault login 'ldap': choose one of token, approle, jwt",
        ),
    ],
)
def test_unparseable_values_are_refused(variable: str, value: str, message: str) -> None:
    with pytest.raises(SmtpcfgError, match="^" + message.replace("(", r"\(")):
        VaultSettings.from_environment({variable: value})


def test_auth_method_argument_wins_over_the_environment() -> None:
    env = {"SMTPCFG_VAULT_AUTH": "jwt"}
    assert VaultSettings.from_environment(env).auth_method == "jwt"
    assert VaultSettings.from_environment(env, "approle").auth_method == "approle"


def test_login_settings(tmp_path: Path) -> None:
    settings = VaultSettings.from_environment(
        {
            "VAULT_ROLE_ID": "role-id",
            "VAULT_SECRET_ID": "secret-id-value",
            "SMTPCFG_VAULT_AUTH_MOUNT": "ci",
            "SMTPCFG_VAULT_JWT_ROLE": "deployer",
            "SMTPCFG_VAULT_JWT": "jwt-value",
            "SMTPCFG_VAULT_JWT_FILE": str(tmp_path / "token"),
        },
        "approle",
    )
    assert settings.auth_mount == "ci"
    assert settings.role_id == "role-id"
    assert settings.secret_id is not None
    assert settings.secret_id.reveal() == "secret-id-value"
    assert settings.jwt_role == "deployer"
    assert settings.jwt is not None
    assert settings.jwt.reveal() == "jwt-value"
    assert settings.jwt_file == tmp_path / "token"


def test_repr_shows_no_credential() -> None:
    settings = VaultSettings.from_environment(
        {"VAULT_TOKEN": "tok-value", "VAULT_SECRET_ID": "sid-value", "SMTPCFG_VAULT_JWT": "jwt-v"}
    )
    text = repr(settings)
    assert "VaultSettings(" in text
    assert not any(value in text for value in ("tok-value", "sid-value", "jwt-v"))
