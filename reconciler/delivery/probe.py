"""`smtpcfg probe`: look at the SMTP servers of SmtpSettings without sending mail.

Each settings' server is opened exactly as delivery opens it (`SmtpConnection.open()`:
DNS, TCP, the greeting, TLS implicit on 465 or STARTTLS, EHLO, AUTH with the password
from Vault), then closed with QUIT: never MAIL FROM. Certificates are verified, no
credentials cross plaintext, and the timeout bounds each whole reply, as in delivery;
what the session recorded is then judged step by step (`probe_checks`). Servers are
probed in parallel, at most `ProbeOptions.parallel` at a time.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from reconciler.delivery.failures import DeliveryFailure
from reconciler.delivery.options import ProbeOptions
from reconciler.delivery.probe_checks import Finding, Observed, StepResult, assess
from reconciler.delivery.transport import Password, SmtpConnection, SmtpEndpoint, tls_context
from reconciler.model import Resource, ResourceKey, VaultReference

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
    asked when no settings has one.
    """
    if not settings:
        return ProbeReport([])
    context = tls_context(options.ca_file)  # a bad CA file fails once, now; shared
    passwords = _passwords(settings, resolver, options.parallel)
    with ThreadPoolExecutor(max_workers=min(options.parallel, len(settings))) as pool:
        results = pool.map(
            lambda resource: probe_one(
                resource.key,
                SmtpEndpoint.from_spec(
                    resource.spec, timeout=options.timeout, ca_file=options.ca_file
                ),
                resource.spec.get("maxAttachmentSize"),
                passwords.get(resource.key),
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
    password: Password | str | None,
    options: ProbeOptions,
    context: ssl.SSLContext | None = None,
) -> ProbeResult:
    """Open and close one session to `endpoint`, then judge it. `password`: the
    password, or why Vault did not give it (a str), or None without a username;
    `context`: the TLS context to share (see SmtpConnection)."""
    password_error = password if isinstance(password, str) else None
    secret = None if isinstance(password, str) else password
    # Without its password the server is still looked at, without logging in.
    connecting = endpoint if secret is not None else replace(endpoint, username=None)
    connection = SmtpConnection(connecting, secret, context=context)
    failure: DeliveryFailure | None = None
    try:
        connection.open()
    except DeliveryFailure as caught:
        failure = caught
    finally:
        connection.close()
    assert connection.record is not None  # open() makes it first
    seen = Observed(
        endpoint=endpoint,
        max_attachment_size=max_attachment_size,
        record=connection.record,
        failure=failure,
        password_error=password_error,
        now=time.time(),
        expiry_days=options.expiry_days,
    )
    return ProbeResult(key, endpoint, assess(seen))


def _passwords(
    settings: Sequence[Resource], resolver: Callable[[], VaultResolver], concurrency: int
) -> dict[ResourceKey, Password | str]:
    """Each settings' password, or the reason Vault did not give it."""
    references = {
        resource.key: VaultReference.from_spec(resource.spec["password"])
        for resource in settings
        if "password" in resource.spec
    }
    if not references:
        return {}
    from reconciler.vault.resolver import VaultLookupError

    read = resolver().resolve_all(references.values(), concurrency=concurrency)
    passwords: dict[ResourceKey, Password | str] = {}
    for key, reference in references.items():
        outcome = read[reference]
        passwords[key] = str(outcome) if isinstance(outcome, VaultLookupError) else outcome.value
    return passwords
