"""OAuth2 access tokens for XOAUTH2 logins, kept in memory only (see token_endpoint).

The client secret or the service account's key is read from Vault at each fetch, so a
rotated secret is picked up by the next token. A token is reused until
`reuse_margin(lifetime)` before it expires (60 s, or a tenth of the lifetime for tokens
shorter than 10 minutes), then fetched again; one the SMTP server refuses is replaced at
once (`renew`). A response without `expires_in` gives a token used for one login only.
Tokens are never stored, logged or shown: they live in a SecretValue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.delivery.login import Revealable
from reconciler.delivery.token_endpoint import TokenRequest, fetch_token
from reconciler.delivery.transport import tls_context
from reconciler.vault.secret import SecretValue
from reconciler.vault.tokens import Notify

#: Reuse a token until this long before it expires (seconds)...
REUSE_MARGIN = 60.0
#: ...or, for short-lived tokens, until this share of its lifetime is left.
SHORT_LIFETIME_MARGIN = 0.1


def reuse_margin(lifetime: float) -> float:
    """How long before its expiry a token of `lifetime` seconds is no longer used."""
    return min(REUSE_MARGIN, lifetime * SHORT_LIFETIME_MARGIN)


@dataclass
class _Cached:
    value: SecretValue = field(repr=False)
    renew_at: float


class OAuth2Tokens:
    """A login's tokens (see `BearerTokens`): fetched on first use and on expiry.

    `notify(message, **fields)` hears of each fetch (the runner's log), never the token.
    """

    def __init__(
        self,
        request: TokenRequest,
        *,
        ca_file: str | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        notify: Notify | None = None,
    ) -> None:
        self.request = request
        self._context = tls_context(ca_file)
        self._timeout = timeout
        self._clock = clock
        self._notify = notify or (lambda message, **fields: None)
        self._cached: _Cached | None = None

    def __repr__(self) -> str:
        return f"OAuth2Tokens({self.request!r})"

    def token(self) -> SecretValue:
        cached = self._cached
        if cached is not None and self._clock() < cached.renew_at:
            return cached.value
        return self._fetch()

    def renew(self, stale: Revealable) -> SecretValue:
        cached = self._cached
        if cached is not None and cached.value.reveal() != stale.reveal():
            return cached.value  # someone renewed it already
        return self._fetch()

    def _fetch(self) -> SecretValue:
        self._cached = None
        started = self._clock()
        request = self.request
        value, lifetime = fetch_token(request, self._context, self._timeout)
        token = SecretValue(value)
        if lifetime is not None:
            self._cached = _Cached(token, started + lifetime - reuse_margin(lifetime))
        life = f"valid {lifetime:g}s" if lifetime is not None else "for one login"
        self._notify(
            f"OAuth2: fetched a token from {request.token_url} for "
            f"{request.subject or request.client_id}; {life}",
            oauth2="token",
            ttl=lifetime,
        )
        return token
