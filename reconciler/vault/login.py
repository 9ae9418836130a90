"""Getting a Vault token, and asking Vault about it.

A token comes from VAULT_TOKEN or a token file, or from a login (AppRole, JWT). Vault
says how long it lives: at login, and through `lookup-self` and `renew-self`. These
functions keep no state and leave transport errors to the caller;
reconciler.vault.tokens decides when to call which.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.vault.errors import Refused, VaultFailure, errors_of, refusals
from reconciler.vault.secret import SecretValue

if TYPE_CHECKING:
    import hvac

    from reconciler.vault.client import VaultSettings


@dataclass(frozen=True)
class Grant:
    """A token and its life as Vault told it at `at` (time.monotonic()).

    `ttl` is what was left then (0: it never expires); `full_ttl` what a renewal gives at
    most, so a renewal that gives less has reached the token's max TTL.
    """

    token: SecretValue
    ttl: float
    renewable: bool
    at: float
    full_ttl: float

    def renewed(self, ttl: float, at: float) -> Grant:
        return Grant(self.token, ttl, self.renewable, at, self.full_ttl)


def origin(settings: VaultSettings) -> str:
    """Where the token comes from, as messages name it."""
    mount = settings.auth_mount or settings.auth_method
    if settings.auth_method == "approle":
        return f"AppRole at auth/{mount}"
    if settings.auth_method == "jwt":
        return f"JWT at auth/{mount}"
    if settings.token is not None:
        return "VAULT_TOKEN"
    return f"the token file {settings.token_file}"


def read_token(settings: VaultSettings) -> SecretValue:
    """VAULT_TOKEN, else the token file's content. Raises VaultFailure."""
    if settings.token is not None:
        return settings.token
    path = settings.token_file
    try:
        token = path.read_text(encoding="utf-8").strip() if path else ""
    except FileNotFoundError:
        token = ""
    except OSError as exc:
        raise VaultFailure("auth-failed", f"cannot read {path}: {exc.strerror}") from exc
    if not token:
        raise VaultFailure(
            "auth-failed",
            "no Vault token: set VAULT_TOKEN, log in with `vault login`, "
            "or choose another login with --vault-auth",
        )
    return SecretValue(token)


def log_in(client: hvac.Client, settings: VaultSettings) -> Grant:
    """Log in with AppRole or JWT. Raises VaultFailure."""
    client.token = ""  # the expired token is no business of the login
    return _LOGINS[settings.auth_method](client, settings)


def look_up(client: hvac.Client, token: SecretValue) -> Grant | None:
    """What Vault knows of `token` (lookup-self), or None when it refuses the token."""
    client.token = token.reveal()
    at = time.monotonic()
    try:
        with refusals():
            data = client.auth.token.lookup_self()["data"]
    except Refused:
        return None
    ttl = float(data.get("ttl") or 0)
    full = float(data.get("creation_ttl") or ttl)
    return Grant(token, ttl, bool(data.get("renewable")), at, full)


def renew(client: hvac.Client, grant: Grant) -> Grant:
    """Extend the token by its full TTL, as far as its max TTL allows (renew-self).

    Raises Refused when Vault refuses the token, VaultFailure when it answers oddly.
    """
    client.token = grant.token.reveal()
    at = time.monotonic()
    with refusals():
        answer = client.auth.token.renew_self(increment=f"{int(grant.full_ttl)}s")
    return grant.renewed(_lease(answer, "renew-self")[0], at)


def _login_approle(client: hvac.Client, settings: VaultSettings) -> Grant:
    if settings.role_id is None:
        raise VaultFailure("auth-failed", "AppRole login needs VAULT_ROLE_ID (and VAULT_SECRET_ID)")
    mount = settings.auth_mount or "approle"
    secret_id = settings.secret_id.reveal() if settings.secret_id else None
    at = time.monotonic()
    with _login_errors("AppRole", mount):
        answer = client.auth.approle.login(
            role_id=settings.role_id, secret_id=secret_id, mount_point=mount, use_token=False
        )
    return _granted(answer, at)


def _login_jwt(client: hvac.Client, settings: VaultSettings) -> Grant:
    jwt = _jwt(settings.jwt_file, settings.jwt)
    mount = settings.auth_mount or "jwt"
    at = time.monotonic()
    with _login_errors("JWT", mount):
        answer = client.auth.jwt.jwt_login(
            role=settings.jwt_role, jwt=jwt, path=mount, use_token=False
        )
    return _granted(answer, at)


def _jwt(path: Path | None, value: SecretValue | None) -> str:
    """The JWT, read from its file at every login: CI systems and Kubernetes rotate it."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise VaultFailure(
                "auth-failed", f"cannot read SMTPCFG_VAULT_JWT_FILE {path}: {exc.strerror}"
            ) from exc
    if value is not None:
        return value.reveal()
    raise VaultFailure("auth-failed", "JWT login needs SMTPCFG_VAULT_JWT_FILE or SMTPCFG_VAULT_JWT")


_LOGINS: dict[str, Callable[[hvac.Client, VaultSettings], Grant]] = {
    "approle": _login_approle,
    "jwt": _login_jwt,
}


def _granted(answer: Any, at: float) -> Grant:
    ttl, auth = _lease(answer, "login")
    try:
        token = SecretValue(str(auth["client_token"]))
    except KeyError:
        raise _not_understood("login") from None
    return Grant(token, ttl, bool(auth.get("renewable")), at, ttl)


def _lease(answer: Any, request: str) -> tuple[float, Mapping[str, Any]]:
    """The `auth` block of a login or renewal, and its lease_duration."""
    try:
        auth = answer["auth"]
        return float(auth.get("lease_duration") or 0), auth
    except (KeyError, TypeError, AttributeError, ValueError):
        raise _not_understood(request) from None


def _not_understood(request: str) -> VaultFailure:
    return VaultFailure("invalid-response", f"Vault's answer to the {request} is not understood")


@contextmanager
def _login_errors(method: str, mount: str) -> Iterator[None]:
    """A refused login is `auth-failed`; 403 also means no auth method at that mount."""
    from hvac import exceptions

    try:
        yield
    except (
        exceptions.InvalidRequest,
        exceptions.Unauthorized,
        exceptions.Forbidden,
        exceptions.InvalidPath,
    ) as exc:
        raise VaultFailure(
            "auth-failed", f"{method} login at auth/{mount} failed: {errors_of(exc)}"
        ) from exc
