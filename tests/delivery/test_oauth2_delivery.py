"""OAuth2 settings end to end: apply, `deliver` and `test-email` through the real CLI, with
the client secret (or a service account key) in OpenBao, a real HTTPS token endpoint and
an aiosmtpd server that accepts only the endpoint's live tokens."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

from tests.delivery.conftest import Delivery, wait_for
from tests.delivery.test_runner_signals import stop
from tests.support.manifests import vault_password
from tests.support.oauth2 import (
    CLIENT_ID,
    CLIENT_SECRET,
    MAILBOX,
    SCOPE,
    ServiceAccount,
    TokenEndpoint,
)
from tests.support.smtp import SmtpSink, free_port

LIFETIME = 3.0  # seconds: short enough to outlive within a test


def use_oauth2(
    delivery: Delivery,
    server: SmtpSink,
    oauth2: dict[str, Any],
    secrets: dict[str, str],
) -> None:
    """Apply settings `primary` for `server` logging in as MAILBOX with `oauth2`; the
    Vault keys in `secrets` are written to a fresh path that `oauth2` refers to as PATH."""
    path = delivery.openbao.fresh_path()
    delivery.openbao.write(path, secrets)
    resolved = {
        name: vault_password(f"secret/{path}", value["key"])
        if isinstance(value, dict) and "key" in value
        else value
        for name, value in oauth2.items()
    }
    delivery.apply(
        server, settings_spec={"username": MAILBOX, "password": None, "oauth2": resolved}
    )


def use_client_credentials(
    delivery: Delivery, server: SmtpSink, endpoint: TokenEndpoint, secret: str = CLIENT_SECRET
) -> None:
    """`use_oauth2` with `endpoint`'s client credentials, the client secret `secret`."""
    use_oauth2(delivery, server, client_credentials(endpoint), {"clientSecret": secret})


def client_credentials(endpoint: TokenEndpoint) -> dict[str, Any]:
    return {
        "tokenUrl": endpoint.url,
        "clientId": CLIENT_ID,
        "clientSecret": {"key": "clientSecret"},
        "scope": SCOPE,
    }


def test_test_email_logs_in_with_a_token(
    blank_delivery: Delivery, xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint
) -> None:
    use_client_credentials(blank_delivery, xoauth2_server, token_endpoint)

    result = blank_delivery.run(
        "test-email", "primary", "--to", "ops@acme.example", "--ca-file", blank_delivery.ca_file
    )

    assert result.code == 0, result.output
    assert f"logged in as {MAILBOX} with OAuth2 (XOAUTH2): 250" in result.stdout
    assert [a.mechanism for a in xoauth2_server.sessions[0].auth] == ["XOAUTH2"]
    assert len(token_endpoint.issued) == 1


def test_the_runner_delivers_across_a_tokens_expiry_with_one_new_token(
    blank_delivery: Delivery,
    smtp_server_factory: Callable[..., SmtpSink],
    token_endpoint_factory: Callable[..., TokenEndpoint],
    runners: list[subprocess.Popen[str]],
) -> None:
    endpoint = token_endpoint_factory(lifetime=LIFETIME)
    server = smtp_server_factory(tls=True, auth_required=True, xoauth2=endpoint.is_live)
    use_client_credentials(blank_delivery, server, endpoint)
    first = [blank_delivery.add_invoice("INV-1"), blank_delivery.add_invoice("INV-2")]

    runner = blank_delivery.start_runner("--poll-interval", "0.1")
    runners.append(runner)
    wait_for(lambda: len(server.messages) == 2, "the first two invoices")
    [token] = endpoint.tokens
    wait_for(lambda: not endpoint.is_live(MAILBOX, token), "the first token to expire", 10)
    last = blank_delivery.add_invoice("INV-3")
    wait_for(lambda: len(server.messages) == 3, "the invoice after the expiry")

    assert stop(runner) == 0, blank_delivery.runner_log
    assert len(endpoint.issued) == 2  # exactly one new token
    assert all(blank_delivery.show(job)["status"] == "sent" for job in [*first, last])
    attempts = [a for session in server.sessions for a in session.auth]
    # The runner renewed the expired token itself: the server never refused one.
    assert [(a.mechanism, a.succeeded) for a in attempts] == [("XOAUTH2", True)] * len(attempts)
    fetched = [line for line in blank_delivery.runner_log.splitlines() if "OAuth2:" in line]
    assert fetched == [f"OAuth2: fetched a token from {endpoint.url} for {CLIENT_ID}; valid 3s"] * 2
    for token in endpoint.tokens:
        assert token not in blank_delivery.runner_log


def test_a_wrong_client_secret_fails_the_job_with_the_reason(
    blank_delivery: Delivery, xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint
) -> None:
    use_client_credentials(blank_delivery, xoauth2_server, token_endpoint, "an-old-secret")
    job = blank_delivery.add_invoice()

    result = blank_delivery.deliver_once()

    assert result.code == 1
    shown = blank_delivery.show(job)
    assert (shown["status"], shown["attemptLog"][0]["outcome"]) == ("failed", "oauth2-token")
    assert shown["failure"] == (
        f"the token endpoint {token_endpoint.url} refused: invalid_client: AADSTS7000215: "
        "Invalid client secret provided. (check clientId and the client secret in Vault)"
    )
    assert all("AUTH" not in s.verbs for s in xoauth2_server.sessions)
    assert xoauth2_server.messages == []


def test_test_email_names_a_refused_client(
    blank_delivery: Delivery, xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint
) -> None:
    use_client_credentials(blank_delivery, xoauth2_server, token_endpoint, "x")

    result = blank_delivery.run(
        "test-email", "primary", "--to", "ops@acme.example", "--ca-file", blank_delivery.ca_file
    )

    assert result.code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"Error: test email via 127.0.0.1:{xoauth2_server.port} failed: OAuth2 token request "
        f"failed: the token endpoint {token_endpoint.url} refused: invalid_client"
    )


def test_an_unreachable_token_endpoint_is_retried(
    blank_delivery: Delivery, xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint
) -> None:
    oauth2 = {
        **client_credentials(token_endpoint),
        "tokenUrl": f"https://127.0.0.1:{free_port()}/t",
    }
    use_oauth2(blank_delivery, xoauth2_server, oauth2, {"clientSecret": CLIENT_SECRET})
    job = blank_delivery.add_invoice()

    result = blank_delivery.deliver_once("--retry-base-delay", "60")

    assert result.code == 0, result.output
    shown = blank_delivery.show(job)
    assert (shown["status"], shown["attemptLog"][0]["outcome"]) == ("retrying", "oauth2-token")
    assert shown["failure"].startswith("cannot reach the token endpoint https://127.0.0.1:")


def test_a_token_endpoint_outage_is_retried_then_delivered(
    blank_delivery: Delivery, xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint
) -> None:
    use_client_credentials(blank_delivery, xoauth2_server, token_endpoint)
    token_endpoint.fail_next(503, "<html>down for maintenance</html>")
    job = blank_delivery.add_invoice()

    assert blank_delivery.deliver_once().code == 0  # retried at once: no delay in tests

    shown = blank_delivery.show(job)
    assert shown["status"] == "sent"
    assert [a["outcome"] for a in shown["attemptLog"]] == ["oauth2-token", "sent"]
    assert len(xoauth2_server.messages) == 1


def test_google_service_account_acts_for_the_mailbox(
    blank_delivery: Delivery,
    smtp_server_factory: Callable[..., SmtpSink],
    google_token_endpoint: TokenEndpoint,
    service_account: ServiceAccount,
) -> None:
    endpoint = google_token_endpoint
    server = smtp_server_factory(tls=True, auth_required=True, xoauth2=endpoint.is_live)
    oauth2 = {
        "provider": "google",
        "tokenUrl": endpoint.url,  # Google's own, oauth2.googleapis.com, in production
        "serviceAccountKey": {"key": "key.json"},
    }
    use_oauth2(blank_delivery, server, oauth2, {"key.json": service_account.key_json()})
    job = blank_delivery.add_invoice()

    result = blank_delivery.deliver_once()

    assert result.code == 0, result.output
    assert blank_delivery.show(job)["status"] == "sent"
    [issued] = endpoint.issued
    assert issued.subject == MAILBOX
    assert [a.username for a in server.sessions[0].auth] == [MAILBOX]


def test_a_server_without_xoauth2_fails_the_job_clearly(
    blank_delivery: Delivery, smtp_server: SmtpSink, token_endpoint: TokenEndpoint
) -> None:
    use_client_credentials(blank_delivery, smtp_server, token_endpoint, "x")
    job = blank_delivery.add_invoice()

    assert blank_delivery.deliver_once().code == 1

    failure = blank_delivery.show(job)["failure"]
    assert "does not offer AUTH XOAUTH2 (it offers LOGIN PLAIN)" in failure
    assert token_endpoint.requests == []


def test_a_client_secret_missing_in_vault_is_a_vault_failure(
    blank_delivery: Delivery, xoauth2_server: SmtpSink, token_endpoint: TokenEndpoint
) -> None:
    use_client_credentials(blank_delivery, xoauth2_server, token_endpoint)
    blank_delivery.openbao.admin.secrets.kv.v2.delete_metadata_and_all_versions(
        path=_secret_path(blank_delivery), mount_point="secret"
    )
    job = blank_delivery.add_invoice()

    assert blank_delivery.deliver_once().code == 1

    shown = blank_delivery.show(job)
    assert shown["attemptLog"][0]["outcome"] == "vault-no-such-path"
    assert token_endpoint.requests == []


def _secret_path(delivery: Delivery) -> str:
    """The Vault path of the client secret the applied settings `primary` name."""
    result = delivery.run("get", "smtpsettings", "primary", "-o", "json")
    spec = json.loads(result.stdout)["spec"]
    return str(spec["oauth2"]["clientSecret"]["vault"]["path"]).removeprefix("secret/")
