"""Vault settings read from the environment the way Vault's CLI reads them, and clients.

hvac reads VAULT_ADDR and VAULT_TOKEN itself, VAULT_CACERT only once at import time, and
VAULT_NAMESPACE and VAULT_SKIP_VERIFY never. So every setting is read here, from the
mapping the caller passes, and handed to hvac explicitly. hvac is imported only by
`new_client`, so that commands that never talk to Vault do not pay for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from reconciler.errors import SmtpcfgError
from reconciler.vault.auth_methods import AUTH_METHODS, AuthMethod
from reconciler.vault.secret import SecretValue

if TYPE_CHECKING:
    import hvac

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
    `addr_is_default`: VAULT_ADDR was not set. `token` is VAULT_TOKEN, unless
    SMTPCFG_VAULT_TOKEN_FILE names the token file. The token file and the JWT file are
    read at login, not here.
    """

    addr: str = DEFAULT_ADDR
    addr_is_default: bool = True
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
        # A token file named for smtpcfg (a Vault Agent sink) wins over VAULT_TOKEN, which
        # wins over ~/.vault-token, as in Vault's CLI.
        token_file = get("SMTPCFG_VAULT_TOKEN_FILE")
        return cls(
            addr=addr.rstrip("/"),
            addr_is_default=get("VAULT_ADDR") is None,
            namespace=get("VAULT_NAMESPACE"),
            cacert=cacert,
            skip_verify=_parse_bool("VAULT_SKIP_VERIFY", get("VAULT_SKIP_VERIFY")),
            timeout=_parse_timeout(get("VAULT_CLIENT_TIMEOUT")),
            auth_method=cast(AuthMethod, method),
            auth_mount=get("SMTPCFG_VAULT_AUTH_MOUNT"),
            token=None if token_file else _secret(get("VAULT_TOKEN")),
            token_file=(
                Path(token_file)
                if token_file
                else (Path(home) if home else Path.home()) / ".vault-token"
            ),
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


def new_client(settings: VaultSettings) -> hvac.Client:
    """An hvac client for `settings`, with no token yet, and its own requests session.

    The session reads the environment (proxy variables, REQUESTS_CA_BUNDLE) once, here:
    requests would read it, and ~/.netrc, again for every request, which made up a good
    part of a read's client time. Cookies and ~/.netrc mean nothing to Vault's API.
    """
    import hvac
    import requests

    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(settings.addr))
    # hvac takes `verify` from the session it is given, unless that is False.
    session.verify = _verify(settings)
    # token="" (not None) keeps hvac from reading VAULT_TOKEN or ~/.vault-token itself.
    return hvac.Client(
        url=settings.addr,
        token="",
        verify=session.verify,
        # types-hvac says int, but hvac hands it to requests, which takes seconds as a float.
        timeout=cast(int, settings.timeout),
        namespace=settings.namespace,
        session=session,
    )


def _verify(settings: VaultSettings) -> bool | str:
    """requests' `verify`, with the CA bundle variables requests itself would read."""
    verify = settings.verify
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


def warn_if_insecure(settings: VaultSettings) -> None:
    """Say once, plainly, that TLS is not verified, instead of urllib3's per-request warning."""
    if not settings.skip_verify:
        return
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    click.echo(
        f"warning: VAULT_SKIP_VERIFY is set: the TLS certificate of Vault at {settings.addr} "
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
