"""Send messages through the SMTP settings in the store, one open connection per settings.

Used by the runner and by `test-email`, so a test email proves exactly the path that
invoices take. A connection is kept while its settings stay the same; when an apply
changes them, the next message opens a new connection with the new settings (and reads
the password from Vault again). OAuth2 tokens outlive connections: each login's token
source is kept for as long as the sender, so a token is reused until it expires.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from email.message import EmailMessage

from reconciler.delivery.failures import DeliveryFailure
from reconciler.delivery.oauth2 import OAuth2Tokens
from reconciler.delivery.options import SMTP_TIMEOUT
from reconciler.delivery.settings_login import settings_login
from reconciler.delivery.token_endpoint import TokenRequest
from reconciler.delivery.transport import SendResult, SmtpConnection, SmtpEndpoint, tls_context
from reconciler.model import StoredResource
from reconciler.vault.resolver import VaultResolver
from reconciler.vault.tokens import Notify


class Sender:
    """Keeps one SmtpConnection per SmtpSettings name, reopened when the settings change."""

    def __init__(
        self,
        resolver: Callable[[], VaultResolver],
        *,
        ca_file: str | None = None,
        timeout: float = SMTP_TIMEOUT,
        notify: Notify | None = None,
    ) -> None:
        """`notify(message, **fields)` hears of each OAuth2 token fetched (the runner's log)."""
        tls_context(ca_file)  # a bad CA file fails now, not every job later
        self._resolver = resolver
        self._notify = notify
        self._ca_file = ca_file
        self._timeout = timeout
        self._connections: dict[str, tuple[str, SmtpConnection]] = {}
        self._tokens: dict[TokenRequest, OAuth2Tokens] = {}

    def send(
        self,
        settings: StoredResource,
        message: EmailMessage,
        recipients: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> SendResult:
        """Send `message` to `recipients` (default: its To and Cc), done by `deadline` (a
        time.monotonic() value) or given up."""
        connection = self._connection(settings)
        try:
            connection.ensure_open(deadline)
            return connection.send(message, recipients)
        except DeliveryFailure as failure:
            if failure.step in ("authentication", "oauth2-token", "connection-lost", "internal"):
                # Maybe the password was rotated, or the session's state is unknown:
                # connect and log in afresh next time.
                self._drop(settings.key.name)
            raise

    def close(self) -> None:
        """Hang up every connection; tokens are kept in memory for the next ones."""
        for name in list(self._connections):
            self._drop(name)

    def endpoint(self, settings: StoredResource) -> SmtpEndpoint:
        return SmtpEndpoint.from_spec(settings.spec, timeout=self._timeout, ca_file=self._ca_file)

    def _connection(self, settings: StoredResource) -> SmtpConnection:
        name = settings.key.name
        fingerprint = json.dumps(settings.spec, sort_keys=True)
        cached = self._connections.get(name)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        self._drop(name)
        login = settings_login(settings.spec, self._resolver, self._token_source)
        connection = SmtpConnection(self.endpoint(settings), login)
        self._connections[name] = (fingerprint, connection)
        return connection

    def _token_source(self, request: TokenRequest) -> OAuth2Tokens:
        """One token source per distinct request, shared by the settings that make it."""
        if request not in self._tokens:
            self._tokens[request] = OAuth2Tokens(
                request, ca_file=self._ca_file, timeout=self._timeout, notify=self._notify
            )
        return self._tokens[request]

    def _drop(self, name: str) -> None:
        cached = self._connections.pop(name, None)
        if cached is not None:
            cached[1].close()
