"""The `password: {vault: {...}}` reference, as manifests write it and the store keeps it.

Pure data, in the model layer: manifests, plans, the store and the delivery side all
handle references, and none of them should pay for (or depend on) Vault's HTTP stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class VaultReference:
    """A pointer to one key of one KV secret.

    `path` is the logical path as `vault kv get` takes it (mount included, no `data/`).
    `mount`, when set, names the mount inside `path` and skips mount detection.
    `version` pins a KV v2 version.
    """

    path: str
    key: str
    version: int | None = None
    mount: str | None = None

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> VaultReference:
        """Build from the normalized manifest form `{"vault": {...}}`."""
        vault = spec["vault"]
        return cls(
            path=vault["path"],
            key=vault["key"],
            version=vault.get("version"),
            mount=vault.get("mount"),
        )

    def to_spec(self) -> dict[str, Any]:
        """The normalized manifest form; optional fields only when set."""
        vault: dict[str, Any] = {"path": self.path, "key": self.key}
        if self.mount is not None:
            vault["mount"] = self.mount
        if self.version is not None:
            vault["version"] = self.version
        return {"vault": vault}

    def display(self) -> str:
        """How plans and errors show the reference: `vault secret/smtp/a#password@v4`."""
        pinned = f"@v{self.version}" if self.version is not None else ""
        return f"vault {self.path}#{self.key}{pinned}"
