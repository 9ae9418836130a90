"""One OAuth2 token from a token endpoint, over HTTPS, with Authlib; failures in words.

Two grants: client credentials (RFC 6749 4.4: Microsoft 365, or any token endpoint), and
the signed-JWT bearer grant (RFC 7523: a Google service account acting for a mailbox,
`sub` = that mailbox, the scope a claim of the assertion).

The endpoint is reached over HTTPS only, its certificate verified against the system
store or `--ca-file` (the same SSLContext as for SMTP), redirects never followed.
Failures are TokenEndpointFailure, temporary (retried by the runner) or permanent, whose
words never hold the secret or a token. Authlib, joserfc and requests are imported only
when a token is fetched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from reconciler.delivery.failures import DeliveryFailure
from reconciler.delivery.login import Revealable
from reconciler.vault.errors import innermost_reason

if TYPE_CHECKING:
    import ssl

    import requests

Grant = Literal["client-credentials", "jwt-bearer"]

#: OAuth2 error codes (RFC 6749 5.2, 4.1.2.1) that pass by themselves.
_TEMPORARY_ERRORS = ("temporarily_unavailable", "server_error", "slow_down")
#: What each permanent error code means for the person who set up the settings.
_ERROR_HINTS = {
    "invalid_client": "check clientId and the client secret in Vault",
    "unauthorized_client": (
        "the client may not use this grant; for Google, check the service account's "
        "domain-wide delegation: its client id and the scope"
    ),
    "invalid_scope": "check spec.oauth2.scope",
    "invalid_grant": (
        "the identity provider refused the grant; for Google, check the domain-wide "
        "delegation of the service account and the mailbox in spec.username"
    ),
    "invalid_request": "check spec.oauth2",
    "access_denied": "the identity provider refused access",
}


class TokenEndpointFailure(DeliveryFailure):
    """The token endpoint did not give a token; `reason` says why, for code and logs.

    Temporary reasons (unreachable, server-error, rate-limited, temporarily_unavailable)
    are retried by the runner; the others fail the job with the message.
    """

    def __init__(self, reason: str, message: str, *, temporary: bool) -> None:
        super().__init__("oauth2-token", message, temporary=temporary)
        self.reason = reason


@dataclass(frozen=True)
class TokenRequest:
    """What to ask which token endpoint for.

    `secret()` gives the client secret (client credentials) or the service account's
    key JSON (jwt-bearer), and `secret_name` says which secret that is (a Vault
    reference's `display()`), so that requests compare equal only when they read the
    same secret. `subject` is the mailbox a jwt-bearer token acts for.
    """

    grant: Grant
    token_url: str
    scope: str
    secret_name: str
    secret: Callable[[], Revealable] = field(repr=False, compare=False)
    client_id: str | None = None
    subject: str | None = None


def fetch_token(
    request: TokenRequest, context: ssl.SSLContext, timeout: float
) -> tuple[str, float | None]:
    """One token from the endpoint: (access token, lifetime in seconds or None).

    Raises TokenEndpointFailure, in words that never hold the secret or a token.
    """
    import requests
    from authlib.common.errors import AuthlibBaseError

    url = request.token_url
    if not url.startswith("https://"):  # the schema refuses it; never send a secret in clear
        raise TokenEndpointFailure(
            "not-https", f"the token endpoint {url} must be an https:// URL", temporary=False
        )
    secret = request.secret().reveal()
    try:
        with _session(request, secret, context, timeout) as session:
            token = _grant(session, request, secret)
    except requests.exceptions.SSLError as exc:
        raise TokenEndpointFailure(
            "tls",
            f"TLS connection to the token endpoint {url} failed: {innermost_reason(exc)} "
            "(its certificate must name its host and be signed by a CA in the system "
            "store or in --ca-file)",
            temporary=False,
        ) from None
    except requests.exceptions.Timeout:
        raise TokenEndpointFailure(
            "unreachable",
            f"the token endpoint {url} did not answer within {timeout:g}s",
            temporary=True,
        ) from None
    except requests.exceptions.TooManyRedirects:
        raise TokenEndpointFailure(
            "invalid-response",
            f"the token endpoint {url} answered with a redirect; give its own address",
            temporary=False,
        ) from None
    except requests.exceptions.HTTPError as exc:
        raise _http_failure(url, exc.response) from None
    except requests.exceptions.RequestException as exc:
        raise TokenEndpointFailure(
            "unreachable",
            f"cannot reach the token endpoint {url}: {innermost_reason(exc)}",
            temporary=True,
        ) from None
    except AuthlibBaseError as exc:
        raise _oauth2_failure(url, str(exc.error), exc.description or "", secret) from None
    except ValueError as exc:  # e.g. an answer that is not JSON
        raise TokenEndpointFailure(
            "invalid-response",
            f"no token from {url}: {_without(str(exc), secret)}",
            temporary=False,
        ) from None
    return _access_token(url, token)


def _session(
    request: TokenRequest, secret: str, context: ssl.SSLContext, timeout: float
) -> requests.Session:
    """An Authlib session for the grant, verifying certificates with `context` only."""
    from authlib.integrations.requests_client import AssertionSession, OAuth2Session

    session: requests.Session
    if request.grant == "client-credentials":
        session = OAuth2Session(
            client_id=request.client_id,
            client_secret=secret,
            scope=request.scope,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
            default_timeout=timeout,
        )
    else:
        from joserfc.errors import JoseError
        from joserfc.jwk import RSAKey

        try:
            key = service_account_key(secret)
            private_key = RSAKey.import_key(key["private_key"])
        except (ValueError, JoseError) as exc:
            raise TokenEndpointFailure("invalid-key", _key_problem(exc), temporary=False) from None
        header = {
            "alg": "RS256",
            **({"kid": key["private_key_id"]} if "private_key_id" in key else {}),
        }
        session = AssertionSession(
            token_endpoint=request.token_url,
            issuer=key["client_email"],
            subject=request.subject,
            audience=request.token_url,
            # Google takes the scope as a claim of the assertion.
            claims={"scope": request.scope},
            key=private_key,
            header=header,
            default_timeout=timeout,
        )
    session.mount("https://", _adapter(context))
    session.max_redirects = 0
    return session


def _grant(session: requests.Session, request: TokenRequest, secret: str) -> dict[str, Any]:
    if request.grant == "client-credentials":
        token: dict[str, Any] = session.fetch_token(  # type: ignore[attr-defined]
            request.token_url, grant_type="client_credentials"
        )
    else:
        token = session.refresh_token()  # type: ignore[attr-defined]
    return token


def service_account_key(text: str) -> dict[str, str]:
    """A Google service account key (the JSON the console downloads); ValueError if not."""
    try:
        key = json.loads(text)
    except ValueError:
        key = None
    if not isinstance(key, dict) or not all(
        isinstance(key.get(name), str) for name in ("client_email", "private_key")
    ):
        raise ValueError(
            "the service account key in Vault is not a Google service account key "
            "(JSON with client_email and private_key)"
        )
    return {name: value for name, value in key.items() if isinstance(value, str)}


def _key_problem(exc: Exception) -> str:
    if isinstance(exc, ValueError) and "service account key" in str(exc):
        return str(exc)
    return "the private_key of the service account key in Vault is not an RSA key in PEM"


def _adapter(context: ssl.SSLContext) -> requests.adapters.HTTPAdapter:
    from requests.adapters import HTTPAdapter

    class VerifyingAdapter(HTTPAdapter):
        """Verifies with `context` (system store or --ca-file), not requests' bundle."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            conn.cert_reqs = "CERT_REQUIRED"  # the context holds the CAs

    return VerifyingAdapter()


def _access_token(url: str, token: dict[str, Any]) -> tuple[str, float | None]:
    value = token.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenEndpointFailure(
            "invalid-response",
            f"the token endpoint {url} answered without an access_token",
            temporary=False,
        )
    lifetime = token.get("expires_in")  # Authlib has checked that it is a number
    return value, float(lifetime) if lifetime is not None else None


def _http_failure(url: str, response: requests.Response | None) -> TokenEndpointFailure:
    status = response.status_code if response is not None else 0
    if status == 429:
        return TokenEndpointFailure(
            "rate-limited", f"the token endpoint {url} is rate-limiting (HTTP 429)", temporary=True
        )
    if status >= 500:
        return TokenEndpointFailure(
            "server-error", f"the token endpoint {url} failed (HTTP {status})", temporary=True
        )
    return TokenEndpointFailure(
        "invalid-response",
        f"the token endpoint {url} answered HTTP {status} without an OAuth2 error",
        temporary=False,
    )


def _oauth2_failure(url: str, error: str, description: str, secret: str) -> TokenEndpointFailure:
    temporary = error in _TEMPORARY_ERRORS
    hint = _ERROR_HINTS.get(error, "")
    detail = " ".join(_without(description, secret).split())
    return TokenEndpointFailure(
        error,
        f"the token endpoint {url} refused: {error}"
        + (f": {detail}" if detail else "")
        + (f" ({hint})" if hint else ""),
        temporary=temporary,
    )


def _without(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text
