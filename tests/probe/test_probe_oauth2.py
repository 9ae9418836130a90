"""`smtpcfg probe` of OAuth2 settings: XOAUTH2 with a token from a real loopback endpoint,
as delivery logs in; token endpoint and Vault failures fail the login step only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.probe.conftest import Probing, assert_no_mail_and_no_plaintext_auth, probe_json
from tests.support.manifests import vault_password
from tests.support.oauth2 import CLIENT_ID, CLIENT_SECRET, MAILBOX, SCOPE, TokenEndpoint
from tests.support.smtp import SmtpSink


def oauth2_settings(
    probing: Probing, server: SmtpSink, endpoint: TokenEndpoint, key: str = "clientSecret"
) -> dict[str, Any]:
    probing.openbao.write(probing.vault_path, {"clientSecret": CLIENT_SECRET, "other": "x"})
    oauth2 = {
        "tokenUrl": endpoint.url,
        "clientId": CLIENT_ID,
        "clientSecret": vault_password(f"secret/{probing.vault_path}", key),
        "scope": SCOPE,
    }
    return probing.settings("m365", server, username=MAILBOX, password=None, oauth2=oauth2)


def test_probe_logs_in_with_xoauth2(
    probing: Probing, xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint
) -> None:
    probing.write(oauth2_settings(probing, xoauth2_server, token_endpoint))

    result = probing.probe("-f", probing.manifests, "-o", "json")

    assert result.code == 0, result.output
    [entry] = probe_json(result)["settings"]
    [auth] = [step for step in entry["steps"] if step["step"] == "auth"]
    assert (auth["status"], auth["detail"]) == ("ok", f"XOAUTH2 as {MAILBOX}")
    assert len(token_endpoint.issued) == 1
    assert token_endpoint.tokens[0] not in result.output
    assert_no_mail_and_no_plaintext_auth(xoauth2_server)


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        ("other", "the token endpoint https://localhost:{port}/token refused: invalid_client"),
        ("missing", "the OAuth2 secret could not be read: vault secret/{path}#missing:"),
    ],
    ids=["wrong-secret", "not-in-vault"],
)
def test_a_login_without_a_token_fails_the_auth_step_only(
    probing: Probing,
    xoauth2_server: SmtpSink,
    token_endpoint: TokenEndpoint,
    key: str,
    detail: str,
) -> None:
    probing.write(oauth2_settings(probing, xoauth2_server, token_endpoint, key))

    result = probing.probe("-f", probing.manifests, "-o", "json")

    assert result.code == 1
    [entry] = probe_json(result)["settings"]
    assert [(f["level"], f["step"]) for f in entry["findings"] if f["level"] == "error"] == [
        ("error", "auth")
    ]
    [auth] = [step for step in entry["steps"] if step["step"] == "auth"]
    assert auth["detail"].startswith(
        detail.format(port=token_endpoint.port, path=probing.vault_path)
    )
    assert CLIENT_SECRET not in result.output
    [session] = xoauth2_server.sessions
    assert "AUTH" not in session.verbs and "STARTTLS" in session.verbs
