"""The `oauth2` block of an SmtpSettings: a provider's token URL and scope made explicit.

Normalizing fills in what `provider` implies, so plans show (and reviewers approve) the
very endpoint that will be given the secret, and the runner needs no provider table.
Given `tokenUrl` and `scope` win over the derived ones (e.g. a national cloud).
"""

from __future__ import annotations

from typing import Any

from reconciler.kinds.fields import copy_optional, normalize_vault_reference

MICROSOFT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"  # noqa: S105
#: Exchange Online's SMTP AUTH, for an application's own permissions (client credentials).
MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105
GOOGLE_SCOPE = "https://mail.google.com/"

#: Where each secret of the block is, as plans and errors name the field.
SECRET_FIELDS = ("clientSecret", "serviceAccountKey")


def derived_token_url(oauth2: dict[str, Any]) -> str | None:
    """The token URL `provider` implies; None without a provider."""
    match oauth2.get("provider"):
        case "microsoft":
            return MICROSOFT_TOKEN_URL.format(tenant=oauth2["tenantId"])
        case "google":
            return GOOGLE_TOKEN_URL
    return None


def derived_scope(oauth2: dict[str, Any]) -> str | None:
    """The scope `provider` implies; None without a provider."""
    return {"microsoft": MICROSOFT_SCOPE, "google": GOOGLE_SCOPE}.get(oauth2.get("provider", ""))


def normalize_oauth2(oauth2: dict[str, Any]) -> dict[str, Any]:
    """A schema-valid `oauth2` block with `tokenUrl` and `scope` always set."""
    result: dict[str, Any] = {}
    copy_optional(oauth2, result, "provider", "tenantId", "clientId")
    result["tokenUrl"] = oauth2.get("tokenUrl") or derived_token_url(oauth2)
    result["scope"] = oauth2.get("scope") or derived_scope(oauth2)
    for name in SECRET_FIELDS:
        if name in oauth2:
            result[name] = normalize_vault_reference(oauth2[name])
    return result
