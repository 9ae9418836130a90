"""Resolve Vault references to secret values: each secret read once, reads run concurrently.

Every read goes through hvac. The resolver keeps a pool of reading threads; each thread
makes its own hvac client (and so its own kept-alive requests session) on first use, and
every client sends the one token of the resolver's TokenSource, which keeps it valid.

Importing this module must not import hvac or requests (the CLI starts without them);
they are imported once the first reference is resolved.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.model import VaultReference
from reconciler.vault.client import VaultSettings, new_client, warn_if_insecure
from reconciler.vault.errors import (
    Refused,
    VaultFailure,
    VaultLookupError,
    transport_errors,
)
from reconciler.vault.mounts import Mount, MountTable
from reconciler.vault.secret import SecretValue
from reconciler.vault.tokens import Notify, TokenSource

if TYPE_CHECKING:
    import hvac

__all__ = ["ResolvedSecret", "VaultLookupError", "VaultResolver"]

# What one HTTP read fetches: (mount named by the reference, path, pinned version).
_SecretKey = tuple[str | None, str, int | None]


@dataclass(frozen=True)
class ResolvedSecret:
    """One reference's value; `version` is the KV v2 version read (None on KV v1)."""

    reference: VaultReference
    version: int | None
    value: SecretValue


@dataclass(frozen=True)
class _Secret:
    """All keys of one secret, as read; kept out of reprs."""

    data: dict[str, object] = field(repr=False)
    version: int | None


class VaultResolver:
    """Resolves references through a pool of reading threads, one hvac client each,
    kept (with their connections) from one `resolve_all` to the next.

    `notify(message, **fields)` hears of each login and renewal (see TokenSource).
    """

    def __init__(self, settings: VaultSettings, notify: Notify | None = None) -> None:
        self.settings = settings
        self.tokens = TokenSource(settings, notify)
        self._mounts = MountTable()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._clients: list[hvac.Client] = []
        self._local = threading.local()
        warn_if_insecure(settings)

    def resolve(self, reference: VaultReference) -> ResolvedSecret:
        """One reference's value. Raises VaultLookupError."""
        outcome = self.resolve_all([reference])[reference]
        if isinstance(outcome, VaultLookupError):
            raise outcome
        return outcome

    def resolve_all(
        self, references: Iterable[VaultReference], concurrency: int = 8
    ) -> dict[VaultReference, ResolvedSecret | VaultLookupError]:
        """Every distinct reference's value or error, in the order first given.

        References that differ only in `key` share one read, so Vault sees one request per
        distinct (mount, path, version). Up to `concurrency` reads run at a time; one
        failure does not stop the others.
        """
        wanted = list(dict.fromkeys(references))
        if not wanted:
            return {}
        try:
            self.tokens.token()  # a failed login fails every reference, once
        except VaultFailure as failure:
            return {reference: failure.for_reference(reference) for reference in wanted}
        keys = {reference: _key(reference) for reference in wanted}
        distinct = list(dict.fromkeys(keys.values()))
        pool = self._pool_of(concurrency)
        reads = {key: pool.submit(self._read, *key) for key in distinct}
        return {reference: _pick(reference, reads[keys[reference]]) for reference in wanted}

    def close(self) -> None:
        """Stop the reading threads and token renewals; close the connections."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            for client in self._clients:
                client.adapter.close()
            self._clients.clear()
        self.tokens.close()

    def _pool_of(self, concurrency: int) -> ThreadPoolExecutor:
        """The reading threads; made again (with new clients) when `concurrency` changes."""
        with self._lock:
            if self._pool is None or self._pool_size != concurrency:
                if self._pool is not None:
                    self._pool.shutdown(wait=False)
                self._pool = ThreadPoolExecutor(concurrency, "vault-read")
                self._pool_size = concurrency
            return self._pool

    def _client(self) -> hvac.Client:
        """This reading thread's own client, made on its first read."""
        client: hvac.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = new_client(self.settings)
            with self._lock:
                self._clients.append(client)
        return client

    def _read(self, mount_name: str | None, path: str, version: int | None) -> _Secret:
        """Read one secret; a token Vault no longer knows is replaced once, then refused."""
        client = self._client()
        with transport_errors(self.settings):
            token = self.tokens.token()
            for retry in (False, True):
                client.token = token
                try:
                    return self._read_with(client, mount_name, path, version)
                except Refused:
                    if self.tokens.accepted(client, token):
                        raise  # the token is fine; its policy refuses
                    replaced = None if retry else self.tokens.replace(token)
                    if replaced is None:
                        raise self.tokens.invalid() from None
                    token = replaced
        raise AssertionError("not reached")

    def _read_with(
        self, client: hvac.Client, mount_name: str | None, path: str, version: int | None
    ) -> _Secret:
        mount = self._mounts.find(client, path, mount_name)
        inner = path.removeprefix(mount.path)
        if mount.kv_version == 1:
            if version is not None:
                raise VaultFailure(
                    "not-kv-v2",
                    f"a version is pinned, but {mount.path} is a KV v1 mount, which keeps "
                    "no versions (remove `version`)",
                )
            return _read_v1(client, mount, inner)
        if inner.startswith("data/"):
            raise VaultFailure(
                "bad-path",
                f"write KV v2 paths as `vault kv get` takes them, without data/: "
                f"{mount.path}{inner.removeprefix('data/')}",
            )
        return _read_v2(client, mount, inner, version)


def _key(reference: VaultReference) -> _SecretKey:
    return (reference.mount, reference.path.strip("/"), reference.version)


def _pick(reference: VaultReference, read: Future[_Secret]) -> ResolvedSecret | VaultLookupError:
    try:
        secret = read.result()
    except VaultFailure as failure:
        return failure.for_reference(reference)
    if reference.key not in secret.data:
        keys = ", ".join(sorted(secret.data)) or "none"
        return VaultLookupError(
            reference, "no-such-key", f"the secret has no key {reference.key!r} (keys: {keys})"
        )
    value = secret.data[reference.key]
    if not isinstance(value, str):
        return VaultLookupError(
            reference,
            "invalid-response",
            f"the value of key {reference.key!r} is of type {type(value).__name__}, not a string",
        )
    return ResolvedSecret(reference, secret.version, SecretValue(value))


def _read_v1(client: hvac.Client, mount: Mount, inner: str) -> _Secret:
    """hvac's `secrets.kv.v1.read_secret`."""
    from hvac import exceptions, utils

    api_path = f"{mount.path}{inner}"
    try:
        response = client.adapter.get(
            utils.format_url("/v1/{mount_point}/{path}", mount_point=mount.name, path=inner)
        )
    except (exceptions.Forbidden, exceptions.Unauthorized):
        raise _refused(api_path) from None
    except exceptions.InvalidPath:
        raise VaultFailure("no-such-path", f"no secret at {api_path}") from None
    return _secret(response, api_path, version=None)


def _read_v2(client: hvac.Client, mount: Mount, inner: str, version: int | None) -> _Secret:
    """hvac's `secrets.kv.v2.read_secret_version(..., raise_on_deleted_version=True)`."""
    from hvac import exceptions, utils

    api_path = f"{mount.path}data/{inner}"
    # No params at all when none is pinned: requests merges every mapping it is given.
    params = {"version": version} if version is not None else None
    try:
        response = client.adapter.get(
            utils.format_url("/v1/{mount_point}/data/{path}", mount_point=mount.name, path=inner),
            params=params,
        )
    except (exceptions.Forbidden, exceptions.Unauthorized):
        raise _refused(api_path) from None
    except exceptions.InvalidPath as exc:
        raise _missing_v2(client, mount, inner, version, exc.json) from None
    try:
        read_version = response["data"]["metadata"]["version"]
    except (KeyError, TypeError):
        raise _not_understood(api_path) from None
    return _secret(response["data"], api_path, version=read_version)


def _missing_v2(
    client: hvac.Client, mount: Mount, inner: str, version: int | None, body: object
) -> VaultFailure:
    """Why a KV v2 read found nothing: deleted and destroyed versions come with metadata."""
    from hvac import exceptions

    api_path = f"{mount.path}data/{inner}"
    try:
        metadata = body["data"]["metadata"]  # type: ignore[index]
        number = metadata["version"]
    except (KeyError, TypeError):
        metadata, number = {}, version
    if metadata.get("destroyed"):
        return VaultFailure(
            "version-destroyed", f"version {number} is destroyed (pin another version)"
        )
    if metadata.get("deletion_time"):
        return VaultFailure(
            "version-deleted",
            f"version {number} is deleted (undelete it, or pin another version)",
        )
    if version is None:
        return VaultFailure("no-such-path", f"no secret at {api_path}")
    # Vault answers a missing version and a missing secret alike; the metadata tells them apart.
    try:
        current = client.secrets.kv.v2.read_secret_metadata(path=inner, mount_point=mount.name)
    except exceptions.InvalidPath:
        return VaultFailure("no-such-path", f"no secret at {api_path}")
    except exceptions.Forbidden:
        return VaultFailure("no-such-version", f"no version {version} at {api_path}")
    latest = (current.get("data") or {}).get("current_version", "unknown")
    return VaultFailure(
        "no-such-version", f"no version {version} (the current version is {latest})"
    )


def _secret(body: object, api_path: str, version: int | None) -> _Secret:
    try:
        data = body["data"]  # type: ignore[index]
    except (KeyError, TypeError):
        raise _not_understood(api_path) from None
    if not isinstance(data, dict):
        raise _not_understood(api_path)
    return _Secret(data, version)


def _refused(api_path: str) -> Refused:
    """A refused read, worded for when the token turns out to be valid."""
    return Refused(f"permission denied: the token's policy grants no read on {api_path}")


def _not_understood(api_path: str) -> VaultFailure:
    return VaultFailure("invalid-response", f"Vault's answer for {api_path} is not understood")
