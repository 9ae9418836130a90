"""Every way a reference can fail, each with its reason and a one-line message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reconciler.errors import SmtpcfgError
from reconciler.model import VaultReference
from reconciler.vault.client import VaultSettings
from reconciler.vault.resolver import VaultLookupError, VaultResolver
from tests.support.openbao import READ_ALL, OpenBao, start_openbao


def failure(settings: VaultSettings, reference: VaultReference) -> VaultLookupError:
    with pytest.raises(VaultLookupError) as caught:
        VaultResolver(settings).resolve(reference)
    error = caught.value
    assert isinstance(error, SmtpcfgError)
    assert error.reference == reference
    message = str(error)
    assert message.startswith(f"{reference.display()}: ")
    assert "\n" not in message
    return error


def test_stopped_server_is_unreachable(unreachable_vault: str) -> None:
    settings = VaultSettings.from_environment(
        {"VAULT_ADDR": unreachable_vault, "VAULT_TOKEN": "any"}
    )
    error = failure(settings, VaultReference("secret/smtp/a", "password"))
    assert error.reason == "unreachable"
    assert str(error) == (
        f"vault secret/smtp/a#password: cannot reach Vault at {unreachable_vault}: "
        "Connection refused"
    )


def test_unset_vault_addr_is_named_when_the_default_address_refuses(
    unreachable_vault: str,
) -> None:
    settings = VaultSettings.from_environment({"VAULT_TOKEN": "any"})
    assert settings.addr_is_default
    # The default address, https://127.0.0.1:8200, may be taken on this machine: the
    # same settings with an address where nothing listens.
    settings = dataclasses.replace(settings, addr=unreachable_vault)

    error = failure(settings, VaultReference("secret/smtp/a", "password"))

    assert error.reason == "unreachable"
    assert str(error) == (
        "vault secret/smtp/a#password: VAULT_ADDR is not set, and nothing answers at the "
        f"default address {unreachable_vault}: Connection refused "
        "(set VAULT_ADDR to your Vault's address)"
    )


def test_sealed_then_stopped_after_the_mount_look_up(tmp_path: Path) -> None:
    """Failures met by the reading threads' kept-alive connections, the mount known."""
    server = start_openbao(tmp_path / "openbao")
    try:
        for name in ("a", "b", "c"):
            server.write(f"smtp/{name}", {"password": f"pw-{name}"})
        resolver = VaultResolver(server.settings())
        assert resolver.resolve(VaultReference("secret/smtp/a", "password")).value.reveal()

        server.seal()
        sealed = resolver.resolve_all([VaultReference("secret/smtp/b", "password")])
        server.stop()
        gone = resolver.resolve_all([VaultReference("secret/smtp/c", "password")])
    finally:
        server.stop()

    [sealed_error], [gone_error] = sealed.values(), gone.values()
    assert isinstance(sealed_error, VaultLookupError)
    assert str(sealed_error) == (
        f"vault secret/smtp/b#password: Vault at {server.addr} is sealed (unseal it first)"
    )
    assert isinstance(gone_error, VaultLookupError)
    assert str(gone_error) == (
        f"vault secret/smtp/c#password: cannot reach Vault at {server.addr}: Connection refused"
    )


def test_server_that_never_answers_times_out(silent_vault: str) -> None:
    settings = VaultSettings.from_environment(
        {"VAULT_ADDR": silent_vault, "VAULT_TOKEN": "any", "VAULT_CLIENT_TIMEOUT": "0.2"}
    )
    error = failure(settings, VaultReference("secret/smtp/a", "password"))
    assert error.reason == "unreachable"
    assert str(error).endswith(f"Vault at {silent_vault} did not answer within 0.2s")


def test_sealed_server(sealed_openbao: OpenBao) -> None:
    error = failure(sealed_openbao.settings(), VaultReference("secret/smtp/a", "password"))
    assert error.reason == "sealed"
    assert f"Vault at {sealed_openbao.addr} is sealed" in str(error)


def test_policy_that_denies_the_path(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "denied-pw"})
    token = openbao.token_with_policy(
        READ_ALL + f'\npath "secret/data/{path}" {{ capabilities = ["deny"] }}'
    )
    reference = VaultReference(f"secret/{path}", "password")

    error = failure(openbao.settings(token), reference)

    assert error.reason == "permission-denied"
    assert str(error) == (
        f"vault secret/{path}#password: permission denied: "
        f"the token's policy grants no read on secret/data/{path}"
    )


def test_unknown_mount_is_denied_by_vault(openbao: OpenBao) -> None:
    error = failure(openbao.settings(), VaultReference("no-such-mount/smtp/a", "password"))
    assert error.reason == "permission-denied"
    assert "no such mount" in str(error)


@pytest.mark.parametrize(("mount", "api_path"), [("secret", "secret/data"), ("kv1", "kv1")])
def test_missing_path(openbao: OpenBao, mount: str, api_path: str) -> None:
    path = openbao.fresh_path()
    error = failure(openbao.settings(), VaultReference(f"{mount}/{path}", "password"))
    assert error.reason == "no-such-path"
    assert str(error).endswith(f": no secret at {api_path}/{path}")


def test_missing_key_names_the_keys_but_no_value(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"user": "mailer", "pass": "hunter2-value"})

    error = failure(openbao.settings(), VaultReference(f"secret/{path}", "password"))

    assert error.reason == "no-such-key"
    assert str(error).endswith(": the secret has no key 'password' (keys: pass, user)")
    assert "hunter2-value" not in str(error)
    assert "mailer" not in str(error)


@pytest.mark.parametrize("pinned", [True, False])
def test_deleted_version(openbao: OpenBao, pinned: bool) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "gone-pw"})
    openbao.delete_version(path, 1)

    error = failure(
        openbao.settings(),
        VaultReference(f"secret/{path}", "password", version=1 if pinned else None),
    )

    assert error.reason == "version-deleted"
    assert "version 1 is deleted" in str(error)


def test_destroyed_version(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "burnt-pw"})
    openbao.write(path, {"password": "current-pw"})
    openbao.destroy_version(path, 1)

    error = failure(openbao.settings(), VaultReference(f"secret/{path}", "password", version=1))

    assert error.reason == "version-destroyed"
    assert str(error).endswith(": version 1 is destroyed (pin another version)")


def test_version_that_does_not_exist(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "only-pw"})

    error = failure(openbao.settings(), VaultReference(f"secret/{path}", "password", version=7))

    assert error.reason == "no-such-version"
    assert str(error).endswith(": no version 7 (the current version is 1)")


def test_pinned_version_of_a_secret_that_does_not_exist(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    error = failure(openbao.settings(), VaultReference(f"secret/{path}", "password", version=2))
    assert error.reason == "no-such-path"


def test_pinned_version_on_kv1(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "v1-pw"}, mount="kv1")

    error = failure(openbao.settings(), VaultReference(f"kv1/{path}", "password", version=1))

    assert error.reason == "not-kv-v2"
    assert "kv1/ is a KV v1 mount" in str(error)
    assert openbao.count_reads(f"kv1/{path}") == 0


def test_path_written_with_data(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "v2-pw"})

    error = failure(openbao.settings(), VaultReference(f"secret/data/{path}", "password"))

    assert error.reason == "bad-path"
    assert str(error).endswith(f"without data/: secret/{path}")
    assert openbao.count_reads(f"secret/data/{path}") == 0


@pytest.mark.parametrize(
    ("path", "mount", "says"),
    [
        ("cubbyhole/smtp", None, "cubbyhole/ is a cubbyhole mount, not a KV secrets engine"),
        ("secret", None, "the path names no secret inside the mount secret/"),
        ("secret/smtp/a", "secret/smtp", "secret/smtp/ is not a mount; the mount there is secret/"),
        ("kv1/smtp/a", "secret", "the path names no secret inside the mount secret/"),
    ],
)
def test_bad_paths(openbao: OpenBao, path: str, mount: str | None, says: str) -> None:
    error = failure(openbao.settings(), VaultReference(path, "password", mount=mount))
    assert error.reason == "bad-path"
    assert str(error).endswith(f": {says}")


def test_value_that_is_not_a_string(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": 987654321})

    error = failure(openbao.settings(), VaultReference(f"secret/{path}", "password"))

    assert error.reason == "invalid-response"
    assert str(error).endswith(": the value of key 'password' is of type int, not a string")
    assert "987654321" not in str(error)


def test_failed_login_fails_every_reference(openbao: OpenBao, tmp_path: Path) -> None:
    references = [
        VaultReference("secret/smtp/a", "password"),
        VaultReference("kv1/smtp/b", "password"),
    ]
    settings = openbao.settings(token="", HOME=str(tmp_path))

    results = VaultResolver(settings).resolve_all(references)

    assert [r.reason for r in results.values()] == ["auth-failed", "auth-failed"]  # type: ignore[union-attr]
    assert str(results[references[1]]).startswith("vault kv1/smtp/b#password: no Vault token")
