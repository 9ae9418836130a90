"""The `oauth2` block of SmtpSettings: provider defaults made explicit, secrets listed.

Units only: nothing here contacts a provider (the derived URLs are compared as text).
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import kinds
from reconciler.kinds.oauth2 import derived_scope, derived_token_url, normalize_oauth2
from reconciler.kinds.smtp_settings import SMTP_SETTINGS
from reconciler.model import ResourceKey, VaultReference

SECRET = {"vault": {"path": "/secret/smtp/m365/", "key": "clientSecret"}}
NORMAL_SECRET = {"vault": {"path": "secret/smtp/m365", "key": "clientSecret"}}
KEY = {"vault": {"path": "secret/smtp/google", "key": "key.json", "version": 3}}
TENANT = "2f4a9b1c-7d3e-4c5a-9e8f-1a2b3c4d5e6f"
SETTINGS = {
    "host": "smtp.office365.com",
    "port": 587,
    "from": {"address": "invoices@contoso.com"},
    "username": "invoices@contoso.com",
}


@pytest.mark.parametrize(
    ("oauth2", "normalized"),
    [
        (
            {
                "provider": "microsoft",
                "tenantId": TENANT,
                "clientId": "app",
                "clientSecret": SECRET,
            },
            {
                "provider": "microsoft",
                "tenantId": TENANT,
                "clientId": "app",
                "tokenUrl": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
                "scope": "https://outlook.office365.com/.default",
                "clientSecret": NORMAL_SECRET,
            },
        ),
        (
            # A national cloud: the given URL and scope win over the derived ones.
            {
                "provider": "microsoft",
                "tenantId": "contoso.onmicrosoft.us",
                "clientId": "app",
                "clientSecret": SECRET,
                "tokenUrl": "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token",
                "scope": "https://outlook.office365.us/.default",
            },
            {
                "provider": "microsoft",
                "tenantId": "contoso.onmicrosoft.us",
                "clientId": "app",
                "tokenUrl": "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token",
                "scope": "https://outlook.office365.us/.default",
                "clientSecret": NORMAL_SECRET,
            },
        ),
        (
            {"provider": "google", "serviceAccountKey": KEY},
            {
                "provider": "google",
                "tokenUrl": "https://oauth2.googleapis.com/token",
                "scope": "https://mail.google.com/",
                "serviceAccountKey": KEY,
            },
        ),
        (
            {
                "tokenUrl": "https://idp.example.com/oauth2/token",
                "clientId": "app",
                "clientSecret": SECRET,
                "scope": "smtp.send",
            },
            {
                "clientId": "app",
                "tokenUrl": "https://idp.example.com/oauth2/token",
                "scope": "smtp.send",
                "clientSecret": NORMAL_SECRET,
            },
        ),
    ],
    ids=["microsoft", "microsoft-national-cloud", "google", "generic"],
)
def test_normalize_makes_the_token_url_and_scope_explicit(
    oauth2: dict[str, Any], normalized: dict[str, Any]
) -> None:
    assert normalize_oauth2(oauth2) == normalized
    assert normalize_oauth2(normalized) == normalized  # idempotent: export plans as no change
    spec = SMTP_SETTINGS.normalize({**SETTINGS, "oauth2": oauth2})
    assert spec["oauth2"] == normalized
    assert "password" not in spec


def test_derivations_by_provider() -> None:
    microsoft = {"provider": "microsoft", "tenantId": "contoso.onmicrosoft.com"}
    assert derived_token_url(microsoft) == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert derived_scope(microsoft) == "https://outlook.office365.com/.default"
    assert derived_token_url({"provider": "google"}) == "https://oauth2.googleapis.com/token"
    assert derived_scope({"provider": "google"}) == "https://mail.google.com/"
    assert derived_token_url({}) is None and derived_scope({}) is None


def test_secrets_are_listed_by_field() -> None:
    password = SMTP_SETTINGS.normalize(
        {**SETTINGS, "password": {"vault": {"path": "secret/smtp/a", "key": "password"}}}
    )
    client = SMTP_SETTINGS.normalize(
        {
            **SETTINGS,
            "oauth2": {
                "provider": "microsoft",
                "tenantId": TENANT,
                "clientId": "a",
                "clientSecret": SECRET,
            },
        }
    )
    google = SMTP_SETTINGS.normalize(
        {**SETTINGS, "oauth2": {"provider": "google", "serviceAccountKey": KEY}}
    )
    key = ResourceKey("SmtpSettings", "m365")

    assert kinds.secrets_of(key, password) == {
        "spec.password": VaultReference("secret/smtp/a", "password")
    }
    assert kinds.secrets_of(key, client) == {
        "spec.oauth2.clientSecret": VaultReference("secret/smtp/m365", "clientSecret")
    }
    assert kinds.secrets_of(key, google) == {
        "spec.oauth2.serviceAccountKey": VaultReference("secret/smtp/google", "key.json", 3)
    }
    assert kinds.secrets_of(ResourceKey("User", "u"), {"email": "u@example.com"}) == {}


@pytest.mark.parametrize(
    ("oauth2", "summary"),
    [
        ({"provider": "microsoft"}, "smtp.office365.com:587 starttls-only oauth2:microsoft"),
        ({"provider": "google"}, "smtp.office365.com:587 starttls-only oauth2:google"),
        (
            {"tokenUrl": "https://idp.example.com/t"},
            "smtp.office365.com:587 starttls-only oauth2:token-url",
        ),
    ],
)
def test_summaries_name_the_oauth2_provider(oauth2: dict[str, Any], summary: str) -> None:
    spec = {**SETTINGS, "startTlsOnly": True, "oauth2": oauth2}
    assert SMTP_SETTINGS.summary(spec) == summary
