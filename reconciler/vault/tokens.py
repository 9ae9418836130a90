"""The one token all clients of a resolver send, kept valid for as long as the process runs.

- AppRole and JWT: log in on first use. At two thirds of the token's TTL, renew it
  (renew-self) while that extends it; once its max TTL caps a renewal, or when it is not
  renewable, log in again at two thirds of what is left.
- VAULT_TOKEN or a token file: look the token up once (lookup-self) to learn its TTL, and
  renew a renewable one at two thirds of it while that extends it. The file is read
  again whenever it changes (Vault Agent rewrites its sink with each new token).
- When Vault refuses the token itself (`replace`): a fresh login, or the file's new token.

What is due is done on first use after it is due, or by a background thread when no read
comes first, so an idle runner's token does not lapse. Each login and renewal is reported
through `notify` (the runner's event log); the token never is.
"""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from reconciler.vault.client import VaultSettings, new_client
from reconciler.vault.errors import Refused, VaultFailure, transport_errors
from reconciler.vault.login import Grant, log_in, look_up, origin, read_token, renew
from reconciler.vault.secret import SecretValue

if TYPE_CHECKING:
    import hvac

#: `notify(message, **fields)`: EventLog.message's signature.
Notify = Callable[..., None]

#: Renew (or log in again) when this part of the token's TTL has passed.
RENEW_AT = 2 / 3


def _quiet(message: str, **fields: object) -> None:
    """The default `notify`: commands without an event log say nothing."""


class TokenSource:
    """Hands out the current token (`token`), renewing or replacing it when due."""

    def __init__(self, settings: VaultSettings, notify: Notify | None = None) -> None:
        self._settings = settings
        self._notify = notify or _quiet
        self._origin = origin(settings)
        self._logs_in = settings.auth_method != "token"
        self._file = (
            settings.token_file
            if settings.auth_method == "token" and (settings.token is None)
            else None
        )
        self._lock = threading.Lock()
        self._client: hvac.Client | None = None  # for logins and renewals, under the lock
        self._grant: Grant | None = None
        self._stamp: tuple[int, int, int] | None = None  # the token file's, when read
        self._due = math.inf  # time.monotonic() of the next renewal or login
        self._capped = False  # a renewal reached the max TTL: renewing extends no more
        self._wake = threading.Event()
        self._keeper: threading.Thread | None = None
        weakref.finalize(self, self._wake.set)  # lets the keeper thread end with us

    def token(self) -> str:
        """The token to send. Logs in on first use. Raises VaultFailure."""
        grant = self._grant
        if grant is not None and time.monotonic() < self._due and not self._file_changed():
            return grant.token.reveal()
        with self._lock:
            if self._grant is None or self._file_changed():
                return self._obtain().token.reveal()
            if time.monotonic() >= self._due:
                return self._extend().token.reveal()
            return self._grant.token.reveal()

    def accepted(self, client: hvac.Client, token: str) -> bool:
        """Whether Vault knows `token` (lookup-self, through the caller's `client`): after a
        refusal, this tells the policy refusing a path from the token being invalid."""
        with transport_errors(self._settings):
            return look_up(client, SecretValue(token)) is not None

    def replace(self, refused: str) -> str | None:
        """A token to try instead of `refused`, which Vault no longer knows: another
        thread's replacement, a fresh login, or the token file's new content; None when
        there is none. Raises VaultFailure."""
        with self._lock:
            current = self._grant
            if current is not None and current.token.reveal() != refused:
                return current.token.reveal()
            if self._logs_in:
                return self._obtain(" after Vault refused the token").token.reveal()
            if self._file is None:
                return None
            fresh = self._obtain().token.reveal()
            return fresh if fresh != refused else None

    def invalid(self) -> VaultFailure:
        """The failure of a read whose token Vault does not know, even a replacement."""
        if self._logs_in:
            advice = "check the role's token policies and TTLs"
        elif self._file is None:
            advice = "set VAULT_TOKEN to a valid token"
        else:
            advice = "log in again (`vault login`), or check the Vault Agent that writes it"
        return VaultFailure(
            "token-invalid",
            f"the Vault token from {self._origin} is invalid or expired "
            f"(Vault refuses to look it up); {advice}",
        )

    def close(self) -> None:
        """Stop renewing and close this source's own connection."""
        with self._lock:
            self._due = math.inf
            self._keeper = None
            if self._client is not None:
                self._client.adapter.close()
        self._wake.set()

    # Everything below runs under self._lock.

    def _obtain(self, why: str = "") -> Grant:
        """A new grant: logged in, or read (and looked up) from VAULT_TOKEN or the file."""
        client = self._own_client()
        with transport_errors(self._settings):
            if self._logs_in:
                grant = log_in(client, self._settings)
                self._notify(
                    f"Vault: logged in with {self._origin}{why}; {_life(grant)}",
                    vault="login",
                    ttl=grant.ttl,
                )
            else:
                self._stamp = self._file_stamp()
                try:
                    value = read_token(self._settings)
                except VaultFailure:
                    if self._grant is None:
                        raise
                    return self._grant  # the file is gone or empty for now: keep ours
                if self._grant is not None and self._grant.token.reveal() == value.reveal():
                    return self._grant  # the file was touched, not changed
                grant = look_up(client, value) or Grant(value, 0, False, time.monotonic(), 0)
                if self._grant is not None:
                    self._notify(
                        f"Vault: read a new token from {self._origin}; {_life(grant)}",
                        vault="token-file",
                        ttl=grant.ttl,
                    )
        self._adopt(grant, capped=False)
        return grant

    def _extend(self) -> Grant:
        """What is due: renew the token, or (when it cannot be extended) log in again."""
        grant = self._grant
        assert grant is not None
        if grant.renewable and not self._capped:
            try:
                with transport_errors(self._settings):
                    renewed = renew(self._own_client(), grant)
            except Refused as refused:
                if self._logs_in:
                    return self._obtain(" after Vault refused to renew the token")
                self._notify(
                    f"Vault: cannot renew the token from {self._origin}: {refused.detail}",
                    vault="renewal-failed",
                )
                self._due = math.inf
                return grant
            capped = renewed.ttl < grant.full_ttl
            limit = " (its max TTL)" if capped else ""
            self._notify(
                f"Vault: renewed the token from {self._origin}; "
                f"valid for {renewed.ttl:.0f} s more{limit}",
                vault="renewal",
                ttl=renewed.ttl,
            )
            self._adopt(renewed, capped)
            return renewed
        if self._logs_in:
            return self._obtain(" before the token expires")
        self._due = math.inf  # nothing left to do; a token file may still change
        return grant

    def _adopt(self, grant: Grant, capped: bool) -> None:
        self._grant, self._capped = grant, capped
        if grant.ttl <= 0 or (not self._logs_in and (capped or not grant.renewable)):
            self._due = math.inf
        else:
            self._due = grant.at + grant.ttl * RENEW_AT
            if self._keeper is None:
                self._keeper = threading.Thread(
                    target=_keep,
                    args=(weakref.ref(self), self._wake),
                    name="vault-token",
                    daemon=True,
                )
                self._keeper.start()
        self._wake.set()

    def _own_client(self) -> hvac.Client:
        if self._client is None:
            self._client = new_client(self._settings)
        return self._client

    def _file_changed(self) -> bool:
        return self._file is not None and self._file_stamp() != self._stamp

    def _file_stamp(self) -> tuple[int, int, int] | None:
        """What tells a rewritten token file (Vault Agent renames a new one into place)."""
        if self._file is None:
            return None
        try:
            stat = os.stat(self._file)
        except OSError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _keep_due(self) -> float | None:
        """The keeper thread's round: do what is due; the seconds until it next is, or
        None once the source is closed."""
        with self._lock:
            if self._keeper is None:
                return None
            if time.monotonic() >= self._due:
                try:
                    self._extend()
                except VaultFailure as failure:
                    grant = self._grant
                    left = grant.at + grant.ttl - time.monotonic() if grant else 0.0
                    retry = min(30.0, max(1.0, left / 3))
                    self._notify(
                        f"Vault: could not renew the token from {self._origin}: "
                        f"{failure.detail}; trying again in {retry:.0f} s",
                        vault="renewal-failed",
                    )
                    self._due = time.monotonic() + retry
            return self._due - time.monotonic()


def _keep(source_ref: weakref.ref[TokenSource], wake: threading.Event) -> None:
    """The keeper thread: renews (or logs in) when due while the process waits for work.

    Holds the source only weakly between rounds, so that a dropped resolver ends it.
    """
    while True:
        source = source_ref()
        delay = source._keep_due() if source is not None else None
        del source
        if delay is None:
            return
        wake.wait(None if math.isinf(delay) else max(0.0, delay))
        wake.clear()


def _life(grant: Grant) -> str:
    if grant.ttl <= 0:
        return "the token does not expire"
    renewable = "renewable" if grant.renewable else "not renewable"
    return f"the token is valid for {grant.ttl:.0f} s ({renewable})"
