"""Which mount a KV path lives on and which KV version it runs: asked once per mount.

Vault answers `GET sys/internal/ui/mounts/<path>` with the mount that holds `<path>` (the
same preflight `vault kv get` makes), so nested mounts such as `kv/team-a/` need no
guessing. Vault refuses to create a mount inside another one, so a path belongs to the
one cached mount it starts with, if any. A reference that names its mount is looked up by
that mount instead, still once per mount: the KV version is needed, and the answer shows
whether the name really is a mount.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.vault.errors import Refused, VaultFailure

if TYPE_CHECKING:
    import hvac


@dataclass(frozen=True)
class Mount:
    """A KV mount: `path` as Vault names it, with a trailing slash (`kv/team-a/`)."""

    path: str
    kv_version: int

    @property
    def name(self) -> str:
        """The mount as hvac's `mount_point` takes it: `kv/team-a`."""
        return self.path.rstrip("/")


class MountTable:
    """The mounts found so far; thread-safe, and each mount is looked up at most once."""

    def __init__(self) -> None:
        # One lock for all look-ups: they are few (one per mount), and two threads asking
        # about paths on the same, not yet known mount must not both ask Vault.
        self._lock = threading.Lock()
        self._mounts: dict[str, Mount] = {}

    def find(self, client: hvac.Client, path: str, mount: str | None = None) -> Mount:
        """The KV mount of `path`, or of `mount` when the reference names it.

        Raises VaultFailure; transport errors are left to the caller.
        """
        probe = f"{mount.strip('/')}/" if mount else path
        with self._lock:
            found = next((m for m in self._mounts.values() if probe.startswith(m.path)), None)
            if found is None:
                found = _look_up(client, probe)
                self._mounts[found.path] = found
        if mount and found.path != probe:
            raise VaultFailure(
                "bad-path", f"{probe} is not a mount; the mount there is {found.path}"
            )
        if not path.startswith(found.path):
            raise VaultFailure(
                "bad-path", f"the path names no secret inside the mount {found.path}"
            )
        return found


def _look_up(client: hvac.Client, probe: str) -> Mount:
    from hvac import exceptions, utils

    try:
        response = client.adapter.get(
            utils.format_url("/v1/sys/internal/ui/mounts/{path}", path=probe)
        )
    except (exceptions.Forbidden, exceptions.Unauthorized):
        # Vault answers 403 both for a path on no mount and for a mount the token's
        # policies grant nothing under, so that mounts cannot be probed.
        raise Refused(
            f"permission denied looking up the mount of {probe}: there is no such mount, "
            "or the token's policy grants nothing on it"
        ) from None
    try:
        data = response["data"]
        path, engine = data["path"], data["type"]
        version = int((data.get("options") or {}).get("version") or 1)
    except (KeyError, TypeError, ValueError):
        raise VaultFailure(
            "invalid-response", f"Vault's answer about the mount of {probe} is not understood"
        ) from None
    if engine != "kv":
        raise VaultFailure("bad-path", f"{path} is a {engine} mount, not a KV secrets engine")
    if version not in (1, 2):
        raise VaultFailure("invalid-response", f"{path} reports unknown KV version {version}")
    return Mount(path=path, kv_version=version)
