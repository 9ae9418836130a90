"""The SMTP password appears nowhere but in the sending process's memory, and neither do
an OAuth2 client secret, a service account's private key or any access token.

Every delivery command runs with unique secrets, successes and failures alike, and then
their output, the runner's logs, plan files and the whole store are searched for them
(raw, and base64-encoded as AUTH PLAIN, AUTH LOGIN, HTTP Basic and XOAUTH2 send them).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from pathlib import Path

from reconciler.delivery.login import xoauth2_response
from tests.delivery.conftest import Delivery
from tests.support.cli import Result
from tests.support.manifests import vault_password
from tests.support.oauth2 import CLIENT_ID, MAILBOX, SCOPE, ServiceAccount, TokenEndpoint
from tests.support.smtp import SERVER_USERNAME, SmtpSink
from tests.support.stores import backend, execute

#: Characters of the password found nowhere else, as text and as Python escapes them.
RARE = ("ǂ", "\\u01c2", "\\xc7\\x82")


def forms_of(secret: str) -> list[bytes]:
    """The secret as bytes might hold it: raw, hex, and base64 as SMTP AUTH encodes it,
    and its rare non-ASCII character alone (smtplib's ASCII login once printed it)."""
    raw = secret.encode()
    plain = f"\0{SERVER_USERNAME}\0{secret}".encode()
    return [
        raw,
        raw.hex().encode(),
        base64.b64encode(raw),
        base64.b64encode(plain),
        *(form.encode() for form in RARE),
    ]


def store_contents(store_url: str, folder: Path) -> bytes:
    """Every byte of the store: its files (SQLite), or every row of every table."""
    if backend(store_url) == "sqlite":
        return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())
    tables = execute(
        store_url,
        ["SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"],
    )
    rows = [execute(store_url, [f'SELECT t::text FROM "{name}" t']) for (name,) in tables]
    return repr(rows).encode()


def test_the_password_is_in_no_output_log_or_store(
    delivery: Delivery,
    smtp_server_factory: Callable[..., SmtpSink],
    store_url: str,
    tmp_path: Path,
) -> None:
    secret = f"{uuid.uuid4().hex}-pässwörd-ǂ"  # a non-ASCII login goes out as UTF-8
    delivery.set_password(secret)
    accepting = smtp_server_factory(
        tls=True, username=SERVER_USERNAME, password=secret, auth_required=True
    )
    rejecting = smtp_server_factory(
        tls=True, username=SERVER_USERNAME, password="other", auth_required=True
    )
    attachment = tmp_path / "INV-1.pdf"
    attachment.write_bytes(b"%PDF-1.4 invoice")
    results: list[Result] = []

    def run(*args: str | Path) -> Result:
        results.append(delivery.run(*args))
        return results[-1]

    delivery.apply(accepting)
    first = delivery.add_invoice("INV-1", "--attach", attachment)
    assert run(*delivery.deliver_args("--once")).code == 0
    delivery.add_invoice("INV-2")
    assert run(*delivery.deliver_args("--once", "--log-format", "json")).code == 0
    assert run("test-email", "primary", "--user", "jane", "--ca-file", delivery.ca_file).code == 0
    delivery.apply(rejecting)
    failing = delivery.add_invoice("INV-3")
    assert run(*delivery.deliver_args("--once")).code == 1
    assert run(*delivery.deliver_args("--once", "--log-format", "json")).code == 0
    assert (
        run("test-email", "primary", "--to", "ops@acme.example", "--ca-file", delivery.ca_file).code
        == 1
    )
    for args in (
        ["list"],
        ["list", "-o", "json"],
        ["list", "-o", "csv"],
        ["show", str(first)],
        ["retry", str(failing), "--reason", "password rotated"],
        ["show", str(failing), "-o", "json"],
        ["show", str(failing)],
    ):
        assert run("outbox", *args).code == 0

    # The password was really used: one server took it, the other turned it down.
    assert len(accepting.messages) == 3
    assert len(rejecting.sessions) == 2  # the runner's, and test-email's
    assert all(s.auth and not any(a.succeeded for a in s.auth) for s in rejecting.sessions)
    assert "authentication rejected" in results[-8].stderr
    output = "".join(r.stdout + r.stderr for r in results).encode()
    stored = store_contents(store_url, tmp_path)
    for form in forms_of(secret):
        assert form not in output
        assert form not in stored


def oauth2_forms(secret: str, account: ServiceAccount, tokens: list[str]) -> list[bytes]:
    """The OAuth2 secrets as bytes might hold them: the client secret (raw, hex, base64 as
    HTTP Basic sends it), a line of the private key, and each token (raw, and base64 as
    XOAUTH2 sends it)."""
    key_line = account.private_key_pem.splitlines()[5]
    return [
        *forms_of(secret),
        base64.b64encode(f"{CLIENT_ID}:{secret}".encode()),
        key_line.encode(),
        *(token.encode() for token in tokens),
        *(base64.b64encode(xoauth2_response(MAILBOX, token).encode()) for token in tokens),
    ]


def test_no_client_secret_private_key_or_token_is_in_any_output_log_or_store(
    blank_delivery: Delivery,
    smtp_server_factory: Callable[..., SmtpSink],
    token_endpoint_factory: Callable[..., TokenEndpoint],
    google_token_endpoint: TokenEndpoint,
    service_account: ServiceAccount,
    store_url: str,
    tmp_path: Path,
) -> None:
    delivery = blank_delivery
    secret = f"{uuid.uuid4().hex}-clïent-secret-ǂ"
    microsoft = token_endpoint_factory(client_secret=secret)
    google = google_token_endpoint
    accepting = smtp_server_factory(
        tls=True,
        auth_required=True,
        xoauth2=lambda user, token: microsoft.is_live(user, token) or google.is_live(user, token),
    )
    path = delivery.openbao.fresh_path()
    delivery.openbao.write(path, {"clientSecret": secret, "key": service_account.key_json()})
    reference = f"secret/{path}"
    generic = {
        "tokenUrl": microsoft.url,
        "clientId": CLIENT_ID,
        "clientSecret": vault_password(reference, "clientSecret"),
        "scope": SCOPE,
    }
    service = {
        "provider": "google",
        "tokenUrl": google.url,
        "serviceAccountKey": vault_password(reference, "key"),
    }
    results: list[Result] = []

    def run(*args: str | Path) -> Result:
        results.append(delivery.run(*args))
        return results[-1]

    def use(oauth2: dict[str, object]) -> None:
        delivery.apply(
            accepting, settings_spec={"username": MAILBOX, "password": None, "oauth2": oauth2}
        )
        manifests = delivery.workdir / "manifests"
        assert run("plan", "-f", manifests, "--format", "json").code == 0
        assert run("plan", "-f", manifests, "--out", tmp_path / "plan.json").code == 0

    use(generic)
    delivery.add_invoice("INV-1")
    assert run(*delivery.deliver_args("--once", "--log-format", "json")).code == 0
    assert run("test-email", "primary", "--user", "jane", "--ca-file", delivery.ca_file).code == 0
    use(service)
    delivery.add_invoice("INV-2")
    assert run(*delivery.deliver_args("--once")).code == 0
    microsoft.revoke_all()
    google.revoke_all()  # every login now meets a refused token first
    delivery.add_invoice("INV-3")
    assert run(*delivery.deliver_args("--once", "--log-format", "json")).code == 0
    use({**generic, "clientSecret": vault_password(reference, "key")})  # the wrong secret
    failing = delivery.add_invoice("INV-4")
    assert run(*delivery.deliver_args("--once")).code == 1
    assert run("test-email", "primary", "--to", "a@b.example", "--ca-file", delivery.ca_file).code
    for args in (["outbox", "show", str(failing), "-o", "json"], ["outbox", "list"]):
        assert run(*args).code == 0
    for args in (["history", "-o", "json"], ["get", "-o", "yaml"], ["export"]):
        assert run(*args).code == 0

    # The secrets were really used: tokens issued for both grants, mail accepted.
    assert len(accepting.messages) == 4
    assert microsoft.issued and google.issued
    assert "invalid_client" in results[-6].stderr + results[-5].stderr
    output = "".join(r.stdout + r.stderr for r in results).encode()
    stored = store_contents(store_url, tmp_path)
    files = b"".join(p.read_bytes() for p in sorted(tmp_path.rglob("*.json")) if p.is_file())
    for form in oauth2_forms(secret, service_account, microsoft.tokens + google.tokens):
        assert form not in output
        assert form not in stored
        assert form not in files
