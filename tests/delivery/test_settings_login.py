"""The login a stored SmtpSettings spec asks for (units: Vault is not asked here)."""

from __future__ import annotations

from typing import Any, NoReturn

from reconciler.delivery.login import OAuth2Login
from reconciler.delivery.settings_login import settings_login, token_request

SECRET = {"vault": {"path": "secret/smtp/m365", "key": "clientSecret"}}
M365 = {
    "username": "invoices@contoso.com",
    "oauth2": {
        "provider": "microsoft",
        "tenantId": "contoso.onmicrosoft.com",
        "clientId": "app",
        "tokenUrl": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "scope": "https://outlook.office365.com/.default",
        "clientSecret": SECRET,
    },
}
GOOGLE = {
    "username": "billing@example.com",
    "oauth2": {
        "provider": "google",
        "tokenUrl": "https://oauth2.googleapis.com/token",
        "scope": "https://mail.google.com/",
        "serviceAccountKey": {"vault": {"path": "secret/smtp/google", "key": "key.json"}},
    },
}


def no_vault() -> NoReturn:
    raise AssertionError("Vault is read only when a token is fetched")


def with_secret(spec: dict[str, Any], **vault: Any) -> dict[str, Any]:
    oauth2 = {**spec["oauth2"], "clientSecret": {"vault": {**SECRET["vault"], **vault}}}
    return {**spec, "oauth2": oauth2}


def test_client_credentials_for_microsoft() -> None:
    request = token_request(M365, no_vault)

    assert (request.grant, request.client_id, request.subject) == (
        "client-credentials",
        "app",
        None,
    )
    assert request.token_url == M365["oauth2"]["tokenUrl"]
    assert request.secret_name == "vault secret/smtp/m365#clientSecret"


def test_jwt_bearer_for_google_acts_for_the_username() -> None:
    request = token_request(GOOGLE, no_vault)

    assert (request.grant, request.subject, request.client_id) == (
        "jwt-bearer",
        "billing@example.com",
        None,
    )
    assert request.secret_name == "vault secret/smtp/google#key.json"


def test_requests_are_equal_only_when_they_read_the_same_secret() -> None:
    """The runner keeps one token source per request: a changed reference gets its own."""
    same = token_request(M365, no_vault)

    assert token_request(M365, no_vault) == same
    assert hash(token_request(M365, no_vault)) == hash(same)
    assert token_request(with_secret(M365, path="secret/smtp/other"), no_vault) != same
    assert token_request(with_secret(M365, version=2), no_vault) != same


def test_an_oauth2_settings_gets_an_oauth2_login_and_no_username_none() -> None:
    made: list[object] = []

    def tokens(request: object) -> Any:
        made.append(request)
        return "token source"

    login = settings_login(M365, no_vault, tokens)

    assert isinstance(login, OAuth2Login)
    assert (login.username, login.tokens) == ("invoices@contoso.com", "token source")
    assert made == [token_request(M365, no_vault)]
    assert settings_login({"host": "smtp.example.com"}, no_vault, tokens) is None
