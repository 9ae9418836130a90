"""VAULT_CACERT, VAULT_SKIP_VERIFY and VAULT_NAMESPACE, read by us (hvac reads none of them
when a client is made) from the mapping given to VaultSettings.from_environment."""

from __future__ import annotations

import secrets
import warnings

import hvac
import pytest

from reconciler.model import VaultReference
from reconciler.vault.client import VaultSettings
from reconciler.vault.resolver import VaultLookupError, VaultResolver
from tests.support.openbao import OpenBao


@pytest.fixture
def tls_secret(openbao_tls: OpenBao) -> VaultReference:
    path = openbao_tls.fresh_path()
    openbao_tls.write(path, {"password": "tls-pw"})
    return VaultReference(f"secret/{path}", "password")


def test_cacert_verifies_the_server(openbao_tls: OpenBao, tls_secret: VaultReference) -> None:
    settings = openbao_tls.settings()
    assert settings.cacert == str(openbao_tls.cacert)

    assert VaultResolver(settings).resolve(tls_secret).value.reveal() == "tls-pw"


def test_without_cacert_the_server_is_not_trusted(
    openbao_tls: OpenBao, tls_secret: VaultReference
) -> None:
    env = openbao_tls.env()
    del env["VAULT_CACERT"]

    with pytest.raises(VaultLookupError) as caught:
        VaultResolver(VaultSettings.from_environment(env)).resolve(tls_secret)

    assert caught.value.reason == "unreachable"
    assert f"TLS connection to Vault at {openbao_tls.addr} failed" in str(caught.value)
    assert "set VAULT_CACERT" in str(caught.value)


def test_requests_ca_bundle_is_trusted_as_requests_would(
    openbao_tls: OpenBao, tls_secret: VaultReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clients read REQUESTS_CA_BUNDLE once, not requests on every request."""
    env = openbao_tls.env()
    del env["VAULT_CACERT"]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(openbao_tls.cacert))

    resolved = VaultResolver(VaultSettings.from_environment(env)).resolve(tls_secret)

    assert resolved.value.reveal() == "tls-pw"


def test_skip_verify_warns_once_and_quietly(
    openbao_tls: OpenBao, tls_secret: VaultReference, capsys: pytest.CaptureFixture[str]
) -> None:
    env = openbao_tls.env(VAULT_SKIP_VERIFY="true")
    del env["VAULT_CACERT"]
    other = VaultReference(tls_secret.path, "password", version=1)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolver = VaultResolver(VaultSettings.from_environment(env))
        results = resolver.resolve_all([tls_secret, other])
        resolver.resolve(tls_secret)

    assert all(result.value.reveal() == "tls-pw" for result in results.values())  # type: ignore[union-attr]
    assert [str(w.message) for w in caught] == []
    assert capsys.readouterr().err == (
        f"warning: VAULT_SKIP_VERIFY is set: the TLS certificate of Vault at "
        f"{openbao_tls.addr} is not verified\n"
    )


def test_namespace_header_is_sent(openbao: OpenBao) -> None:
    namespace = f"team-{secrets.token_hex(4)}"
    openbao.admin.sys.create_namespace(namespace)
    inside = hvac.Client(url=openbao.addr, token=openbao.root_token, namespace=namespace)
    inside.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    path = openbao.fresh_path()
    inside.secrets.kv.v2.create_or_update_secret(path, {"password": "ns-pw"})
    reference = VaultReference(f"secret/{path}", "password")

    resolved = VaultResolver(openbao.settings(VAULT_NAMESPACE=namespace)).resolve(reference)

    assert resolved.value.reveal() == "ns-pw"
    with pytest.raises(VaultLookupError) as caught:  # the root namespace has no such secret
        VaultResolver(openbao.settings()).resolve(reference)
    assert caught.value.reason == "no-such-path"
