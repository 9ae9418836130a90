"""`smtpcfg probe`: look at the SMTP servers of SmtpSettings without sending mail.

Each settings' server is opened exactly as delivery opens it (`SmtpConnection.open()`:
DNS, TCP, the greeting, TLS implicit on 465 or STARTTLS, EHLO, AUTH with the password
from Vault or XOAUTH2 with an OAuth2 token), then closed with QUIT: never MAIL FROM.
Certificates are verified, no credentials cross plaintext, and the timeout bounds each
whole reply, as in delivery; what the session recorded is then judged step by step
(`probe_checks`). Servers are probed in parallel, at most `ProbeOptions.parallel` at a
time.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.delivery.failures import DeliveryFailure
from reconciler.delivery.login import Login, OAuth2Login, PasswordLogin
from reconciler.delivery.oauth2 import OAuth2Tokens
from reconciler.delivery.options import ProbeOptions
from reconciler.delivery.probe_checks import Finding, Observed, StepResult, assess
from reconciler.delivery.settings_login import settings_login
from reconciler.delivery.token_endpoint import TokenRequest
from reconciler.delivery.transport import SmtpConnection, SmtpEndpoint, tls_context
from reconciler.model import Resource, ResourceKey, VaultReference
from reconciler.vault.errors import VaultLookupError

if TYPE_CHECKING:
    from reconciler.vault.resolver import VaultResolver


@dataclass(frozen=True)
class ProbeResult:
    """One SmtpSettings' probe: its server and every step's outcome."""

    key: ResourceKey
    endpoint: SmtpEndpoint
    steps: list[StepResult]

    @property
    def findings(self) -> list[Finding]:
        return [finding for step in self.steps for finding in step.findings]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.key.name,
            "host": self.endpoint.host,
            "port": self.endpoint.port,
            "tls": "implicit" if self.endpoint.uses_implicit_tls else "starttls",
            "startTlsOnly": self.endpoint.start_tls_only,
            "steps": [step.to_json() for step in self.steps],
            "findings": [
                {"level": f.level, "step": f.step, "message": f.message} for f in self.findings
            ],
        }


@dataclass(frozen=True)
class ProbeReport:
    results: list[ProbeResult]

    def count(self, level: str) -> int:
        return sum(1 for r in self.results for finding in r.findings if finding.level == level)

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def warnings(self) -> int:
        return self.count("warning")

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": [result.to_json() for result in self.results],
            "summary": {
                "probed": len(self.results),
                "errors": self.errors,
                "warnings": self.warnings,
            },
        }


def probe_settings(
    settings: Sequence[Resource],
    resolver: Callable[[], VaultResolver],
    options: ProbeOptions,
) -> ProbeReport:
    """Probe each SmtpSettings (normalized, as planned or stored), in their order.

    Passwords are read from Vault first, each distinct reference once; Vault is not
    asked when no settings has one. An OAuth2 settings fetches its token (reading its
    client secret or key) when it logs in, as delivery does.
    """
    if not settings:
        return ProbeReport([])
    context = tls_context(options.ca_file)  # a bad CA file fails once, now; shared
    logins = _logins(settings, resolver, options)
    with ThreadPoolExecutor(max_workers=min(options.parallel, len(settings))) as pool:
        results = pool.map(
            lambda resource: probe_one(
                resource.key,
                SmtpEndpoint.from_spec(
                    resource.spec, timeout=options.timeout, ca_file=options.ca_file
                ),
                resource.spec.get("maxAttachmentSize"),
                logins.get(resource.key),
                options,
                context,
            ),
            settings,
        )
        return ProbeReport(list(results))


def probe_one(
    key: ResourceKey,
    endpoint: SmtpEndpoint,
    max_attachment_size: int | None,
    login: Login | str | None,
    options: ProbeOptions,
    context: ssl.SSLContext | None = None,
) -> ProbeResult:
    """Open and close one session to `endpoint`, then judge it. `login`: how to log in
    (see reconciler.delivery.login), or why Vault did not give the password (a str), or
    None without a username; `context`: the TLS context to share (see SmtpConnection)."""
    secret_error = login if isinstance(login, str) else None
    # Without its password the server is still looked at, without logging in.
    given = None if isinstance(login, str) else login
    connection = SmtpConnection(endpoint, given, context=context)
    failure: DeliveryFailure | None = None
    try:
        connection.open()
    except DeliveryFailure as caught:
        failure = caught
    except VaultLookupError as caught:  # an OAuth2 secret, read as the token is fetched
        secret_error = str(caught)
    finally:
        connection.close()
    assert connection.record is not None  # open() makes it first
    seen = Observed(
        endpoint=endpoint,
        max_attachment_size=max_attachment_size,
        record=connection.record,
        failure=failure,
        username=given.username if given is not None else None,
        password_error=secret_error,
        secret="OAuth2 secret" if isinstance(given, OAuth2Login) else "password",
        now=time.time(),
        expiry_days=options.expiry_days,
    )
    return ProbeResult(key, endpoint, assess(seen))


def _logins(
    settings: Sequence[Resource], resolver: Callable[[], VaultResolver], options: ProbeOptions
) -> dict[ResourceKey, Login | str]:
    """Each settings' login (its password read now, concurrently), or the reason Vault
    did not give the password."""

    def tokens(request: TokenRequest) -> OAuth2Tokens:
        return OAuth2Tokens(request, ca_file=options.ca_file, timeout=options.timeout)

    # An OAuth2 login reads its secret when a token is fetched, as delivery's does.
    logins: dict[ResourceKey, Login | str] = {
        resource.key: login
        for resource in settings
        if "oauth2" in resource.spec
        and (login := settings_login(resource.spec, resolver, tokens)) is not None
    }
    references = {
        resource.key: VaultReference.from_spec(resource.spec["password"])
        for resource in settings
        if "password" in resource.spec
    }
    if not references:
        return logins
    read = resolver().resolve_all(references.values(), concurrency=options.parallel)
    for resource in settings:
        reference = references.get(resource.key)
        if reference is not None:
            outcome = read[reference]
            logins[resource.key] = (
                str(outcome)
                if isinstance(outcome, VaultLookupError)
                else PasswordLogin(resource.spec["username"], outcome.value)
            )
    return logins
