"""A real OAuth2 token endpoint for tests: HTTPS on loopback, in a thread.

`TokenEndpoint` serves `POST /token` with two grants, checked the way identity providers
check them:

- client credentials (RFC 6749 4.4): `client_id` and `client_secret` in the form or in
  HTTP Basic; a wrong pair is `401 invalid_client`, another scope `400 invalid_scope`;
- the JWT bearer grant (RFC 7523), as Google serves service accounts: the assertion's
  RS256 signature is verified against the service account's public key (with
  `cryptography`, independently of the library under test), `iss` must be the account,
  `aud` the endpoint, `exp` in the future, `scope` the one asked for, and `sub` a mailbox
  the account may act for (else `400 invalid_grant`).

Tokens are random, live `lifetime` seconds, and are recorded (`issued`), so an SMTP
server can accept only live ones (`is_live`, see `SmtpSink(xoauth2=...)`) and tests can
count fetches and look for tokens in what was written. `fail_next(status, body)` answers
the next requests with an error. As a pytest plugin (`pytest_plugins`), it provides
`token_endpoint` (certificate from the session's `smtp_ca`, so `smtp_ca_file` trusts it),
`token_endpoint_factory(**options)`, `service_account` (a `ServiceAccount` with a fresh
key), `google_token_endpoint` (the JWT-bearer grant for it, acting for `MAILBOX`) and
`xoauth2_server` (an SmtpSink accepting `token_endpoint`'s live tokens).
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.smtp import SmtpSink

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "GOOGLE_SCOPE",
    "MAILBOX",
    "SCOPE",
    "IssuedToken",
    "ServiceAccount",
    "TokenEndpoint",
    "google_token_endpoint",
    "service_account",
    "token_endpoint",
    "token_endpoint_factory",
    "xoauth2_server",
]

#: The mailbox tokens act for: XOAUTH2's `user`, the `sub` of a JWT-bearer token.
MAILBOX = "billing@acme.example"
GOOGLE_SCOPE = "https://mail.google.com/"
CLIENT_ID = "3f2c6a1e-smtpcfg-tests"
CLIENT_SECRET = "client-secret-for-tests"
SCOPE = "https://outlook.office365.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class ServiceAccount:
    """A Google-style service account: its key JSON, and the mailboxes it may act for."""

    email: str
    key: rsa.RSAPrivateKey = field(repr=False)
    key_id: str = "test-key-1"

    @classmethod
    def new(cls, email: str = "smtpcfg@billing-tests.iam.gserviceaccount.com") -> ServiceAccount:
        return cls(email, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def private_key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def key_json(self, token_uri: str = "https://oauth2.googleapis.com/token") -> str:
        """The JSON file Google's console gives for a service account key."""
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "billing-tests",
                "private_key_id": self.key_id,
                "private_key": self.private_key_pem,
                "client_email": self.email,
                "client_id": "109876543210",
                "token_uri": token_uri,
            }
        )


@dataclass(frozen=True)
class IssuedToken:
    value: str
    subject: str | None  # the mailbox of a JWT-bearer token; None for client credentials
    expires_at: float  # time.monotonic()


class TokenEndpoint:
    """The token endpoint at `url`; see the module's docstring."""

    def __init__(
        self,
        tls: ssl.SSLContext,
        *,
        lifetime: float = 3600.0,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        scope: str = SCOPE,
        service_account: ServiceAccount | None = None,
        mailboxes: tuple[str, ...] = (),
    ) -> None:
        self.lifetime = lifetime
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.service_account = service_account
        self.mailboxes = mailboxes
        self.lock = threading.Lock()
        self.issued: list[IssuedToken] = []
        self.requests: list[dict[str, str]] = []  # the forms received, secrets included
        self._failures: list[tuple[int, dict[str, Any] | str, dict[str, str]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/token"

    def start(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(
        self,
        status: int,
        body: dict[str, Any] | str,
        count: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `count` requests with `status` and `body` (JSON, or text)."""
        with self.lock:
            self._failures.extend([(status, body, headers or {})] * count)

    def revoke_all(self) -> None:
        """Every token issued so far stops being live (as an admin revoking sessions)."""
        with self.lock:
            self.issued = [IssuedToken(t.value, t.subject, 0.0) for t in self.issued]

    def is_live(self, username: str, token: str) -> bool:
        """Whether `token` was issued here, has not expired, and may act for `username`."""
        now = time.monotonic()
        with self.lock:
            return any(
                t.value == token and now < t.expires_at and t.subject in (None, username)
                for t in self.issued
            )

    @property
    def tokens(self) -> list[str]:
        with self.lock:
            return [t.value for t in self.issued]

    def answer(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, body, extra headers) for one token request."""
        with self.lock:
            self.requests.append(form)
            if self._failures:
                return self._failures.pop(0)
        if form.get("grant_type") == "client_credentials":
            return (*self._client_credentials(form, basic), {})
        if form.get("grant_type") == JWT_BEARER:
            return (*self._jwt_bearer(form.get("assertion", "")), {})
        return 400, {"error": "unsupported_grant_type"}, {}

    def _client_credentials(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> tuple[int, Any]:
        given = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if given != (self.client_id, self.client_secret):
            return 401, {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
            }
        if form.get("scope") != self.scope:
            return 400, {
                "error": "invalid_scope",
                "error_description": f"The scope {form.get('scope')!r} is not valid.",
            }
        return 200, self._issue(None)

    def _jwt_bearer(self, assertion: str) -> tuple[int, Any]:
        account = self.service_account
        claims = _verified_claims(assertion, account.key.public_key()) if account else None
        if account is None or claims is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if claims.get("iss") != account.email or claims.get("aud") != self.url:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: iss/aud"}
        if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: expired"}
        if claims.get("scope") != self.scope:
            return 400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope."}
        if claims.get("sub") not in self.mailboxes:
            return 401, {
                "error": "unauthorized_client",
                "error_description": "Client is unauthorized to retrieve access tokens.",
            }
        return 200, self._issue(str(claims["sub"]))

    def _issue(self, subject: str | None) -> dict[str, Any]:
        token = IssuedToken(
            f"tok-{secrets.token_urlsafe(24)}", subject, time.monotonic() + self.lifetime
        )
        with self.lock:
            self.issued.append(token)
        return {"access_token": token.value, "token_type": "Bearer", "expires_in": self.lifetime}


def _verified_claims(assertion: str, public_key: rsa.RSAPublicKey) -> dict[str, Any] | None:
    """The claims of an RS256 JWT whose signature `public_key` verifies; else None."""
    try:
        header, payload, signature = assertion.split(".")
        if json.loads(_unb64(header)).get("alg") != "RS256":
            return None
        public_key.verify(
            _unb64(signature),
            f"{header}.{payload}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        claims: dict[str, Any] = json.loads(_unb64(payload))
    except (ValueError, InvalidSignature):
        return None
    return claims


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _handler(endpoint: TokenEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            status, body, extra = endpoint.answer(form, _basic(self.headers.get("Authorization")))
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            kind = "text/html" if isinstance(body, str) else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read `issued` and `requests`

    return Handler


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return urllib.parse.unquote(user), urllib.parse.unquote(password)


@pytest.fixture
def service_account() -> ServiceAccount:
    return ServiceAccount.new()


@pytest.fixture
def token_endpoint_factory(
    smtp_tls_context: ssl.SSLContext,
) -> Iterator[Callable[..., TokenEndpoint]]:
    """Starts a TokenEndpoint with any options, trusted through `smtp_ca_file`; all are
    stopped at teardown."""
    started: list[TokenEndpoint] = []

    def start(**options: Any) -> TokenEndpoint:
        started.append(TokenEndpoint(smtp_tls_context, **options).start())
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.stop()


@pytest.fixture
def token_endpoint(token_endpoint_factory: Callable[..., TokenEndpoint]) -> TokenEndpoint:
    """A client-credentials endpoint whose tokens live an hour."""
    return token_endpoint_factory()


@pytest.fixture
def google_token_endpoint(
    token_endpoint_factory: Callable[..., TokenEndpoint], service_account: ServiceAccount
) -> TokenEndpoint:
    """Google's way: `service_account` may act for MAILBOX with the scope GOOGLE_SCOPE."""
    return token_endpoint_factory(
        scope=GOOGLE_SCOPE, service_account=service_account, mailboxes=(MAILBOX,)
    )


@pytest.fixture
def xoauth2_server(
    smtp_server_factory: Callable[..., SmtpSink], token_endpoint: TokenEndpoint
) -> SmtpSink:
    """An SmtpSink with STARTTLS and login required, offering XOAUTH2 and accepting only
    `token_endpoint`'s live tokens."""
    return smtp_server_factory(tls=True, auth_required=True, xoauth2=token_endpoint.is_live)
