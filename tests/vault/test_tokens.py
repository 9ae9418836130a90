"""Tokens that last as long as the process: renewed before they expire, replaced by a
fresh login when Vault refuses them, read again when the token file changes; every
login and renewal reported, no token ever."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import VaultReference
from reconciler.vault.resolver import VaultResolver
from tests.support.openbao import READ_ALL, OpenBao


class Events:
    """A `notify` that keeps what it hears."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, message: str, **fields: Any) -> None:
        self.heard.append((message, fields))

    @property
    def kinds(self) -> list[str]:
        return [str(fields["vault"]) for _, fields in self.heard]

    @property
    def text(self) -> str:
        return "\n".join(f"{message} {fields}" for message, fields in self.heard)


def secret(openbao: OpenBao, value: str = "token-pw") -> VaultReference:
    path = openbao.fresh_path()
    openbao.write(path, {"password": value})
    return VaultReference(f"secret/{path}", "password")


def test_a_refused_approle_token_is_replaced_by_one_fresh_login(openbao: OpenBao) -> None:
    role_id, secret_id = openbao.enable_approle()
    events = Events()
    settings = openbao.settings(
        token="", auth_method="approle", VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id
    )
    resolver = VaultResolver(settings, events)
    first, second, third = (secret(openbao, f"pw-{n}") for n in range(3))
    assert resolver.resolve(first).value.reveal() == "pw-0"
    revoked = resolver.tokens.token()
    openbao.admin.auth.token.revoke(revoked)  # as when it expired
    logins = openbao.count_requests("auth/approle/login")

    results = resolver.resolve_all([second, third])

    assert [r.value.reveal() for r in results.values()] == ["pw-1", "pw-2"]  # type: ignore[union-attr]
    assert openbao.count_requests("auth/approle/login") - logins == 1  # not one per read
    assert events.kinds == ["login", "login"]
    assert events.heard[1][0].startswith(
        "Vault: logged in with AppRole at auth/approle after Vault refused the token"
    )
    shown = events.text + repr(resolver) + repr(resolver.tokens) + str(vars(resolver.tokens))
    assert revoked not in shown
    assert resolver.tokens.token() not in shown
    assert secret_id not in shown
    resolver.close()


def test_an_idle_resolver_keeps_a_renewable_vault_token_alive(openbao: OpenBao) -> None:
    """A runner waiting for work: only the background renewal talks to Vault."""
    short = openbao.token_with_policy(READ_ALL, ttl="2s", renewable=True)
    events = Events()
    resolver = VaultResolver(openbao.settings(short), events)
    reference = secret(openbao)
    resolver.resolve(reference)

    time.sleep(3.5)  # past the token's first TTL, with no read

    assert resolver.resolve(reference).value.reveal() == "token-pw"
    assert events.kinds[:2] == ["renewal", "renewal"]
    assert "Vault: renewed the token from VAULT_TOKEN; valid for 2 s more" in events.text
    resolver.close()


def test_a_rewritten_token_file_is_read_again(openbao: OpenBao, tmp_path: Path) -> None:
    sink = tmp_path / "agent" / "token"
    sink.parent.mkdir()
    old, new = (openbao.token_with_policy(READ_ALL) for _ in range(2))
    sink.write_text(old, encoding="utf-8")
    events = Events()
    settings = openbao.settings(token="", SMTPCFG_VAULT_TOKEN_FILE=str(sink))
    resolver = VaultResolver(settings, events)
    first, second = secret(openbao, "first-pw"), secret(openbao, "second-pw")
    assert resolver.resolve(first).value.reveal() == "first-pw"

    rewritten = sink.with_name("token.tmp")  # as Vault Agent writes its sink
    rewritten.write_text(f"{new}\n", encoding="utf-8")
    os.replace(rewritten, sink)
    openbao.admin.auth.token.revoke(old)

    assert resolver.resolve(second).value.reveal() == "second-pw"
    assert events.kinds == ["token-file"]
    assert events.heard[0][0].startswith(f"Vault: read a new token from the token file {sink}")
    assert old not in events.text and new not in events.text


@pytest.mark.parametrize("source", ["VAULT_TOKEN", "token file"])
def test_a_token_vault_refuses_is_reported_as_invalid(
    openbao: OpenBao, tmp_path: Path, source: str
) -> None:
    token = openbao.token_with_policy(READ_ALL)
    openbao.admin.auth.token.revoke(token)
    if source == "VAULT_TOKEN":
        settings = openbao.settings(token)
        said = "VAULT_TOKEN is invalid or expired (Vault refuses to look it up); "
        advice = "set VAULT_TOKEN to a valid token"
    else:
        (tmp_path / ".vault-token").write_text(token, encoding="utf-8")
        settings = openbao.settings(token="", HOME=str(tmp_path))
        said = f"the token file {tmp_path / '.vault-token'} is invalid or expired"
        advice = "log in again (`vault login`), or check the Vault Agent that writes it"
    reference = secret(openbao)

    result = VaultResolver(settings).resolve_all([reference])[reference]

    assert result.reason == "token-invalid"  # type: ignore[union-attr]
    assert str(result).startswith(f"{reference.display()}: the Vault token from ")
    assert said in str(result)
    assert str(result).endswith(advice)
    assert token not in str(result)
