"""Vault settings read from the environment the way Vault's CLI reads them, and a logged-in client.

hvac reads VAULT_ADDR and VAULT_TOKEN itself, VAULT_CACERT only once at import time, and
VAULT_NAMESPACE and VAULT_SKIP_VERIFY never. So every setting is read here, from the
mapping the caller passes, and handed to hvac explicitly. hvac is imported only by
`make_client`, so that commands that never talk to Vault do not pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast, get_args

import click

from reconciler.errors import SmtpcfgError
from reconciler.vault.errors import VaultFailure, errors_of, transport_errors
from reconciler.vault.secret import SecretValue

if TYPE_CHECKING:
    import hvac

AuthMethod = Literal["token", "approle", "jwt"]
AUTH_METHODS: tuple[str, ...] = get_args(AuthMethod)
DEFAULT_ADDR = "https://127.0.0.1:8200"
DEFAULT_TIMEOUT = 60.0  # Vault's CLI default

# Go's strconv.ParseBool, which Vault uses for VAULT_SKIP_VERIFY.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(s|m|h)?")
_SECONDS = {None: 1, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class VaultSettings:
    """Where Vault is and how to log in. Credentials are SecretValues, so the repr is safe.

    `auth_mount` None means the method's default mount, which has the method's name.
    The token file and the JWT file are read at login, not here.
    """

    addr: str = DEFAULT_ADDR
    namespace: str | None = None
    cacert: str | None = None
    skip_verify: bool = False
    timeout: float = DEFAULT_TIMEOUT
    auth_method: AuthMethod = "token"
    auth_mount: str | None = None
    token: SecretValue | None = None
    token_file: Path | None = None
    role_id: str | None = None
    secret_id: SecretValue | None = None
    jwt_role: str | None = None
    jwt: SecretValue | None = None
    jwt_file: Path | None = None

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str], auth_method: str | None = None
    ) -> VaultSettings:
        """Read VAULT_* (as Vault's CLI does) and SMTPCFG_VAULT_* from `env`.

        `auth_method` is `--vault-auth`; None falls back to SMTPCFG_VAULT_AUTH, then "token".
        Empty variables count as unset, as in Vault's CLI. Raises SmtpcfgError on values
        that cannot be used; missing credentials are reported at login instead, so that
        runs without Vault references need no credentials.
        """

        def get(name: str) -> str | None:
            return env.get(name) or None

        method = auth_method or get("SMTPCFG_VAULT_AUTH") or "token"
        if method not in AUTH_METHODS:
            raise SmtpcfgError(
                f"unknown Vault login {method!r}: choose one of {', '.join(AUTH_METHODS)}"
            )
        addr = get("VAULT_ADDR") or DEFAULT_ADDR
        if not addr.startswith(("http://", "https://")):
            raise SmtpcfgError(f"VAULT_ADDR must start with http:// or https://, not {addr!r}")
        cacert = get("VAULT_CACERT")
        if cacert and not Path(cacert).is_file():
            # requests would fail every request with a bare OSError; Vault's CLI also
            # refuses to start.
            raise SmtpcfgError(f"VAULT_CACERT names no file: {cacert}")
        home = get("HOME")
        jwt_file = get("SMTPCFG_VAULT_JWT_FILE")
        return cls(
            addr=addr.rstrip("/"),
            namespace=get("VAULT_NAMESPACE"),
            cacert=cacert,
            skip_verify=_parse_bool("VAULT_SKIP_VERIFY", get("VAULT_SKIP_VERIFY")),
            timeout=_parse_timeout(get("VAULT_CLIENT_TIMEOUT")),
            auth_method=cast(AuthMethod, method),
            auth_mount=get("SMTPCFG_VAULT_AUTH_MOUNT"),
            token=_secret(get("VAULT_TOKEN")),
            token_file=(Path(home) if home else Path.home()) / ".vault-token",
            role_id=get("VAULT_ROLE_ID"),
            secret_id=_secret(get("VAULT_SECRET_ID")),
            jwt_role=get("SMTPCFG_VAULT_JWT_ROLE"),
            jwt=_secret(get("SMTPCFG_VAULT_JWT")),
            jwt_file=Path(jwt_file) if jwt_file else None,
        )

    @property
    def verify(self) -> bool | str:
        """requests' `verify`: VAULT_SKIP_VERIFY wins over VAULT_CACERT, as in Vault's CLI."""
        if self.skip_verify:
            return False
        return self.cacert or True


def make_client(settings: VaultSettings) -> hvac.Client:
    """An hvac client for `settings`, logged in. Raises VaultFailure."""
    import hvac

    if settings.skip_verify:
        _allow_insecure(settings.addr)
    # token="" (not None) keeps hvac from reading VAULT_TOKEN or ~/.vault-token itself.
    client = hvac.Client(
        url=settings.addr,
        token="",
        verify=settings.verify,
        timeout=settings.timeout,
        namespace=settings.namespace,
    )
    with transport_errors(settings.addr, settings.timeout):
        _LOGINS[settings.auth_method](client, settings)
    return client


def _login_token(client: hvac.Client, settings: VaultSettings) -> None:
    token = settings.token.reveal() if settings.token else _read_token_file(settings.token_file)
    if not token:
        raise VaultFailure(
            "auth-failed",
            "no Vault token: set VAULT_TOKEN, log in with `vault login`, "
            "or choose another login with --vault-auth",
        )
    client.token = token


def _read_token_file(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise VaultFailure("auth-failed", f"cannot read {path}: {exc.strerror}") from exc


def _login_approle(client: hvac.Client, settings: VaultSettings) -> None:
    if settings.role_id is None:
        raise VaultFailure("auth-failed", "AppRole login needs VAULT_ROLE_ID (and VAULT_SECRET_ID)")
    mount = settings.auth_mount or "approle"
    secret_id = settings.secret_id.reveal() if settings.secret_id else None
    with _login_errors("AppRole", mount):
        client.auth.approle.login(role_id=settings.role_id, secret_id=secret_id, mount_point=mount)


def _login_jwt(client: hvac.Client, settings: VaultSettings) -> None:
    if settings.jwt_file is not None:
        try:
            jwt = settings.jwt_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise VaultFailure(
                "auth-failed",
                f"cannot read SMTPCFG_VAULT_JWT_FILE {settings.jwt_file}: {exc.strerror}",
            ) from exc
    elif settings.jwt is not None:
        jwt = settings.jwt.reveal()
    else:
        raise VaultFailure(
            "auth-failed", "JWT login needs SMTPCFG_VAULT_JWT_FILE or SMTPCFG_VAULT_JWT"
        )
    mount = settings.auth_mount or "jwt"
    with _login_errors("JWT", mount):
        client.auth.jwt.jwt_login(role=settings.jwt_role, jwt=jwt, path=mount)


_LOGINS: dict[str, Callable[[hvac.Client, VaultSettings], None]] = {
    "token": _login_token,
    "approle": _login_approle,
    "jwt": _login_jwt,
}


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


def _allow_insecure(addr: str) -> None:
    """Say once, plainly, that TLS is not verified, instead of urllib3's per-request warning."""
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    click.echo(
        f"warning: VAULT_SKIP_VERIFY is set: the TLS certificate of Vault at {addr} "
        "is not verified",
        err=True,
    )


def _secret(value: str | None) -> SecretValue | None:
    return SecretValue(value) if value is not None else None


def _parse_bool(name: str, value: str | None) -> bool:
    if value is None or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise SmtpcfgError(f"{name} must be true or false, not {value!r}")


def _parse_timeout(value: str | None) -> float:
    """VAULT_CLIENT_TIMEOUT: seconds, or a duration such as `30s`, `2m`."""
    if value is None:
        return DEFAULT_TIMEOUT
    match = _DURATION.fullmatch(value)
    if match is None or float(match[1]) == 0:
        raise SmtpcfgError(
            f"VAULT_CLIENT_TIMEOUT must be a positive duration such as 30 or 30s, not {value!r}"
        )
    return float(match[1]) * _SECONDS[match[2]]
