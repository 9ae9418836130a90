"""The login a stored (normalized) SmtpSettings spec asks for: none, a password, or OAuth2.

The spec is the normalized one (reconciler.kinds.smtp_settings), where `oauth2` always
holds `tokenUrl` and `scope` (derived from `provider` when the manifest did not give
them). Secrets are read from Vault: a password when the login is made, an OAuth2 client
secret or service account key each time a token is fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.delivery.login import BearerTokens, Login, OAuth2Login, PasswordLogin
from reconciler.delivery.token_endpoint import TokenRequest
from reconciler.model import VaultReference
from reconciler.vault.resolver import VaultResolver
from reconciler.vault.secret import SecretValue


def settings_login(
    spec: Mapping[str, Any],
    resolver: Callable[[], VaultResolver],
    tokens: Callable[[TokenRequest], BearerTokens],
) -> Login | None:
    """The login of `spec`; `tokens(request)` gives the token source of an OAuth2 one
    (e.g. `OAuth2Tokens(request, ca_file=..., timeout=...)`, or a cached one)."""
    username = spec.get("username")
    if username is None:
        return None
    if "oauth2" in spec:
        return OAuth2Login(username, tokens(token_request(spec, resolver)))
    password = _read(resolver, VaultReference.from_spec(spec["password"]))
    return PasswordLogin(username, password())


def token_request(spec: Mapping[str, Any], resolver: Callable[[], VaultResolver]) -> TokenRequest:
    """What an OAuth2 login of `spec` asks its token endpoint for."""
    oauth2 = spec["oauth2"]
    google = "serviceAccountKey" in oauth2
    reference = VaultReference.from_spec(oauth2["serviceAccountKey" if google else "clientSecret"])
    return TokenRequest(
        grant="jwt-bearer" if google else "client-credentials",
        token_url=oauth2["tokenUrl"],
        scope=oauth2["scope"],
        secret_name=reference.display(),
        secret=_read(resolver, reference),
        client_id=oauth2.get("clientId"),
        subject=spec["username"] if google else None,
    )


def _read(
    resolver: Callable[[], VaultResolver], reference: VaultReference
) -> Callable[[], SecretValue]:
    """Reads the secret from Vault each time it is called (raises VaultLookupError)."""
    return lambda: resolver().resolve(reference).value
