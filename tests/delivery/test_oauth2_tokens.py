"""OAuth2 tokens from a real HTTPS token endpoint on loopback: grants, reuse, failures."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from reconciler.delivery.oauth2 import OAuth2Tokens, reuse_margin
from reconciler.delivery.token_endpoint import (
    TokenEndpointFailure,
    TokenRequest,
    service_account_key,
)
from reconciler.vault.secret import SecretValue
from tests.support.oauth2 import (
    CLIENT_ID,
    CLIENT_SECRET,
    GOOGLE_SCOPE,
    MAILBOX,
    SCOPE,
    ServiceAccount,
    TokenEndpoint,
)
from tests.support.smtp import free_port


def client_credentials(url: str, secret: str = CLIENT_SECRET, scope: str = SCOPE) -> TokenRequest:
    return TokenRequest(
        grant="client-credentials",
        token_url=url,
        scope=scope,
        secret_name="vault secret/smtp/test#clientSecret",
        secret=lambda: SecretValue(secret),
        client_id=CLIENT_ID,
    )


def jwt_bearer(url: str, key_json: str, subject: str = MAILBOX) -> TokenRequest:
    return TokenRequest(
        grant="jwt-bearer",
        token_url=url,
        scope=GOOGLE_SCOPE,
        secret_name="vault secret/smtp/test#key.json",
        secret=lambda: SecretValue(key_json),
        subject=subject,
    )


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def failure_of(action: Callable[[], object]) -> TokenEndpointFailure:
    with pytest.raises(TokenEndpointFailure) as caught:
        action()
    return caught.value


@pytest.mark.parametrize(
    ("lifetime", "margin"), [(3600, 60), (600, 60), (300, 30), (3, 0.3), (0, 0)]
)
def test_a_token_is_reused_until_a_minute_or_a_tenth_of_its_life_is_left(
    lifetime: float, margin: float
) -> None:
    assert reuse_margin(lifetime) == pytest.approx(margin)


def test_client_credentials_token_is_reused_until_shortly_before_expiry(
    token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    clock = Clock()
    tokens = OAuth2Tokens(client_credentials(token_endpoint.url), ca_file=smtp_ca_file, clock=clock)

    first = tokens.token()
    clock.now += 3600 - 61  # a minute and a second before it expires
    again = tokens.token()
    clock.now += 2  # within the last minute
    renewed = tokens.token()

    assert first.reveal() == again.reveal() == token_endpoint.tokens[0]
    assert renewed.reveal() == token_endpoint.tokens[1] != first.reveal()
    [request, _] = token_endpoint.requests
    assert request == {
        "grant_type": "client_credentials",
        "scope": SCOPE,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert CLIENT_SECRET not in repr(tokens) and first.reveal() not in repr(tokens)


def test_a_refused_token_is_renewed_once_and_a_renewed_one_is_shared(
    token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    tokens = OAuth2Tokens(client_credentials(token_endpoint.url), ca_file=smtp_ca_file)
    stale = tokens.token()

    fresh = tokens.renew(stale)
    also_fresh = tokens.renew(stale)  # another login refused the same old token

    assert fresh.reveal() != stale.reveal()
    assert also_fresh.reveal() == fresh.reveal()
    assert len(token_endpoint.issued) == 2


def test_a_response_without_expires_in_serves_one_login(
    token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    token_endpoint.fail_next(200, {"access_token": "one-use", "token_type": "Bearer"})

    tokens = OAuth2Tokens(client_credentials(token_endpoint.url), ca_file=smtp_ca_file)

    assert tokens.token().reveal() == "one-use"
    assert tokens.token().reveal() == token_endpoint.tokens[0]  # fetched again


def test_the_jwt_bearer_grant_signs_for_the_mailbox(
    google_token_endpoint: TokenEndpoint, service_account: ServiceAccount, smtp_ca_file: str
) -> None:
    endpoint = google_token_endpoint
    tokens = OAuth2Tokens(
        jwt_bearer(endpoint.url, service_account.key_json()), ca_file=smtp_ca_file
    )

    token = tokens.token()

    [issued] = endpoint.issued
    assert (issued.value, issued.subject) == (token.reveal(), MAILBOX)
    assert endpoint.requests[0]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert "scope" not in endpoint.requests[0]  # Google reads it from the assertion


def test_a_key_of_another_account_is_refused_as_invalid_grant(
    google_token_endpoint: TokenEndpoint, service_account: ServiceAccount, smtp_ca_file: str
) -> None:
    endpoint = google_token_endpoint
    impostor = ServiceAccount(service_account.email, ServiceAccount.new().key)
    tokens = OAuth2Tokens(jwt_bearer(endpoint.url, impostor.key_json()), ca_file=smtp_ca_file)

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.permanent, failure.step) == (
        "invalid_grant",
        True,
        "oauth2-token",
    )
    assert str(failure) == (
        f"the token endpoint {endpoint.url} refused: invalid_grant: Invalid JWT Signature. "
        "(the identity provider refused the grant; for Google, check the domain-wide "
        "delegation of the service account and the mailbox in spec.username)"
    )
    assert impostor.private_key_pem not in str(failure)


def test_a_mailbox_without_delegation_is_refused(
    token_endpoint_factory: Callable[..., TokenEndpoint],
    service_account: ServiceAccount,
    smtp_ca_file: str,
) -> None:
    endpoint = token_endpoint_factory(
        scope=GOOGLE_SCOPE, service_account=service_account, mailboxes=("other@acme.example",)
    )
    tokens = OAuth2Tokens(
        jwt_bearer(endpoint.url, service_account.key_json()), ca_file=smtp_ca_file
    )

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.permanent) == ("unauthorized_client", True)
    assert "Client is unauthorized to retrieve access tokens" in str(failure)


def test_a_key_that_is_not_a_service_account_key_is_named(
    token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    tokens = OAuth2Tokens(jwt_bearer(token_endpoint.url, "not json"), ca_file=smtp_ca_file)

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.permanent) == ("invalid-key", True)
    assert str(failure) == (
        "the service account key in Vault is not a Google service account key "
        "(JSON with client_email and private_key)"
    )
    assert token_endpoint.requests == []
    with pytest.raises(ValueError, match="not a Google service account key"):
        service_account_key('{"client_email": "a@b.example"}')


def test_a_key_whose_private_key_is_not_pem_is_named(
    token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    key_json = '{"client_email": "a@b.example", "private_key": "-----BEGIN nothing"}'
    tokens = OAuth2Tokens(jwt_bearer(token_endpoint.url, key_json), ca_file=smtp_ca_file)

    failure = failure_of(tokens.token)

    assert (failure.reason, str(failure)) == (
        "invalid-key",
        "the private_key of the service account key in Vault is not an RSA key in PEM",
    )


def test_a_wrong_client_secret_is_invalid_client_without_the_secret(
    token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    wrong = "wrong-secret-ǂ-9d1c"
    tokens = OAuth2Tokens(client_credentials(token_endpoint.url, wrong), ca_file=smtp_ca_file)

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.permanent) == ("invalid_client", True)
    assert str(failure) == (
        f"the token endpoint {token_endpoint.url} refused: invalid_client: AADSTS7000215: "
        "Invalid client secret provided. (check clientId and the client secret in Vault)"
    )


def test_a_description_echoing_the_secret_is_scrubbed(
    token_endpoint: TokenEndpoint, smtp_ca_file: str
) -> None:
    token_endpoint.fail_next(
        401, {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"}
    )
    tokens = OAuth2Tokens(client_credentials(token_endpoint.url), ca_file=smtp_ca_file)

    failure = failure_of(tokens.token)

    assert CLIENT_SECRET not in str(failure)
    assert "bad secret [redacted]" in str(failure)


def test_another_scope_is_invalid_scope(token_endpoint: TokenEndpoint, smtp_ca_file: str) -> None:
    tokens = OAuth2Tokens(
        client_credentials(token_endpoint.url, scope="https://graph.microsoft.com/.default"),
        ca_file=smtp_ca_file,
    )

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.permanent) == ("invalid_scope", True)
    assert str(failure).endswith("(check spec.oauth2.scope)")


@pytest.mark.parametrize(
    ("status", "body", "reason", "temporary"),
    [
        (503, "<html>maintenance</html>", "server-error", True),
        (500, {"error": "server_error"}, "server-error", True),
        (400, {"error": "temporarily_unavailable"}, "temporarily_unavailable", True),
        (429, "slow down", "rate-limited", True),
        (404, "<html>not found</html>", "invalid-response", False),
        (200, "<html>a portal</html>", "invalid-response", False),
        (200, {"token_type": "Bearer"}, "invalid-response", False),
        (200, {"access_token": "t", "expires_in": "soon"}, "invalid-response", False),
    ],
)
def test_token_endpoint_failures_are_classified(
    token_endpoint: TokenEndpoint,
    smtp_ca_file: str,
    status: int,
    body: dict[str, str] | str,
    reason: str,
    temporary: bool,
) -> None:
    token_endpoint.fail_next(status, body)
    tokens = OAuth2Tokens(client_credentials(token_endpoint.url), ca_file=smtp_ca_file)

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.temporary) == (reason, temporary)
    assert token_endpoint.url in str(failure)


def test_a_redirect_is_not_followed(token_endpoint: TokenEndpoint, smtp_ca_file: str) -> None:
    token_endpoint.fail_next(307, "", headers={"Location": "http://127.0.0.1:9/token"})
    tokens = OAuth2Tokens(client_credentials(token_endpoint.url), ca_file=smtp_ca_file)

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.permanent) == ("invalid-response", True)
    assert "answered with a redirect" in str(failure)
    assert len(token_endpoint.requests) == 1


def test_nothing_listening_is_unreachable_and_temporary(smtp_ca_file: str) -> None:
    url = f"https://127.0.0.1:{free_port()}/token"
    tokens = OAuth2Tokens(client_credentials(url), ca_file=smtp_ca_file, timeout=2)

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.temporary) == ("unreachable", True)
    assert str(failure).startswith(f"cannot reach the token endpoint {url}: ")


def test_a_silent_endpoint_times_out(smtp_ca_file: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"https://127.0.0.1:{silent.getsockname()[1]}/token"
        tokens = OAuth2Tokens(client_credentials(url), ca_file=smtp_ca_file, timeout=0.3)

        failure = failure_of(tokens.token)

    assert (failure.reason, failure.temporary) == ("unreachable", True)
    assert str(failure) == f"the token endpoint {url} did not answer within 0.3s"


def test_an_untrusted_certificate_is_a_tls_failure(
    token_endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other_ca)
    tokens = OAuth2Tokens(client_credentials(token_endpoint.url), ca_file=str(other_ca))

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.permanent) == ("tls", True)
    assert "unable to get local issuer certificate" in str(failure)
    assert token_endpoint.requests == []


def test_the_system_store_does_not_trust_the_test_ca(token_endpoint: TokenEndpoint) -> None:
    """Without --ca-file, the system's CAs alone decide (not requests' own bundle)."""
    failure = failure_of(OAuth2Tokens(client_credentials(token_endpoint.url)).token)

    assert failure.reason == "tls"


def test_a_plaintext_token_url_is_never_contacted(smtp_ca_file: str) -> None:
    tokens = OAuth2Tokens(
        client_credentials(f"http://127.0.0.1:{free_port()}/token"), ca_file=smtp_ca_file
    )

    failure = failure_of(tokens.token)

    assert (failure.reason, failure.permanent) == ("not-https", True)
    assert str(failure).endswith("must be an https:// URL")
